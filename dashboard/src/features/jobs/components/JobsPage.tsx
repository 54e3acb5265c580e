import { useEffect, useState } from 'react'
import { Link } from 'react-router'
import { errorMessage } from '@/api/client'
import { ACTIVE_JOB, cancelJob, useJobs } from '@/api/queries/jobs'
import type { Job } from '@/api/types'
import { Card } from '@/components/ui/Card'
import { QueryState } from '@/components/ui/States'
import { Button, Toggle } from '@/components/ui/Toggle'
import { fmtDate, fmtDuration, fmtInt } from '@/lib/format'
import { etaMs, jobLink, jobSubject } from '../lib/jobs'

const th = 'px-2 py-1 text-left font-medium text-zinc-400'
const td = 'px-2 py-1 align-middle'
const TONE: Record<string, string> = {
  queued: 'text-zinc-300',
  running: 'text-cyan-300',
  completed: 'text-emerald-300',
  failed: 'text-red-300',
  cancelled: 'text-zinc-500',
  interrupted: 'text-orange-300',
}

/** A clock that ticks every second while something runs (for elapsed and ETA). */
function useNow(active: boolean): number {
  const [now, setNow] = useState(() => Date.now())
  useEffect(() => {
    if (!active) return
    const t = setInterval(() => setNow(Date.now()), 1000)
    return () => clearInterval(t)
  }, [active])
  return now
}

function Progress({ j }: { j: Job }) {
  const p = j.progress ?? { done: 0, total: 0 }
  const pct = p.total ? (100 * p.done) / p.total : j.status === 'completed' ? 100 : 0
  return (
    <div className="flex items-center gap-2">
      <div className="h-1.5 w-28 overflow-hidden rounded bg-zinc-800" role="progressbar" aria-label={`progress of ${j.job_id}`} aria-valuemin={0} aria-valuemax={p.total || 100} aria-valuenow={p.total ? p.done : Math.round(pct)}>
        <div className={`h-full ${j.status === 'failed' ? 'bg-red-500' : j.status === 'completed' ? 'bg-emerald-400' : 'bg-cyan-400'}`} style={{ width: `${pct}%` }} />
      </div>
      <span className="tabular font-mono text-zinc-300">{p.total ? `${fmtInt(p.done)} / ${fmtInt(p.total)}` : '—'}</span>
    </div>
  )
}

/**
 * Jobs: every job the server knows, running and recent, newest first — progress, elapsed,
 * ETA (from the average rate since it started), cancel, a link to what it works on. The list
 * comes from the server (refreshed every 2 s while one runs), so it survives reloads.
 */
export function JobsPage() {
  const jobs = useJobs(500)
  const [activeOnly, setActiveOnly] = useState(false)
  const [cancelError, setCancelError] = useState<string | null>(null)
  const anyActive = !!jobs.data?.items.some((j) => ACTIVE_JOB.has(j.status))
  const now = useNow(anyActive)
  return (
    <main id="main" className="mx-auto max-w-[1400px] space-y-3 px-4 py-4" data-testid="jobs-page">
      <h1 className="sr-only">Jobs</h1>
      <Card
        id="jobs"
        title="Jobs"
        subtitle="long work in worker processes: pretraining, runs, forks, sweeps, training, Sentry runs, red team, sleep"
        actions={
          <Toggle pressed={activeOnly} onChange={setActiveOnly}>
            running and queued only
          </Toggle>
        }
      >
        {cancelError && <p role="alert" className="mb-2 text-xs text-red-300">{cancelError}</p>}
        <QueryState query={jobs} what="jobs" isEmpty={(d) => d.items.length === 0} empty="No jobs yet: runs, training and sweeps started from the dashboard or the API appear here.">
          {(d) => {
            const items = activeOnly ? d.items.filter((j) => ACTIVE_JOB.has(j.status)) : d.items
            return (
              <div className="overflow-x-auto">
                <table className="w-full text-xs" aria-label="Jobs" data-testid="jobs-table" data-count={items.length} data-total={d.total}>
                  <thead>
                    <tr className="border-b border-zinc-800">
                      <th className={th}>job</th><th className={th}>kind</th><th className={th}>on</th><th className={th}>status</th>
                      <th className={th}>progress</th><th className={`${th} text-right`}>elapsed</th><th className={`${th} text-right`}>ETA</th>
                      <th className={th}>created</th><th className={th}><span className="sr-only">actions</span></th>
                    </tr>
                  </thead>
                  <tbody>
                    {items.map((j) => {
                      const start = j.started_at ? Date.parse(j.started_at) : null
                      const end = j.finished_at ? Date.parse(j.finished_at) : now
                      const eta = etaMs(j, now)
                      const link = jobLink(j)
                      const active = ACTIVE_JOB.has(j.status)
                      return (
                        <tr key={j.job_id} data-job={j.job_id} data-kind={j.kind} data-status={j.status} data-done={j.progress?.done ?? 0} data-total={j.progress?.total ?? 0} data-eta={eta ?? ''} className="border-b border-zinc-900 align-top">
                          <td className={`${td} font-mono text-zinc-300`}>{j.job_id}</td>
                          <td className={td}>{j.kind}</td>
                          <td className={`${td} max-w-80 font-mono text-zinc-300 [overflow-wrap:anywhere]`}>
                            {link ? <Link className="text-cyan-300 hover:underline" to={link}>{jobSubject(j) || 'open'}</Link> : jobSubject(j) || '—'}
                          </td>
                          <td className={`${td} ${TONE[j.status] ?? ''}`}>
                            {j.status}
                            {j.cancel_requested && active ? ' (cancel requested)' : ''}
                            {j.error && <div className="max-w-96 text-[11px] text-red-300 [overflow-wrap:anywhere]">{j.error}</div>}
                          </td>
                          <td className={td}><Progress j={j} /></td>
                          <td className={`${td} tabular text-right font-mono`}>{start ? fmtDuration(end - start) : '—'}</td>
                          <td className={`${td} tabular text-right font-mono`} title="elapsed / steps done × steps left">{eta !== null ? fmtDuration(eta) : '—'}</td>
                          <td className={`${td} text-zinc-400`}>{fmtDate(j.created_at)}</td>
                          <td className={td}>
                            {active && (
                              <Button
                                variant="danger"
                                ariaLabel={`Cancel job ${j.job_id}`}
                                disabled={j.cancel_requested}
                                onClick={() => {
                                  setCancelError(null)
                                  cancelJob(j.job_id).then(() => jobs.refetch(), (e) => setCancelError(errorMessage(e)))
                                }}
                              >
                                Cancel
                              </Button>
                            )}
                          </td>
                        </tr>
                      )
                    })}
                  </tbody>
                </table>
              </div>
            )
          }}
        </QueryState>
      </Card>
    </main>
  )
}
