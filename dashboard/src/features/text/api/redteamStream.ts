import { useQueryClient } from '@tanstack/react-query'
import { useEffect, useState } from 'react'
import { useEventSource } from '@/api/sse'
import { mergeByKey } from '../lib/merge'
import { redteamKeys } from './redteam'
import type {
  RedTeamAttempt,
  RedTeamAttempts,
  RedTeamDetail,
  RedTeamIteration,
  RedTeamIterations,
  RedTeamStreamStatus,
  RedTeamSummary,
} from './types'

/**
 * Follows a running red-team run over SSE (`/redteam/{id}/stream`): attempts, iterations and
 * summaries are merged into the run's queries (by query / iteration number); closed once the
 * run has ended. Returns whether it is connected, and whether the run has been seen (a run
 * whose job was just started is not on disk yet: its detail is fetched once it has been seen).
 */
export function useRedTeamStream(id: string | null, running: boolean): { live: boolean; seen: boolean } {
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
  const path = id && openFor === id && closedFor !== id ? `/redteam/${encodeURIComponent(id)}/stream?wait_s=60` : null
  useEventSource(
    path,
    {
      attempts: (d) => {
        const incoming = (d as { attempts?: RedTeamAttempt[] }).attempts ?? []
        if (!id || !incoming.length) return
        qc.setQueryData<RedTeamAttempts>(redteamKeys.attempts(id), (old) => {
          const items = mergeByKey(old?.items ?? [], incoming, (a) => a.query)
          const successes = items.filter((a) => a.success).length
          return { items, total: items.length, n_attempts: items.length, successes }
        })
      },
      iterations: (d) => {
        const incoming = (d as { iterations?: RedTeamIteration[] }).iterations ?? []
        if (!id || !incoming.length) return
        qc.setQueryData<RedTeamIterations>(redteamKeys.iterations(id), (old) => {
          const items = mergeByKey(old?.items ?? [], incoming, (it) => it.iteration)
          return { items, total: items.length }
        })
      },
      summary: (d) => {
        if (!id) return
        qc.setQueryData<RedTeamDetail>(redteamKeys.detail(id), (old) => (old ? { ...old, summary: d as RedTeamSummary } : old))
      },
      status: (d) => {
        const s = d as RedTeamStreamStatus
        if (id && seenFor !== id) {
          setSeenFor(id)
          void qc.invalidateQueries({ queryKey: redteamKeys.detail(id) })
          void qc.invalidateQueries({ queryKey: redteamKeys.list })
        }
        if (s.status !== 'running' && id) {
          setClosedFor(id)
          for (const key of [redteamKeys.list, redteamKeys.detail(id), redteamKeys.attempts(id), redteamKeys.iterations(id)])
            void qc.invalidateQueries({ queryKey: key })
        }
      },
      missing: () => {
        if (!id) return
        setClosedFor(id)
        setSeenFor(id) // the detail query now says plainly that the run does not exist
        void qc.invalidateQueries({ queryKey: redteamKeys.detail(id) })
      },
    },
    setConnected,
  )
  return { live: connected && !!path, seen: seenFor === id }
}
