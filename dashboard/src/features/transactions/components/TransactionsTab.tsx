import { useMemo } from 'react'
import { useEvents } from '@/api/queries/events'
import { useLowerBoundT } from '@/api/queries/eventSearch'
import { Card } from '@/components/ui/Card'
import { Empty, ErrorState, Loading } from '@/components/ui/States'
import { fmtInt } from '@/lib/format'
import { runDomain, runReadable, type NanoTabProps } from '@/types/nano'
import { useEventsWindow, WINDOW_MAX } from '../hooks/useEventsWindow'
import { useRollbackTimes } from '../hooks/useRollbackTimes'
import { Breakdown } from './Breakdown'
import { EventTable } from './EventTable'
import { RollbacksOverTime } from './RollbacksOverTime'
import { ThresholdCharts } from './ThresholdCharts'

export function TransactionsTab({ sessionId, runId, run, view, patch }: NanoTabProps) {
  const readable = runReadable(run)
  const counts = useEvents({ session: sessionId, run: runId ?? undefined, limit: 1 }, readable)
  const rb = useRollbackTimes(sessionId, runId ?? '', readable)
  const filtered = useMemo(
    () => (rb.data && view.status.length ? rb.data.marks.filter((m) => view.status.includes(m.status)) : rb.data?.marks),
    [rb.data, view.status],
  )
  const win = useEventsWindow(sessionId, runId ?? '', view.from, view.to, readable)
  const windowEvents = useMemo(() => {
    const ev = win.data?.items ?? []
    return view.status.length ? ev.filter((e) => view.status.includes(e.status)) : ev
  }, [win.data, view.status])
  const domain = runDomain(run)
  const sort = view.sort ?? 't'
  const focusT = view.event ?? null
  const canLocate = focusT !== null && sort === 't' && view.status.length === 0
  const located = useLowerBoundT(sessionId, runId, canLocate && readable ? focusT : null)
  // the table lists the zoom window only: positions count from the window's first event
  const windowStart = useLowerBoundT(sessionId, runId, canLocate && readable ? view.from : null)
  const offset = view.from === null ? 0 : (windowStart.data?.index ?? null)
  const focusIndex = canLocate && located.data && offset !== null ? located.data.index - offset : null

  if (!runId || !run) return <Empty>Pick a run to see its update transactions.</Empty>
  if (!readable) return <Empty>This run is still going: its update events are written when it ends. The Overview follows it live.</Empty>
  return (
    <div className="space-y-3" data-testid="transactions">
      <div className="grid grid-cols-1 gap-3 xl:grid-cols-[420px_minmax(0,1fr)]">
        <Card id="breakdown" title="Outcomes" subtitle="all attempts of this run">
          {counts.error ? <ErrorState error={counts.error} what="event counts" /> : <Breakdown counts={counts.data?.counts} />}
        </Card>
        <Card id="rb-time" title="When do rollbacks happen?" subtitle={domain ? `t ${fmtInt(view.from ?? domain[0])}–${fmtInt(view.to ?? domain[1])}` : undefined}>
          {rb.error ? (
            <ErrorState error={rb.error} what="rollback times" />
          ) : !filtered || !domain ? (
            <Loading what="update times" />
          ) : (
            <>
              <RollbacksOverTime marks={filtered} domain={view.from !== null && view.to !== null ? [view.from, view.to] : domain} />
              {rb.data?.truncated && <p className="text-[11px] text-amber-300">Showing the first {fmtInt(rb.data.marks.length)} of {fmtInt(rb.data.total)} rollbacks.</p>}
            </>
          )}
        </Card>
      </div>
      <Card
        id="thresholds"
        title="Safety checks against their thresholds"
        subtitle={
          win.data
            ? `${fmtInt(windowEvents.length)} attempts${win.data.truncated ? ` (first ${fmtInt(WINDOW_MAX)} of ${fmtInt(win.data.inWindow)} in the window: zoom in to see all)` : ''} · dashed red = limit · drag to zoom`
            : undefined
        }
      >
        {win.error ? (
          <ErrorState error={win.error} what="events" />
        ) : counts.data && counts.data.total === 0 ? (
          <Empty>No update attempts in this run.</Empty>
        ) : !win.data ? (
          <Loading what="events" />
        ) : (
          <ThresholdCharts events={windowEvents} view={view} patch={patch} onPickEvent={(t) => patch({ event: t, t })} />
        )}
      </Card>
      <Card
        id="events"
        title="Update transactions"
        subtitle={`${view.from !== null || view.to !== null ? `t ${fmtInt(view.from ?? domain?.[0] ?? 0)}–${fmtInt(view.to ?? domain?.[1] ?? 0)} (the zoom window) · ` : ''}click a row for the full event · headers sort · status filter in the bar above`}
      >
        <EventTable
          sessionId={sessionId}
          runId={runId}
          from={view.from}
          to={view.to}
          status={view.status}
          sort={sort}
          onSort={(s) => patch({ sort: s === 't' ? null : s })}
          focusT={focusT}
          focusIndex={focusIndex}
        />
      </Card>
    </div>
  )
}
