import { useQuery } from '@tanstack/react-query'
import { apiGet } from '@/api/client'
import type { Architecture } from '@/api/types'

export const getArchitecture = (session: string, signal?: AbortSignal) =>
  apiGet<Architecture>(`/sessions/${encodeURIComponent(session)}/architecture`, undefined, signal)

export function useArchitecture(session: string) {
  return useQuery({ queryKey: ['architecture', session], queryFn: ({ signal }) => getArchitecture(session, signal), staleTime: 300_000 })
}
