import { useQueryClient } from '@tanstack/react-query'
import { useEffect, useRef, useState } from 'react'
import { useEventSource } from '@/api/sse'
import type { TextModelStatus, TrainLogRow, TrainStreamStatus } from '@/api/types'

export interface TrainStreamState {
  rows: TrainLogRow[]
  status: TextModelStatus | 'waiting' | 'missing'
  steps: number | null
  error: string | null
  connected: boolean
}

const EMPTY: TrainStreamState = { rows: [], status: 'waiting', steps: null, error: null, connected: false }

/**
 * A model's train_log over SSE (`/text_models/{id}/stream`): every row so far, then new rows
 * while it trains. The server sends a `status` first, then `rows`, and a final `status`
 * once the model is no longer training, then ends the stream; the stream is closed here
 * only on that final status (closing stops EventSource from reconnecting and replaying).
 * Closing on the *first* status of a finished model dropped the rows that follow it
 * ("no logged steps" on some loads). Every update is keyed by model id, so rows of a
 * previous model never land in the next one's state.
 */
export function useTrainStream(modelId: string | null): TrainStreamState {
  const qc = useQueryClient()
  const [st, setSt] = useState<TrainStreamState & { id: string | null; closed: boolean }>({ ...EMPTY, id: modelId, closed: false })
  useEffect(() => setSt((s) => (s.id === modelId ? s : { ...EMPTY, id: modelId, closed: false })), [modelId])
  const cur = st.id === modelId ? st : { ...EMPTY, id: modelId, closed: false }
  const path = modelId && !cur.closed ? `/text_models/${encodeURIComponent(modelId)}/stream?wait_s=60` : null
  const statuses = useRef(0) // status events seen on the current connection
  const forThis = (s: TrainStreamState & { id: string | null; closed: boolean }) => (s.id === modelId ? s : { ...EMPTY, id: modelId, closed: false })
  useEventSource(
    path,
    {
      rows: (d) => {
        const incoming = (d as { rows?: TrainLogRow[] }).rows ?? []
        setSt((prev) => {
          const s = forThis(prev)
          const last = s.rows.length ? s.rows[s.rows.length - 1].step : -1
          const fresh = incoming.filter((r) => r.step > last) // a reconnect replays from the start
          return fresh.length ? { ...s, rows: [...s.rows, ...fresh] } : s
        })
      },
      status: (d) => {
        const m = d as TrainStreamStatus
        statuses.current += 1
        const closed = m.status !== 'training' && statuses.current > 1
        setSt((prev) => ({ ...forThis(prev), status: m.status, steps: m.steps ?? prev.steps, error: m.error ?? null, closed }))
        if (closed) void qc.invalidateQueries({ queryKey: ['text_models'] })
      },
      missing: () => setSt((s) => ({ ...s, status: 'missing', closed: true, error: 'the model did not appear (did its job fail?)' })),
    },
    (open) => {
      if (open) statuses.current = 0
      setSt((s) => (s.connected === open ? s : { ...s, connected: open }))
    },
  )
  return cur
}
