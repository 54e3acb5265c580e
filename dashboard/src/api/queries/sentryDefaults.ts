import { useQuery } from '@tanstack/react-query'
import { apiGet } from '../client'
import type { SentryDefaults } from '../types'

/** Server-side defaults of every SentryConfig field and gate threshold (the forms' defaults). */
export function useSentryDefaults() {
  return useQuery({
    queryKey: ['sentry_defaults'],
    queryFn: ({ signal }) => apiGet<SentryDefaults>('/text_runs/_defaults', undefined, signal),
    staleTime: Infinity,
  })
}
