import { useQuery } from '@tanstack/react-query'
import { apiGet } from '../client'
import type { Base, Page } from '../types'

export const getBases = (signal?: AbortSignal) => apiGet<Page<Base>>('/bases', undefined, signal)
export const getBase = (id: string, signal?: AbortSignal) =>
  apiGet<Base>(`/bases/${encodeURIComponent(id)}`, undefined, signal)

export function useBases() {
  return useQuery({ queryKey: ['bases'], queryFn: ({ signal }) => getBases(signal) })
}

export function useBase(id: string | null | undefined) {
  return useQuery({
    queryKey: ['base', id],
    queryFn: ({ signal }) => getBase(id as string, signal),
    enabled: !!id,
  })
}
