import { useQuery } from '@tanstack/react-query'
import { apiGet } from '../client'
import type { SessionDetail } from '../types'

export const getSession = (id: string, signal?: AbortSignal) =>
  apiGet<SessionDetail>(`/sessions/${encodeURIComponent(id)}`, undefined, signal)

export function useSession(id: string | null, opts: { poll?: number | false } = {}) {
  return useQuery({
    queryKey: ['session', id],
    queryFn: ({ signal }) => getSession(id as string, signal),
    enabled: !!id,
    refetchInterval: opts.poll ?? false,
  })
}
