import { useQuery } from '@tanstack/react-query'
import { apiGet } from '../client'
import type { WeightRef } from '../types'

export const getWeightsList = (session: string, signal?: AbortSignal) =>
  apiGet<{ items: WeightRef[] }>(`/sessions/${encodeURIComponent(session)}/weights`, undefined, signal)

/** The session's weight history: k = 0 is the start, then one entry per committed update. */
export function useWeightsList(session: string | null) {
  return useQuery({
    queryKey: ['weights', session],
    queryFn: ({ signal }) => getWeightsList(session as string, signal),
    enabled: !!session,
  })
}
