import { useQuery, useQueryClient } from '@tanstack/react-query'
import { apiGet, apiPost } from '../client'
import { useEventSource } from '../sse'
import type { Job, JobList } from '../types'

export const getJob = (id: string, signal?: AbortSignal) =>
  apiGet<Job>(`/jobs/${encodeURIComponent(id)}`, undefined, signal)
export const cancelJob = (id: string) => apiPost<Job>(`/jobs/${encodeURIComponent(id)}/cancel`, {})

const FINAL = new Set(['completed', 'failed', 'cancelled', 'interrupted'])
export const jobFinished = (j: Job | undefined) => !!j && FINAL.has(j.status)

/**
 * A job, followed over SSE (`/jobs/{id}/stream`: `progress`, then `done` with the final
 * job) until it finishes; a slow poll covers a dropped stream.
 */
export function useJob(id: string | null) {
  const qc = useQueryClient()
  const q = useQuery({
    queryKey: ['job', id],
    queryFn: ({ signal }) => getJob(id as string, signal),
    enabled: !!id,
    refetchInterval: (qq) => (jobFinished(qq.state.data) ? false : 3000),
  })
  const open = !!id && !!q.data && !jobFinished(q.data)
  useEventSource(open ? `/jobs/${encodeURIComponent(id as string)}/stream` : null, {
    progress: (d) => {
      const p = d as { status?: Job['status']; done?: number; total?: number }
      qc.setQueryData<Job>(['job', id], (old) =>
        old ? { ...old, status: p.status ?? old.status, progress: { done: p.done ?? 0, total: p.total ?? 0 } } : old,
      )
    },
    done: (d) => qc.setQueryData<Job>(['job', id], d as Job),
  })
  return q
}

export const ACTIVE_JOB = new Set(['queued', 'running'])

/**
 * Every job the server knows (newest first), refreshed every 2 s while one is queued or
 * running and every 15 s otherwise: views that started nothing themselves (a reload, another
 * tab) still find the work in progress.
 */
export function useJobs(limit = 200) {
  return useQuery({
    queryKey: ['jobs', limit],
    queryFn: ({ signal }) => apiGet<JobList>('/jobs', { limit }, signal),
    refetchInterval: (q) => (q.state.data?.items.some((j) => ACTIVE_JOB.has(j.status)) ? 2000 : 15_000),
  })
}

/** The newest queued or running job of a kind, if any. */
export function useActiveJob(kind: string): Job | null {
  const q = useJobs()
  return q.data?.items.find((j) => j.kind === kind && ACTIVE_JOB.has(j.status)) ?? null
}
