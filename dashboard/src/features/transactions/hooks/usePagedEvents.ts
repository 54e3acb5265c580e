import { useQueries } from '@tanstack/react-query'
import { useMemo } from 'react'
import { eventsKey, getEvents } from '@/api/queries/events'
import type { EventsPage, UpdateEvent } from '@/api/types'

export const PAGE = 200

/**
 * Server-paginated events for a virtualised list: only the pages covering the visible rows
 * (plus the first page, which carries `total` and `counts`) are fetched; pages are cached.
 */
export function usePagedEvents(
  q: { session: string; run: string; status: string[]; sort: string; start: number | null; end: number | null },
  firstRow: number,
  lastRow: number,
) {
  const p0 = Math.max(0, Math.floor(firstRow / PAGE))
  const p1 = Math.max(p0, Math.floor(lastRow / PAGE))
  const pages = useMemo(() => {
    const s = new Set<number>([0])
    for (let p = p0; p <= p1; p++) s.add(p)
    return [...s].sort((a, b) => a - b)
  }, [p0, p1])
  const results = useQueries({
    queries: pages.map((p) => {
      const qq = { ...q, offset: p * PAGE, limit: PAGE }
      return {
        queryKey: eventsKey(qq),
        queryFn: ({ signal }: { signal: AbortSignal }) => getEvents(qq, signal),
        staleTime: 60_000,
      }
    }),
  })
  const byPage = new Map<number, EventsPage>()
  results.forEach((r, i) => r.data && byPage.set(pages[i], r.data))
  const first = byPage.get(0)
  const rowAt = (i: number): UpdateEvent | undefined => byPage.get(Math.floor(i / PAGE))?.items[i % PAGE]
  return {
    total: first?.total,
    counts: first?.counts,
    rowAt,
    error: results.find((r) => r.error)?.error ?? null,
    loading: results.some((r) => r.isPending),
  }
}
