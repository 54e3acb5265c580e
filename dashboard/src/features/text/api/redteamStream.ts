import { useQueryClient } from '@tanstack/react-query'
import { mergeByKey } from '../lib/merge'
import { redteamKeys } from './redteam'
import { useRunFollow, type RunFollowState } from './runFollow'
import type { RedTeamAttempt, RedTeamAttempts, RedTeamDetail, RedTeamIteration, RedTeamIterations, RedTeamSummary } from './types'

const KEYS = { list: redteamKeys.list, detail: redteamKeys.detail, records: (id: string) => [redteamKeys.attempts(id), redteamKeys.iterations(id)] }

/**
 * Follows a running red-team run over SSE (`/redteam/{id}/stream`, see `useRunFollow`):
 * attempts, iterations and summaries are merged into the run's queries (by query / iteration
 * number).
 */
export function useRedTeamStream(id: string | null, state: RunFollowState): { live: boolean } {
  const qc = useQueryClient()
  return useRunFollow({
    ...state,
    id,
    path: (id) => `/redteam/${encodeURIComponent(id)}/stream?wait_s=60`,
    keys: KEYS,
    handlers: {
      attempts: (d, id) => {
        const incoming = (d as { attempts?: RedTeamAttempt[] }).attempts ?? []
        if (!incoming.length) return
        qc.setQueryData<RedTeamAttempts>(redteamKeys.attempts(id), (old) => {
          const items = mergeByKey(old?.items ?? [], incoming, (a) => a.query)
          const successes = items.filter((a) => a.success).length
          return { items, total: items.length, n_attempts: items.length, successes }
        })
      },
      iterations: (d, id) => {
        const incoming = (d as { iterations?: RedTeamIteration[] }).iterations ?? []
        if (!incoming.length) return
        qc.setQueryData<RedTeamIterations>(redteamKeys.iterations(id), (old) => {
          const items = mergeByKey(old?.items ?? [], incoming, (it) => it.iteration)
          return { items, total: items.length }
        })
      },
      summary: (d, id) => {
        qc.setQueryData<RedTeamDetail>(redteamKeys.detail(id), (old) => (old ? { ...old, summary: d as RedTeamSummary } : old))
      },
    },
  })
}
