import { useQuery } from '@tanstack/react-query'
import { getEvents } from '@/api/queries/events'
import type { UpdateMark } from '@/api/types'
import { STATUS_ORDER } from '@/lib/status'

const LIMIT = 5000 // the server's page limit
const PAGES = 4

/**
 * t and status of every rollback/block of a run (commits excluded: they are the common case
 * and would cost 30,000 rows). At most PAGES × LIMIT; `truncated` says when more exist.
 */
export function useRollbackTimes(session: string, run: string, enabled = true) {
  const rollbacks = STATUS_ORDER.filter((s) => s !== 'commit')
  return useQuery({
    queryKey: ['events', session, run, 'rollbackTimes'],
    queryFn: async ({ signal }) => {
      const marks: UpdateMark[] = []
      let total = 0
      for (let p = 0; p < PAGES; p++) {
        const page = await getEvents({ session, run, status: [...rollbacks], offset: p * LIMIT, limit: LIMIT, sort: 't' }, signal)
        total = page.total
        for (const e of page.items) marks.push({ t: e.t, status: e.status })
        if ((p + 1) * LIMIT >= total) break
      }
      return { marks, total, truncated: marks.length < total }
    },
    enabled: enabled && !!run,
    staleTime: 60_000,
  })
}
