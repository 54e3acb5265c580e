import { useQuery } from '@tanstack/react-query'
import type { UpdateEvent } from '../types'
import { getEvents } from './events'

const PAGE = 100

/**
 * Position of the first event with t >= target in a run's t-sorted event list, found with
 * interpolation search over the paginated events endpoint (update attempts are close to
 * evenly spaced in t, so this takes 2–4 small requests even for 30,000 events).
 */
export async function lowerBoundT(session: string, run: string, target: number, signal?: AbortSignal): Promise<{ index: number; total: number }> {
  const get = (offset: number, limit: number) => getEvents({ session, run, offset, limit, sort: 't' }, signal)
  const first = await get(0, 1)
  const total = first.total
  if (total === 0 || first.items[0].t >= target) return { index: 0, total }
  const last = await get(total - 1, 1)
  if (last.items[0].t < target) return { index: total, total }
  // invariant: t[lo] < target <= t[hi]
  let lo = 0
  let hi = total - 1
  let tlo = first.items[0].t
  let thi = last.items[0].t
  for (let iter = 0; iter < 40; iter++) {
    if (hi - lo <= 1) return { index: hi, total }
    let start: number
    if (hi - lo - 1 <= PAGE) start = lo + 1
    else {
      const guess = lo + Math.round(((target - tlo) / Math.max(1e-9, thi - tlo)) * (hi - lo))
      start = Math.min(hi - PAGE, Math.max(lo + 1, guess - PAGE / 2))
    }
    const end = Math.min(hi, start + PAGE) // exclusive
    const page = (await get(start, end - start)).items
    if (!page.length) return { index: hi, total }
    if (page[0].t >= target) {
      hi = start
      thi = page[0].t
      continue
    }
    const lastT = page[page.length - 1].t
    if (lastT < target) {
      lo = start + page.length - 1
      tlo = lastT
      continue
    }
    const k = page.findIndex((e) => e.t >= target)
    return { index: start + k, total }
  }
  return { index: hi, total }
}

export interface EventAt {
  event: UpdateEvent | null
  /** position in the t-sorted list (of the event, or where it would be) */
  index: number
  total: number
}

export async function findEventAt(session: string, run: string, t: number, signal?: AbortSignal): Promise<EventAt> {
  const { index, total } = await lowerBoundT(session, run, t, signal)
  if (index >= total) return { event: null, index, total }
  const page = await getEvents({ session, run, offset: index, limit: 1, sort: 't' }, signal)
  const ev = page.items[0]
  return { event: ev && ev.t === t ? ev : null, index, total }
}

export function useEventAt(session: string | null, run: string | null, t: number | null) {
  return useQuery({
    queryKey: ['events', session, run, 'at', t],
    queryFn: ({ signal }) => findEventAt(session as string, run as string, t as number, signal),
    enabled: !!session && !!run && t !== null,
    staleTime: Infinity,
  })
}

/** Index of the first event with t >= target (for windows and scrolling), cached. */
export function useLowerBoundT(session: string | null, run: string | null, t: number | null) {
  return useQuery({
    queryKey: ['events', session, run, 'lowerBound', t],
    queryFn: ({ signal }) => lowerBoundT(session as string, run as string, t as number, signal),
    enabled: !!session && !!run && t !== null,
    staleTime: Infinity,
  })
}
