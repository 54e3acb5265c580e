import { keepPreviousData, useQuery } from '@tanstack/react-query'
import { apiGet } from '@/api/client'
import type { Spectrum } from '@/api/types'

export const getSpectrum = (session: string, k: number, signal?: AbortSignal) =>
  apiGet<Spectrum>(`/sessions/${encodeURIComponent(session)}/weights/${k}/spectrum`, undefined, signal)

export function useSpectrum(session: string, k: number | null) {
  return useQuery({
    queryKey: ['weights', session, 'spectrum', k],
    queryFn: ({ signal }) => getSpectrum(session, k as number, signal),
    enabled: k !== null,
    placeholderData: keepPreviousData,
    staleTime: Infinity,
  })
}
