import { keepPreviousData, useQuery } from '@tanstack/react-query'
import { apiGet } from '../client'
import type { EventsPage } from '../types'

export interface EventsQuery {
  session: string
  run: string
  status?: string[]
  offset?: number
  limit?: number
  sort?: string | null
  /** t window [start, end) */
  start?: number | null
  end?: number | null
}

export const getEvents = (q: EventsQuery, signal?: AbortSignal) =>
  apiGet<EventsPage>(
    `/sessions/${encodeURIComponent(q.session)}/runs/${encodeURIComponent(q.run)}/events`,
    { status: q.status, offset: q.offset, limit: q.limit, sort: q.sort ?? undefined, start: q.start ?? undefined, end: q.end ?? undefined },
    signal,
  )

export const eventsKey = (q: Partial<EventsQuery>) =>
  ['events', q.session, q.run, (q.status ?? []).join(','), q.sort ?? 't', q.offset ?? 0, q.limit ?? 0, q.start ?? null, q.end ?? null] as const

/** One page of a run's update events (filtered, sorted, paginated on the server). */
export function useEvents(q: Partial<EventsQuery>, enabled = true) {
  return useQuery({
    queryKey: eventsKey(q),
    queryFn: ({ signal }) => getEvents(q as EventsQuery, signal),
    enabled: enabled && !!q.session && !!q.run,
    placeholderData: keepPreviousData,
    staleTime: 60_000,
  })
}
