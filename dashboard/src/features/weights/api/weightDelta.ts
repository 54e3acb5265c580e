import { keepPreviousData, useQuery } from '@tanstack/react-query'
import { apiGet } from '@/api/client'
import type { WeightDelta } from '@/api/types'

export const getWeightDelta = (session: string, fromK: number, toK: number, signal?: AbortSignal) =>
  apiGet<WeightDelta>(`/sessions/${encodeURIComponent(session)}/weights/delta`, { from_k: fromK, to_k: toK }, signal)

/** W(to_k) − W(from_k) for each plastic matrix. */
export function useWeightDelta(session: string, fromK: number | null, toK: number | null) {
  return useQuery({
    queryKey: ['weights', session, 'delta', fromK, toK],
    queryFn: ({ signal }) => getWeightDelta(session, fromK as number, toK as number, signal),
    enabled: fromK !== null && toK !== null,
    placeholderData: keepPreviousData,
    staleTime: Infinity,
  })
}
