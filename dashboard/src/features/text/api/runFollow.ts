import { useQueryClient, type QueryKey } from '@tanstack/react-query'
import { useEffect, useState } from 'react'
import { useEventSource, type SseHandlers } from '@/api/sse'
import type { RedTeamStreamStatus, TextRunStreamStatus } from './types'

export interface RunFollowKeys {
  list: QueryKey
  detail: (id: string) => QueryKey
  /** the run's record queries (events, attempts, …), refetched once it has ended */
  records: (id: string) => QueryKey[]
}

/** What the caller knows of the run: whether it is running, and whether the stream has seen
 * it yet (`onSeen` says so; the caller keeps that latch, its view is keyed by run id: a run
 * whose job was just started is not on disk yet, and its detail is fetched once seen). */
export interface RunFollowState {
  running: boolean
  seen: boolean
  onSeen: () => void
}

/**
 * Follows a running job's run over SSE (`path(id)`): the stream's named events go to
 * `handlers` (which merge them into the run's queries), its `status` and `missing` events are
 * handled here. The stream is closed once the run has ended (the server ends it then; closing
 * here stops EventSource from reconnecting), and the run's queries are refetched. Returns
 * whether it is connected.
 */
export function useRunFollow({
  id,
  running,
  seen,
  onSeen,
  path,
  handlers,
  keys,
}: RunFollowState & {
  id: string | null
  path: (id: string) => string
  handlers: Record<string, (data: unknown, id: string) => void>
  keys: RunFollowKeys
}): { live: boolean } {
  const qc = useQueryClient()
  const [closedFor, setClosedFor] = useState<string | null>(null)
  const [connected, setConnected] = useState(false)
  useEffect(() => setClosedFor(null), [id])
  // Once open for a run, the stream stays open until it reports the end itself (a detail
  // fetched meanwhile may already say "completed"; the stream still has the last records).
  const [openFor, setOpenFor] = useState<string | null>(null)
  useEffect(() => {
    if (id && running) setOpenFor(id)
  }, [id, running])
  const url = id && openFor === id && closedFor !== id ? path(id) : null
  const all: SseHandlers = {
    status: (d) => {
      if (!id) return
      if (!seen) {
        onSeen()
        void qc.invalidateQueries({ queryKey: keys.detail(id) })
        void qc.invalidateQueries({ queryKey: keys.list })
      }
      if ((d as TextRunStreamStatus | RedTeamStreamStatus).status !== 'running') {
        setClosedFor(id)
        for (const key of [keys.list, keys.detail(id), ...keys.records(id)]) void qc.invalidateQueries({ queryKey: key })
      }
    },
    missing: () => {
      if (!id) return
      setClosedFor(id)
      onSeen() // the detail query now says plainly that the run does not exist
      void qc.invalidateQueries({ queryKey: keys.detail(id) })
    },
  }
  for (const [name, fn] of Object.entries(handlers))
    all[name] = (d) => {
      if (id) fn(d, id)
    }
  useEventSource(url, all, setConnected)
  return { live: connected && !!url }
}
