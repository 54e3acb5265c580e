import { useQuery } from '@tanstack/react-query'
import { apiGet, apiPost } from '@/api/client'
import type { Job, SweepDetail, SweepSummary } from '@/api/types'

export const useSweeps = () =>
  useQuery({
    queryKey: ['sweeps'],
    queryFn: ({ signal }) => apiGet<{ items: SweepSummary[]; total: number; errors: { id: string; detail: string }[] }>('/sweeps', undefined, signal),
  })

export const useSweep = (id: string | null) =>
  useQuery({
    queryKey: ['sweep', id],
    queryFn: ({ signal }) => apiGet<SweepDetail>(`/sweeps/${encodeURIComponent(id as string)}`, undefined, signal),
    enabled: !!id,
  })

/** A session that replays sweep row i (same base, μ, env mode, noise, seed and plasticity),
 * created as a job; it steps with the unbatched optimiser, so its figures are close to the
 * row's rather than bit-identical. */
export const createSweepSession = (body: Record<string, unknown>) => apiPost<Job>('/sessions', body)
export const runSession = (id: string, steps: number) => apiPost<Job>(`/sessions/${encodeURIComponent(id)}/run`, { steps })
