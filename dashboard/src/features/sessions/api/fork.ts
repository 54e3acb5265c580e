import { useMutation } from '@tanstack/react-query'
import { apiPost } from '@/api/client'
import type { Job } from '@/api/types'

export interface ForkBody {
  from_update: number | null
  with_momentum: boolean
  new_session_id?: string
}

export const forkSession = (session: string, body: ForkBody) =>
  apiPost<Job>(`/sessions/${encodeURIComponent(session)}/fork`, body)

/** POST /sessions/{id}/fork: branch from the latest state or committed update k (a job). */
export function useFork(session: string) {
  return useMutation({ mutationFn: (b: ForkBody) => forkSession(session, b) })
}
