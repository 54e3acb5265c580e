import { useQueryClient } from '@tanstack/react-query'
import { useEffect, useState } from 'react'
import { useEventSource } from '@/api/sse'
import { mergeByKey } from '../lib/merge'
import { textRunKeys } from './textRuns'
import type { SentryEvent, TextRunDetail, TextRunStreamStatus, TextRunSummary } from './types'

/**
 * Follows a running Sentry run over SSE (`/text_runs/{id}/stream`): new events are merged
 * into the run's events query (by chunk, so the stream's replay from the first chunk adds
 * nothing twice), summaries into its detail query. The stream is closed once the run has
 * ended (the server ends it then; closing here stops EventSource from reconnecting).
 * Returns whether it is connected, and whether the run has been seen (a run whose job was
 * just started is not on disk yet: its detail is fetched once the stream has seen it).
 */
export function useRunStream(id: string | null, running: boolean): { live: boolean; seen: boolean } {
  const qc = useQueryClient()
  const [closedFor, setClosedFor] = useState<string | null>(null)
  const [connected, setConnected] = useState(false)
  const [seenFor, setSeenFor] = useState<string | null>(null)
  useEffect(() => setClosedFor(null), [id])
  // Once open for a run, the stream stays open until it reports the end itself (a detail
  // fetched meanwhile may already say "completed"; the stream still has the last records).
  const [openFor, setOpenFor] = useState<string | null>(null)
  useEffect(() => {
    if (id && running) setOpenFor(id)
  }, [id, running])
  const path = id && openFor === id && closedFor !== id ? `/text_runs/${encodeURIComponent(id)}/stream?wait_s=60` : null
  useEventSource(
    path,
    {
      events: (d) => {
        const incoming = (d as { events?: SentryEvent[] }).events ?? []
        if (!id || !incoming.length) return
        qc.setQueryData<SentryEvent[]>(textRunKeys.events(id), (old) => mergeByKey(old ?? [], incoming, (e) => e.chunk))
      },
      summary: (d) => {
        if (!id) return
        qc.setQueryData<TextRunDetail>(textRunKeys.detail(id), (old) => (old ? { ...old, summary: d as TextRunSummary } : old))
      },
      status: (d) => {
        const s = d as TextRunStreamStatus
        if (id && seenFor !== id) {
          setSeenFor(id)
          void qc.invalidateQueries({ queryKey: textRunKeys.detail(id) })
          void qc.invalidateQueries({ queryKey: textRunKeys.list })
        }
        if (s.status !== 'running' && id) {
          setClosedFor(id)
          void qc.invalidateQueries({ queryKey: textRunKeys.list })
          void qc.invalidateQueries({ queryKey: textRunKeys.detail(id) })
          void qc.invalidateQueries({ queryKey: textRunKeys.events(id) })
        }
      },
      missing: () => {
        if (!id) return
        setClosedFor(id)
        setSeenFor(id) // the detail query now says plainly that the run does not exist
        void qc.invalidateQueries({ queryKey: textRunKeys.detail(id) })
      },
    },
    setConnected,
  )
  return { live: connected && !!path, seen: seenFor === id }
}
