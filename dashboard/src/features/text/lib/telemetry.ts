/** Per-chunk telemetry columns and status markers from Sentry events (pure). */
import { isStopped } from './sentryStatus'

export interface TelemetryEvent {
  chunk: number
  status: string
  loss?: number | null
  grad_norm?: number | null
  compression_ratio?: number | null
  canary_cos?: number | null
  canary?: { delta?: number | null } | null
  gate?: { allowed: boolean } | null
}

export interface Telemetry {
  x: number[]
  loss: (number | null)[]
  gradNorm: (number | null)[]
  canaryDelta: (number | null)[]
  compression: (number | null)[]
  canaryCos: (number | null)[]
  /** markers for every chunk whose write did not simply commit (gate, rollback, throttle) */
  markers: { t: number; status: string }[]
  blocked: number[]
  rolledBack: number[]
}

const n = (v: number | null | undefined) => (typeof v === 'number' && Number.isFinite(v) ? v : null)

export function telemetry(events: TelemetryEvent[]): Telemetry {
  const out: Telemetry = { x: [], loss: [], gradNorm: [], canaryDelta: [], compression: [], canaryCos: [], markers: [], blocked: [], rolledBack: [] }
  for (const e of events) {
    out.x.push(e.chunk)
    out.loss.push(n(e.loss))
    out.gradNorm.push(n(e.grad_norm))
    out.canaryDelta.push(n(e.canary?.delta))
    out.compression.push(n(e.compression_ratio))
    out.canaryCos.push(n(e.canary_cos))
    if (e.status !== 'commit') out.markers.push({ t: e.chunk, status: e.status })
    if (e.status === 'blocked_gate') out.blocked.push(e.chunk)
    else if (isStopped(e.status)) out.rolledBack.push(e.chunk)
  }
  return out
}
