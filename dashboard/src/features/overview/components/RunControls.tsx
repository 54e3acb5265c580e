import { useQueryClient } from '@tanstack/react-query'
import { useEffect, useState } from 'react'
import { errorMessage } from '@/api/client'
import { cancelJob, jobFinished, useJob } from '@/api/queries/jobs'
import { Button } from '@/components/ui/Toggle'
import { fmtInt } from '@/lib/format'
import { useStartRun } from '../api/startRun'

/**
 * "Run N steps": starts a run job for this session; the Overview then follows the live
 * stream. Shows job progress and allows cancelling.
 */
export function RunControls({
  sessionId,
  running,
  liveConnected,
  onStarted,
}: {
  sessionId: string
  running: boolean
  liveConnected: boolean
  onStarted: (jobId: string, runId: string | null) => void
}) {
  const [steps, setSteps] = useState(2000)
  const [jobId, setJobId] = useState<string | null>(null)
  const start = useStartRun(sessionId)
  const job = useJob(jobId)
  const qc = useQueryClient()
  const done = jobFinished(job.data)

  useEffect(() => {
    if (!done || !jobId) return
    void qc.invalidateQueries({ queryKey: ['session', sessionId] })
    void qc.invalidateQueries({ queryKey: ['sessions'] })
    void qc.invalidateQueries({ queryKey: ['perStep', sessionId] })
    void qc.invalidateQueries({ queryKey: ['events', sessionId] })
    void qc.invalidateQueries({ queryKey: ['weights', sessionId] })
  }, [done, jobId, qc, sessionId])

  const busy = running || (!!jobId && !done) || start.isPending
  const prog = job.data?.progress
  const pct = prog && prog.total > 0 ? Math.round((100 * prog.done) / prog.total) : null

  return (
    <div className="flex flex-wrap items-center gap-2 text-xs" data-testid="run-controls">
      <form
        className="flex items-center gap-1.5"
        onSubmit={(e) => {
          e.preventDefault()
          start.mutate(
            { steps },
            {
              onSuccess: (r) => {
                setJobId(r.job_id)
                onStarted(r.job_id, typeof r.params?.run_id === 'string' ? r.params.run_id : null)
                void qc.invalidateQueries({ queryKey: ['session', sessionId] })
              },
            },
          )
        }}
      >
        <label className="flex items-center gap-1.5 text-zinc-400">
          Run
          <input
            type="number"
            min={1}
            max={10_000_000}
            step={1}
            value={steps}
            onChange={(e) => setSteps(Math.max(1, Math.round(Number(e.target.value) || 1)))}
            className="h-7 w-24 rounded border border-zinc-700 bg-zinc-900 px-1.5 font-mono text-zinc-100"
            data-testid="run-steps"
          />
          steps
        </label>
        <Button type="submit" variant="primary" disabled={busy}>
          {busy ? 'Running…' : 'Run'}
        </Button>
      </form>
      {jobId && job.data && (
        <div className="flex items-center gap-2" role="status" data-testid="run-job" data-status={job.data.status}>
          <div className="h-1.5 w-28 overflow-hidden rounded bg-zinc-800" aria-hidden="true">
            <div className="h-full bg-cyan-400 transition-[width] duration-300" style={{ width: `${pct ?? (done ? 100 : 5)}%` }} />
          </div>
          <span className="text-zinc-400">
            job {job.data.status}
            {prog ? ` · ${fmtInt(prog.done)}/${fmtInt(prog.total)}` : ''}
          </span>
          {!done && (
            <Button variant="danger" onClick={() => void cancelJob(jobId).then(() => job.refetch())}>
              Cancel
            </Button>
          )}
          {job.data.error && <span className="text-red-300">{job.data.error}</span>}
        </div>
      )}
      {(running || liveConnected) && (
        <span className="flex items-center gap-1.5 text-emerald-300" data-testid="live-indicator">
          <span aria-hidden="true" className="h-2 w-2 animate-pulse rounded-full bg-emerald-400" />
          live
        </span>
      )}
      {start.error && <span role="alert" className="text-red-300">{errorMessage(start.error)}</span>}
    </div>
  )
}
