import { useMutation } from '@tanstack/react-query'
import { apiPost } from '@/api/client'
import type { Job } from '@/api/types'

export interface ForkBody {
  from_update: number | null
  with_momentum: boolean
  new_session_id?: string
  /** per-fork config changes, e.g. {env: {mu: 0.2}} (recorded in the fork's meta.json) */
  overrides?: { env?: Record<string, unknown>; plasticity?: Record<string, unknown> }
}

export const forkSession = (session: string, body: ForkBody) =>
  apiPost<Job>(`/sessions/${encodeURIComponent(session)}/fork`, body)

/** POST /sessions/{id}/fork: branch from the latest state or committed update k (a job). */
export function useFork(session: string) {
  return useMutation({ mutationFn: (b: ForkBody) => forkSession(session, b) })
}
