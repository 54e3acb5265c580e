import { useQuery } from '@tanstack/react-query'
import { apiGet } from '@/api/client'
import type { Lineage } from '@/api/types'

export const getLineage = (signal?: AbortSignal) => apiGet<Lineage>('/lineage', undefined, signal)

export function useLineage() {
  return useQuery({ queryKey: ['lineage'], queryFn: ({ signal }) => getLineage(signal) })
}
