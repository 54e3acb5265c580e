import type { RunInfo, SessionDetail } from '@/api/types'
import type { ViewState } from '@/lib/urlState'

/** What every Nano tab receives from the layout: the selected session/run and the view state. */
export interface NanoTabProps {
  sessionId: string
  runId: string | null
  detail: SessionDetail
  run: RunInfo | undefined
  view: ViewState
  patch: (p: Partial<ViewState>, opts?: { push?: boolean }) => void
}

/** Stored files (per_step.csv, update_events.json, trajectory.json) exist once a run ends. */
export function runReadable(run: RunInfo | undefined): boolean {
  return !!run && run.status !== 'running'
}

/** The run's time domain [start, end) in steps. */
export function runDomain(run: RunInfo | undefined): [number, number] | null {
  if (!run) return null
  const start = run.t_start ?? 0
  const end = run.t_end ?? start + (run.steps ?? 0)
  return end > start ? [start, end] : null
}
