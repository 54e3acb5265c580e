import { useState } from 'react'
import { useSearchParams } from 'react-router'
import { Card } from '@/components/ui/Card'
import { ErrorState, Loading } from '@/components/ui/States'
import { useRunStream } from '../api/runStream'
import { useRunEvents, useTextRun } from '../api/textRuns'
import { EventLog } from './EventLog'
import { RunDetailState } from './RunDetailState'
import { RunSummaryCards } from './RunSummaryCards'
import { RunStatusBadge } from './StatusBadge'
import { TelemetryCharts } from './TelemetryCharts'
import { TextView } from './TextView'

/** One Sentry run: figures, telemetry, event log and text; followed live while it runs. */
export function RunSection({
  runId,
  pending,
  filter,
  onFilter,
}: {
  runId: string
  pending: boolean
  filter: string[]
  onFilter: (f: string[]) => void
}) {
  const [seen, setSeen] = useState(false) // keyed by run id (TextPage): the stream has seen this run
  // ?chunk=K (a link from the anomaly review): that chunk's event-log row, highlighted
  const [params] = useSearchParams()
  const rawChunk = params.get('chunk')
  const focusChunk = rawChunk !== null && /^\d{1,9}$/.test(rawChunk) ? Number(rawChunk) : null
  const detail = useTextRun(runId, pending && !seen)
  const running = detail.data ? detail.data.summary.status === 'running' : pending
  const { live } = useRunStream(runId, { running, seen, onSeen: () => setSeen(true) })
  const events = useRunEvents(detail.data ? runId : null)
  if (!detail.data || detail.error)
    return <RunDetailState error={detail.error} runId={runId} pending={pending} name="Sentry run" what="run" pendingWhat="the run (its job is loading the model)" hint=" Pick another one above." />
  const d = detail.data
  const evs = events.data ?? []
  const cfg = d.request.config ?? {}
  return (
    <>
      <Card
        id="text-run"
        title="Run"
        subtitle={<span className="font-mono">{runId}</span>}
        actions={
          <span className="flex items-center gap-2 text-[11px] text-zinc-400">
            {live && <span role="status">● live</span>}
            <RunStatusBadge status={d.summary.status} />
          </span>
        }
      >
        <RunSummaryCards detail={d} />
      </Card>
      <Card id="text-telemetry" title="Per-chunk telemetry" subtitle="markers: ⬟ blocked by gate · ✕ canary rollback · ■ grad-norm rollback · ◇ throttled" testId="text-telemetry">
        {events.error && !events.data ? (
          <ErrorState error={events.error} what="events" />
        ) : !events.data ? (
          <Loading what="events" />
        ) : evs.length === 0 ? (
          <p role="status" className="py-6 text-center text-sm text-zinc-400">{d.summary.status === 'running' ? 'Waiting for the first chunk…' : 'This run has no events.'}</p>
        ) : (
          <TelemetryCharts runId={runId} events={evs} canaryMaxDelta={typeof cfg.canary_max_delta === 'number' && (d.request.safety === 'rollback' || d.request.safety === 'all') ? cfg.canary_max_delta : null} />
        )}
      </Card>
      <Card id="text-events" title="Event log" subtitle="why each chunk's write committed, was blocked or was rolled back">
        {events.data ? <EventLog events={evs} filter={filter} onFilter={onFilter} safety={d.request.safety} focus={focusChunk} /> : <Loading what="events" />}
      </Card>
      <Card id="text-input" title="Input text" subtitle="per-token influence on the write; blocked and rolled-back chunks are outlined">
        <TextView keepText={!!d.request.keep_text} events={evs} nChars={d.request.n_chars} />
      </Card>
    </>
  )
}
