import { keepPreviousData, useQuery } from '@tanstack/react-query'
import { getEvents } from '@/api/queries/events'
import { lowerBoundT } from '@/api/queries/eventSearch'

export const WINDOW_MAX = 2000

/**
 * Full events with t in [from, to), sorted by t, at most WINDOW_MAX of them: the window's
 * position in the event list is found by search, then one page is fetched.
 */
export function useEventsWindow(session: string, run: string, from: number | null, to: number | null, enabled = true) {
  return useQuery({
    queryKey: ['events', session, run, 'window', from, to],
    queryFn: async ({ signal }) => {
      const a = from === null ? { index: 0, total: -1 } : await lowerBoundT(session, run, from, signal)
      const b = to === null ? null : await lowerBoundT(session, run, to, signal)
      const first = await getEvents({ session, run, offset: a.index, limit: WINDOW_MAX, sort: 't' }, signal)
      const end = b ? b.index : first.total
      const inWindow = Math.max(0, end - a.index)
      return { items: first.items.slice(0, inWindow), inWindow, truncated: inWindow > WINDOW_MAX }
    },
    enabled: enabled && !!run,
    placeholderData: keepPreviousData,
    staleTime: 60_000,
  })
}
