import { cancelJob, jobFinished, useJob } from '@/api/queries/jobs'
import { Button } from '@/components/ui/Toggle'
import { fmtInt } from '@/lib/format'

/** Progress of the job that writes a run: bar, done/total (chunks or queries), cancel. */
export function JobLine({ jobId, unit, testId }: { jobId: string; unit: string; testId: string }) {
  const q = useJob(jobId)
  const j = q.data
  if (!j) return <p role="status" className="text-xs text-zinc-400">job {jobId} queued…</p>
  const done = jobFinished(j)
  const p = j.progress ?? { done: 0, total: 0 }
  const pct = p.total ? (100 * p.done) / p.total : done ? 100 : 0
  const tone = j.status === 'completed' ? 'bg-emerald-400' : j.status === 'failed' ? 'bg-red-500' : j.status === 'cancelled' ? 'bg-zinc-500' : j.status === 'interrupted' ? 'bg-orange-400' : 'bg-cyan-400'
  return (
    <div role="status" aria-live="polite" data-testid={testId} data-status={j.status} data-done={p.done} data-total={p.total} className="flex flex-wrap items-center gap-3 text-xs">
      <div
        className="h-2 w-48 overflow-hidden rounded bg-zinc-800"
        role="progressbar"
        aria-label={`${unit} done`}
        aria-valuemin={0}
        aria-valuemax={p.total || 100}
        aria-valuenow={p.total ? p.done : Math.round(pct)}
      >
        <div className={`h-full ${tone} transition-[width] duration-300`} style={{ width: `${pct}%` }} />
      </div>
      <span className="font-mono text-zinc-200">
        {fmtInt(p.done)} / {p.total ? fmtInt(p.total) : '…'} {unit}
      </span>
      <span className="text-zinc-400">
        job {j.status}
        {j.cancel_requested && !done ? ' (cancel requested)' : ''}
      </span>
      {!done && (
        <Button variant="danger" ariaLabel={`Cancel job ${jobId}`} onClick={() => void cancelJob(jobId).then(() => q.refetch())}>
          Cancel
        </Button>
      )}
      {j.error && <span role="alert" className="text-red-300">{j.error}</span>}
    </div>
  )
}
