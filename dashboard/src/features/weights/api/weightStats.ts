import { keepPreviousData, useQuery } from '@tanstack/react-query'
import { apiGet } from '@/api/client'
import type { WeightStats } from '@/api/types'

export const getWeightStats = (session: string, points: number | undefined, signal?: AbortSignal) =>
  apiGet<WeightStats>(`/sessions/${encodeURIComponent(session)}/weights/stats`, { points }, signal)

/** Frobenius norm, max |w|, mean, std per matrix at each committed update (≈ `points` kept). */
export function useWeightStats(session: string, points: number | undefined) {
  return useQuery({
    queryKey: ['weights', session, 'stats', points ?? null],
    queryFn: ({ signal }) => getWeightStats(session, points, signal),
    placeholderData: keepPreviousData,
  })
}
