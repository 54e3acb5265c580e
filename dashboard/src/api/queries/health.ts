import { useQuery } from '@tanstack/react-query'
import { apiGet } from '../client'
import type { Health } from '../types'

export const getHealth = (signal?: AbortSignal) => apiGet<Health>('/health', undefined, signal)

export function useHealth() {
  return useQuery({
    queryKey: ['health'],
    queryFn: ({ signal }) => getHealth(signal),
    refetchInterval: 15_000,
    retry: false,
    staleTime: 10_000,
  })
}
