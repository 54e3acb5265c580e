import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { apiGet, apiPost } from '@/api/client'
import { flaggedKey } from '@/api/queries/flaggedPrompts'
import type { AnomalyQueue, Finding, ReviewState, ScanRequest } from '@/api/types'

export const anomaliesKey = ['anomalies'] as const

/** The last scan's findings (all of them: filtering happens on the page), with review states. */
export function useAnomalies() {
  return useQuery({
    queryKey: anomaliesKey,
    queryFn: ({ signal }) => apiGet<AnomalyQueue>('/anomalies', { limit: 10_000 }, signal),
  })
}

/** POST /anomalies/scan: score every update log now. */
export function useScan() {
  const qc = useQueryClient()
  return useMutation({
    mutationFn: (body: Partial<ScanRequest>) => apiPost<AnomalyQueue>('/anomalies/scan', body),
    onSuccess: (q) => qc.setQueryData(anomaliesKey, q),
  })
}

/** POST /anomalies/{id}/review: reviewed, dismissed, flagged (a red-team seed) or open. */
export function useReview() {
  const qc = useQueryClient()
  return useMutation({
    mutationFn: ({ id, state, note }: { id: string; state: ReviewState; note?: string }) =>
      apiPost<Finding>(`/anomalies/${encodeURIComponent(id)}/review`, { state, note: note || null }),
    onSuccess: (f, { state }) => {
      qc.setQueryData<AnomalyQueue>(anomaliesKey, (old) => {
        if (!old) return old
        const prev = old.items.find((x) => x.id === f.id)?.review.state
        const states = { ...old.states }
        if (prev) states[prev] = Math.max(0, (states[prev] ?? 0) - 1)
        states[state] = (states[state] ?? 0) + 1
        return { ...old, states, items: old.items.map((x) => (x.id === f.id ? f : x)) }
      })
      if (state === 'flagged') void qc.invalidateQueries({ queryKey: flaggedKey })
    },
  })
}
