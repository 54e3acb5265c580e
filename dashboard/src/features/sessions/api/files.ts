import { useQuery } from '@tanstack/react-query'
import { apiGet } from '@/api/client'
import type { FileEntry } from '@/api/types'

export const getFiles = (session: string, signal?: AbortSignal) =>
  apiGet<{ items: FileEntry[]; total_bytes?: number }>(`/sessions/${encodeURIComponent(session)}/files`, undefined, signal)

export function useFiles(session: string | null) {
  return useQuery({ queryKey: ['files', session], queryFn: ({ signal }) => getFiles(session as string, signal), enabled: !!session })
}
