import { keepPreviousData, useQuery } from '@tanstack/react-query'
import { apiGet, apiUrl } from '../client'
import type { PerStep } from '../types'

export interface PerStepQuery {
  session: string
  run: string
  start?: number | null
  end?: number | null
  points: number
  emaAlpha?: number
}

export const getPerStep = (q: PerStepQuery, signal?: AbortSignal) =>
  apiGet<PerStep>(
    `/sessions/${encodeURIComponent(q.session)}/runs/${encodeURIComponent(q.run)}/per_step`,
    { start: q.start, end: q.end, points: Math.max(16, Math.round(q.points)), ema_alpha: q.emaAlpha },
    signal,
  )

export const perStepCsvUrl = (session: string, run: string) =>
  apiUrl(`/sessions/${encodeURIComponent(session)}/runs/${encodeURIComponent(run)}/per_step.csv`)

/** A window of a run's per-step series, downsampled on the server to about `points` buckets. */
export function usePerStep(q: Partial<PerStepQuery> & { points: number }, enabled = true) {
  return useQuery({
    queryKey: ['perStep', q.session, q.run, q.start ?? null, q.end ?? null, q.points, q.emaAlpha ?? null],
    queryFn: ({ signal }) => getPerStep(q as PerStepQuery, signal),
    enabled: enabled && !!q.session && !!q.run && q.points > 0,
    placeholderData: keepPreviousData,
    staleTime: 60_000,
  })
}
