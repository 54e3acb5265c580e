import { useQueryClient } from '@tanstack/react-query'
import { useEffect, useState } from 'react'
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
 * while it trains. The stream is closed once the model is no longer training (the server
 * ends it then; closing here stops EventSource from reconnecting and replaying).
 */
export function useTrainStream(modelId: string | null): TrainStreamState {
  const qc = useQueryClient()
  const [st, setSt] = useState<TrainStreamState & { id: string | null; closed: boolean }>({ ...EMPTY, id: modelId, closed: false })
  useEffect(() => setSt({ ...EMPTY, id: modelId, closed: false }), [modelId])
  const cur = st.id === modelId ? st : { ...EMPTY, id: modelId, closed: false }
  const path = modelId && !cur.closed ? `/text_models/${encodeURIComponent(modelId)}/stream?wait_s=60` : null
  useEventSource(
    path,
    {
      rows: (d) => {
        const incoming = (d as { rows?: TrainLogRow[] }).rows ?? []
        setSt((s) => {
          const last = s.rows.length ? s.rows[s.rows.length - 1].step : -1
          const fresh = incoming.filter((r) => r.step > last) // a reconnect replays from the start
          return fresh.length ? { ...s, rows: [...s.rows, ...fresh] } : s
        })
      },
      status: (d) => {
        const m = d as TrainStreamStatus
        const closed = m.status !== 'training'
        setSt((s) => ({ ...s, status: m.status, steps: m.steps ?? s.steps, error: m.error ?? null, closed }))
        if (closed) void qc.invalidateQueries({ queryKey: ['text_models'] })
      },
      missing: () => setSt((s) => ({ ...s, status: 'missing', closed: true, error: 'the model did not appear (did its job fail?)' })),
    },
    (open) => setSt((s) => (s.connected === open ? s : { ...s, connected: open })),
  )
  return cur
}
