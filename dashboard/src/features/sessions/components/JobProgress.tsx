import { useEffect } from 'react'
import { cancelJob, jobFinished, useJob } from '@/api/queries/jobs'
import type { Job } from '@/api/types'
import { Button } from '@/components/ui/Toggle'
import { fmtInt } from '@/lib/format'

/** Progress of a job until it finishes; calls onDone once with the final job. */
export function JobProgress({ jobId, onDone }: { jobId: string; onDone?: (j: Job) => void }) {
  const q = useJob(jobId)
  const j = q.data
  const done = jobFinished(j)
  useEffect(() => {
    if (done && j) onDone?.(j)
  }, [done]) // eslint-disable-line react-hooks/exhaustive-deps
  if (!j) return <span className="text-xs text-zinc-400">job {jobId} queued…</span>
  const p = j.progress
  const pct = p && p.total ? Math.round((100 * p.done) / p.total) : done ? 100 : null
  const tone = j.status === 'completed' ? 'bg-emerald-400' : j.status === 'failed' ? 'bg-red-500' : j.status === 'cancelled' ? 'bg-zinc-500' : j.status === 'interrupted' ? 'bg-orange-400' : 'bg-cyan-400'
  return (
    <div role="status" className="flex flex-wrap items-center gap-2 text-xs" data-testid="job-progress" data-status={j.status} data-job={j.job_id}>
      <div className="h-1.5 w-32 overflow-hidden rounded bg-zinc-800" aria-hidden="true">
        <div className={`h-full ${tone} transition-[width] duration-300 ${pct === null ? 'w-1/3 animate-pulse' : ''}`} style={pct === null ? undefined : { width: `${pct}%` }} />
      </div>
      <span className="text-zinc-300">
        {j.kind} · {j.status}
        {p && p.total ? ` · ${fmtInt(p.done)}/${fmtInt(p.total)}` : ''}
      </span>
      {!done && <Button variant="danger" onClick={() => void cancelJob(jobId).then(() => q.refetch())}>Cancel</Button>}
      {j.error && <span className="text-red-300">{j.error}</span>}
    </div>
  )
}
