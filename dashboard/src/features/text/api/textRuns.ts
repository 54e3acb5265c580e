import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { apiGet, apiPost } from '@/api/client'
import type {
  SentryEvent,
  SentryRunRequest,
  TextRunDetail,
  TextRunEvents,
  TextRunList,
  TextRunSeries,
  TextRunStarted,
} from './types'

const enc = encodeURIComponent
const PAGE = 5000

export const textRunKeys = {
  list: ['text_runs'] as const,
  detail: (id: string) => ['text_run', id] as const,
  events: (id: string) => ['text_run_events', id] as const,
  series: (id: string) => ['text_run_series', id] as const,
}

/** Sentry runs, newest first; polled while one is running. */
export function useTextRuns() {
  return useQuery({
    queryKey: textRunKeys.list,
    queryFn: ({ signal }) => apiGet<TextRunList>('/text_runs', { limit: 1000 }, signal),
    refetchInterval: (q) => (q.state.data?.items.some((r) => r.status === 'running') ? 3000 : false),
  })
}

/** A run's request and summary (`wait`: not yet, its job was just started and the run is not
 * on disk; the run's stream says when it is). */
export function useTextRun(id: string | null, wait = false) {
  return useQuery({
    queryKey: textRunKeys.detail(id ?? ''),
    queryFn: ({ signal }) => apiGet<TextRunDetail>(`/text_runs/${enc(id as string)}`, undefined, signal),
    enabled: !!id && !wait,
  })
}

/** Every event of a run (paged through 5,000 at a time). */
export async function getAllEvents(id: string, signal?: AbortSignal): Promise<SentryEvent[]> {
  const out: SentryEvent[] = []
  for (;;) {
    const page = await apiGet<TextRunEvents>(`/text_runs/${enc(id)}/events`, { offset: out.length, limit: PAGE }, signal)
    out.push(...page.items)
    if (!page.items.length || out.length >= page.total) return out
  }
}

export function useRunEvents(id: string | null) {
  return useQuery({
    queryKey: textRunKeys.events(id ?? ''),
    queryFn: ({ signal }) => getAllEvents(id as string, signal),
    enabled: !!id,
  })
}

/** Per-chunk scalar columns (compare view). */
export function useRunSeries(id: string | null) {
  return useQuery({
    queryKey: textRunKeys.series(id ?? ''),
    queryFn: ({ signal }) => apiGet<TextRunSeries>(`/text_runs/${enc(id as string)}/series`, undefined, signal),
    enabled: !!id,
    refetchInterval: (q) => (q.state.data?.status === 'running' ? 2000 : false),
  })
}

export function useStartSentry() {
  const qc = useQueryClient()
  return useMutation({
    mutationFn: (body: SentryRunRequest) => apiPost<TextRunStarted>('/text_runs', body),
    onSuccess: () => void qc.invalidateQueries({ queryKey: textRunKeys.list }),
  })
}
