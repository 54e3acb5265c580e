import { useQueryClient } from '@tanstack/react-query'
import { mergeByKey } from '../lib/merge'
import { useRunFollow, type RunFollowState } from './runFollow'
import { textRunKeys } from './textRuns'
import type { SentryEvent, TextRunDetail, TextRunSummary } from './types'

const KEYS = { list: textRunKeys.list, detail: textRunKeys.detail, records: (id: string) => [textRunKeys.events(id)] }

/**
 * Follows a running Sentry run over SSE (`/text_runs/{id}/stream`, see `useRunFollow`): new
 * events are merged into the run's events query (by chunk, so the stream's replay from the
 * first chunk adds nothing twice), summaries into its detail query.
 */
export function useRunStream(id: string | null, state: RunFollowState): { live: boolean } {
  const qc = useQueryClient()
  return useRunFollow({
    ...state,
    id,
    path: (id) => `/text_runs/${encodeURIComponent(id)}/stream?wait_s=60`,
    keys: KEYS,
    handlers: {
      events: (d, id) => {
        const incoming = (d as { events?: SentryEvent[] }).events ?? []
        if (!incoming.length) return
        qc.setQueryData<SentryEvent[]>(textRunKeys.events(id), (old) => mergeByKey(old ?? [], incoming, (e) => e.chunk))
      },
      summary: (d, id) => {
        qc.setQueryData<TextRunDetail>(textRunKeys.detail(id), (old) => (old ? { ...old, summary: d as TextRunSummary } : old))
      },
    },
  })
}
