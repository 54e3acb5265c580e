import { useMutation } from '@tanstack/react-query'
import { apiPost } from '@/api/client'
import type { Job } from '@/api/types'

export interface StartRunBody {
  steps: number
}

export const startRun = (session: string, body: StartRunBody) =>
  apiPost<Job>(`/sessions/${encodeURIComponent(session)}/run`, body)

/** POST /sessions/{id}/run: starts a run as a job. */
export function useStartRun(session: string) {
  return useMutation({ mutationFn: (body: StartRunBody) => startRun(session, body) })
}
