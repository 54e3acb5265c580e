import { cancelJob, jobFinished, useJob } from '@/api/queries/jobs'
import type { TrainLogRow } from '@/api/types'
import { Button } from '@/components/ui/Toggle'
import { fmtCompact, fmtDuration, fmtInt, fmtNum } from '@/lib/format'

/** Progress of the training job: bar, step/total, tokens/s, elapsed and ETA, cancel. */
export function TrainProgress({ jobId, rows }: { jobId: string; rows: TrainLogRow[] }) {
  const q = useJob(jobId)
  const j = q.data
  if (!j) return <p role="status" className="text-xs text-zinc-400">job {jobId} queued…</p>
  const done = jobFinished(j)
  const p = j.progress ?? { done: 0, total: 0 }
  const pct = p.total ? (100 * p.done) / p.total : done ? 100 : 0
  const last = rows.length ? rows[rows.length - 1] : null
  const secPerStep = last?.seconds && last.step ? last.seconds / last.step : null
  const eta = !done && secPerStep && p.total ? secPerStep * (p.total - p.done) * 1000 : null
  const tone = j.status === 'completed' ? 'bg-emerald-400' : j.status === 'failed' ? 'bg-red-500' : j.status === 'cancelled' ? 'bg-zinc-500' : j.status === 'interrupted' ? 'bg-orange-400' : 'bg-cyan-400'
  return (
    <div role="status" aria-live="polite" data-testid="train-progress" data-status={j.status} data-done={p.done} data-total={p.total} className="flex flex-wrap items-center gap-3 text-xs">
      <div
        className="h-2 w-48 overflow-hidden rounded bg-zinc-800"
        role="progressbar"
        aria-label="training progress"
        aria-valuemin={0}
        aria-valuemax={p.total || 100}
        aria-valuenow={p.total ? p.done : Math.round(pct)}
      >
        <div className={`h-full ${tone} transition-[width] duration-300`} style={{ width: `${pct}%` }} />
      </div>
      <span className="font-mono text-zinc-200">
        {fmtInt(p.done)} / {p.total ? fmtInt(p.total) : '…'} steps
      </span>
      <span className="text-zinc-400">{j.status}{j.cancel_requested && !done ? ' (cancel requested)' : ''}</span>
      {last?.tokens_per_s != null && <span className="text-zinc-300">{fmtCompact(last.tokens_per_s)} tokens/s</span>}
      {last?.seconds != null && <span className="text-zinc-400">elapsed {fmtDuration(last.seconds * 1000)}</span>}
      {eta !== null && <span className="text-zinc-300">ETA {fmtDuration(eta)}</span>}
      {last?.train_loss != null && <span className="text-zinc-400">train loss {fmtNum(last.train_loss, 3)}</span>}
      {!done && (
        <Button variant="danger" ariaLabel="Cancel training" onClick={() => void cancelJob(jobId).then(() => q.refetch())}>
          Cancel
        </Button>
      )}
      {j.error && <span role="alert" className="text-red-300">{j.error}</span>}
    </div>
  )
}
