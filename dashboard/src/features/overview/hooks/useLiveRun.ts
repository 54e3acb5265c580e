import { useQueryClient } from '@tanstack/react-query'
import { useCallback, useEffect, useRef, useState } from 'react'
import { useEventSource } from '@/api/sse'
import type { LiveRow, UpdateEvent, UpdateMark } from '@/api/types'

export interface LiveBuffer {
  t: number[]
  baseline: number[]
  adaptive: number[]
  frozen: number[]
  oracle: number[]
  mu: number[]
  marks: UpdateMark[]
  events: UpdateEvent[]
}

const empty = (): LiveBuffer => ({ t: [], baseline: [], adaptive: [], frozen: [], oracle: [], mu: [], marks: [], events: [] })

const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : NaN)

/**
 * Follows `/sessions/{id}/live` while `enabled`: per-step rows and update events of the
 * running run accumulate in a buffer (React sees a new version at most 4× a second). When
 * the stream reports `idle`, the stored data is refetched and the buffer dropped.
 */
export function useLiveRun(sessionId: string, key: string | null) {
  const qc = useQueryClient()
  const buf = useRef<LiveBuffer>(empty())
  const [version, setVersion] = useState(0)
  const [status, setStatus] = useState<'running' | 'idle' | null>(null)
  const [connected, setConnected] = useState(false)
  const statusRef = useRef<'running' | 'idle' | null>(null)
  // The server ends the stream after the run's final status; closing for this key stops the
  // browser's automatic reconnects until a new run (key) comes along.
  const [closedKey, setClosedKey] = useState<string | null>(null)
  const enabled = key !== null && key !== closedKey
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null)
  const bump = useCallback(() => {
    if (timer.current) return
    timer.current = setTimeout(() => {
      timer.current = null
      setVersion((v) => v + 1)
    }, 250)
  }, [])

  useEffect(() => {
    buf.current = empty()
    setVersion((v) => v + 1)
    setStatus(null)
    statusRef.current = null
  }, [sessionId])
  useEffect(() => () => {
    if (timer.current) clearTimeout(timer.current)
  }, [])

  const finish = useCallback(async () => {
    await Promise.all([
      qc.invalidateQueries({ queryKey: ['session', sessionId] }),
      qc.invalidateQueries({ queryKey: ['sessions'] }),
      qc.invalidateQueries({ queryKey: ['weights', sessionId] }),
      qc.invalidateQueries({ queryKey: ['events', sessionId] }),
      qc.invalidateQueries({ queryKey: ['perStep', sessionId] }),
    ])
    buf.current = empty()
    setVersion((v) => v + 1)
  }, [qc, sessionId])

  useEventSource(
    enabled ? `/sessions/${encodeURIComponent(sessionId)}/live?wait_s=30` : null,
    {
      rows: (d) => {
        const rows = (d as { rows?: LiveRow[] })?.rows ?? []
        const b = buf.current
        for (const r of rows) {
          const t = num(r[0])
          if (b.t.length && t <= b.t[b.t.length - 1]) continue // replayed row
          b.t.push(t)
          b.baseline.push(num(r[1]))
          b.adaptive.push(num(r[2]))
          b.frozen.push(num(r[3]))
          b.oracle.push(num(r[4]))
          b.mu.push(num(r[8]))
          if (r[5]) b.marks.push({ t, status: String(r[7] || (r[6] ? 'commit' : 'rollback')) })
        }
        if (rows.length) bump()
      },
      event: (d) => {
        const ev = (d as { event?: UpdateEvent })?.event ?? (d as UpdateEvent)
        if (ev && typeof ev.t === 'number') {
          buf.current.events.push(ev)
          bump()
        }
      },
      status: (d) => {
        const raw = typeof d === 'string' ? d : (d as { status?: string })?.status
        if (!raw) return
        const s = raw === 'running' ? 'running' : 'idle'
        const prev = statusRef.current
        statusRef.current = s
        setStatus(s)
        if (s === 'idle') {
          setClosedKey(key)
          if (prev === 'running') void finish()
        }
      },
    },
    setConnected,
  )

  return { buffer: buf.current, version, status, connected }
}
