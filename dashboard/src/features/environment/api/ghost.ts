import { useMutation } from '@tanstack/react-query'
import { apiPost } from '@/api/client'
import type { Ghost } from '@/api/types'

export interface GhostBody {
  mu: number
  run_id: string
  start?: number
  end?: number
}

export const postGhost = (session: string, body: GhostBody) =>
  apiPost<Ghost>(`/sessions/${encodeURIComponent(session)}/ghost`, body)

/** The same actions simulated under another μ (computed on request by the server). */
export function useGhost(session: string) {
  return useMutation({ mutationFn: (b: GhostBody) => postGhost(session, b) })
}
