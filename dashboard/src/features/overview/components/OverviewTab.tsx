import { useCallback, useMemo, useState } from 'react'
import { useEvents } from '@/api/queries/events'
import { usePerStep } from '@/api/queries/perStep'
import { runKey, usePriority } from '@/stores/priority'
import { runReadable, type NanoTabProps } from '@/types/nano'
import { useLiveRun } from '../hooks/useLiveRun'
import { EventPanel } from './EventPanel'
import { HeroMetrics } from './HeroMetrics'
import { IdentityCard } from './IdentityCard'
import { MseChart } from './MseChart'
import { RunControls } from './RunControls'

export function OverviewTab({ sessionId, runId, detail, run, view, patch }: NanoTabProps) {
  const [startedJob, setStartedJob] = useState<string | null>(null)
  const runningRun = detail.runs.find((r) => r.status === 'running')
  const running = !!runningRun
  const live = useLiveRun(sessionId, startedJob ?? runningRun?.run_id ?? null)
  // the stream follows the running run: it belongs on screen only when that run is selected
  // (or the selected run is the one just started and not on disk yet)
  const liveActive = live.buffer.t.length > 0 && (!run || runningRun?.run_id === runId)
  // Whole-run series at sparkline resolution.
  const readable = runReadable(run)
  // secondary data waits for the MSE chart's first window (see stores/priority)
  const primary = usePriority((s) => !!s.ready[runKey(sessionId, runId)])
  const spark = usePerStep({ session: sessionId, run: runId ?? undefined, points: 120 }, readable && primary)
  const counts = useEvents({ session: sessionId, run: runId ?? undefined, limit: 1 }, readable && primary)
  const tEnd = run?.t_end ?? null
  const last100 = usePerStep(
    { session: sessionId, run: runId ?? undefined, start: tEnd !== null ? Math.max(run?.t_start ?? 0, tEnd - 100) : null, end: tEnd, points: 100 },
    readable && tEnd !== null,
  )
  // One count for the hero and the timeline: the run's stored events, plus what streamed live.
  const eventCounts = readable ? counts.data?.counts : undefined
  const totals = useMemo(() => {
    const c: Record<string, number> = { ...(eventCounts ?? {}) }
    if (liveActive) for (const mk of live.buffer.marks) c[mk.status] = (c[mk.status] ?? 0) + 1
    return c
  }, [eventCounts, liveActive, live.buffer, live.version]) // eslint-disable-line react-hooks/exhaustive-deps
  const onStarted = useCallback(
    (jobId: string, newRun: string | null) => {
      setStartedJob(jobId)
      if (newRun) patch({ run: newRun, from: null, to: null, t: null, event: null })
    },
    [patch],
  )
  return (
    <div className="space-y-3" data-testid="overview">
      <div className="flex flex-wrap items-center gap-3">
        <RunControls sessionId={sessionId} running={running || live.status === 'running'} liveConnected={live.connected && live.status === 'running'} onStarted={onStarted} />
      </div>
      <HeroMetrics detail={detail} run={run} last100={last100.data} spark={spark.data} live={liveActive ? live.buffer : null} totals={totals} />
      <div className="grid grid-cols-1 gap-3 2xl:grid-cols-[minmax(0,1fr)_380px]">
        {runId ? (
          <MseChart
            sessionId={sessionId}
            runId={runId}
            run={run}
            view={view}
            patch={patch}
            live={{ buffer: live.buffer, version: live.version, active: liveActive }}
            totals={totals}
            detail={detail}
          />
        ) : (
          <div className="rounded-lg border border-dashed border-zinc-800 p-6 text-sm text-zinc-400">
            This session has no runs yet. Start one with “Run” above.
          </div>
        )}
        <IdentityCard detail={detail} />
      </div>
      {view.event !== null && runId && (
        <EventPanel
          sessionId={sessionId}
          runId={runId}
          t={view.event}
          onSelect={(t) => patch({ event: t, t })}
          onClose={() => patch({ event: null })}
        />
      )}
    </div>
  )
}
