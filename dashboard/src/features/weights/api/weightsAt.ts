import { keepPreviousData, useQuery } from '@tanstack/react-query'
import { apiGet } from '@/api/client'
import type { WeightsAt } from '@/api/types'

export const getWeightsAt = (session: string, k: number, signal?: AbortSignal) =>
  apiGet<WeightsAt>(`/sessions/${encodeURIComponent(session)}/weights/${k}`, undefined, signal)

export function useWeightsAt(session: string, k: number | null) {
  return useQuery({
    queryKey: ['weights', session, 'at', k],
    queryFn: ({ signal }) => getWeightsAt(session, k as number, signal),
    enabled: k !== null,
    placeholderData: keepPreviousData,
    staleTime: Infinity,
  })
}
