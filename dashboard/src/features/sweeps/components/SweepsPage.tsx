import { useQueryClient } from '@tanstack/react-query'
import { useMemo, useState } from 'react'
import { useNavigate, useSearchParams } from 'react-router'
import { ApiError, apiGet, errorMessage } from '@/api/client'
import { getJob, jobFinished } from '@/api/queries/jobs'
import type { Job } from '@/api/types'
import { Card } from '@/components/ui/Card'
import { Empty, ErrorState, Loading, QueryState } from '@/components/ui/States'
import { Button } from '@/components/ui/Toggle'
import { fmtDate, fmtInt, fmtNum, fmtPct } from '@/lib/format'
import { createSweepSession, runSession, useSweep, useSweeps } from '../api/sweeps'
import { median, rowSessionId, rowsOf, type SweepRow } from '../lib/rows'
import { GainHistogram, GainVsMu } from './GainCharts'

const th = 'px-2 py-1 text-left font-medium text-zinc-400'
const td = 'px-2 py-1 align-middle'

async function waitJob(id: string): Promise<Job> {
  for (;;) {
    const j = await getJob(id)
    if (jobFinished(j)) return j
    await new Promise((r) => setTimeout(r, 400))
  }
}

/**
 * Sweeps: every sweep the API serves; for one, gain against μ, its distribution per env mode,
 * and the table of sessions. "Open as session" replays a row as a real session (same base,
 * μ, mode, noise, seed and plasticity) and opens it in the Nano views. A session steps with
 * torch.optim.Muon, a sweep with the batched Muon: the replay's figures are close to the
 * row's, not bit-identical (the page says so).
 */
export function SweepsPage() {
  const list = useSweeps()
  const [params, setParams] = useSearchParams()
  const picked = params.get('sweep')
  const sweepId = picked ?? list.data?.items[0]?.sweep_id ?? null
  const detail = useSweep(sweepId)
  const rows = useMemo(() => rowsOf(detail.data), [detail.data])
  const [row, setRow] = useState<number | null>(null)
  const [opening, setOpening] = useState<{ row: number; step: string } | null>(null)
  const [openError, setOpenError] = useState<string | null>(null)
  const navigate = useNavigate()
  const qc = useQueryClient()
  const cfg = (detail.data?.config ?? {}) as Record<string, unknown>

  async function open(r: SweepRow, i: number) {
    if (!sweepId) return
    const sid = rowSessionId(sweepId, r)
    setOpenError(null)
    try {
      // (the listing, not a probe of the id: a 404 would read as an error in the console)
      const listed = await apiGet<{ items: { session_id: string }[] }>('/sessions', { limit: 1000, sort: 'session_id' })
      const exists = listed.items.some((x) => x.session_id === sid)
      if (!exists) {
        setOpening({ row: i, step: 'creating the session' })
        const job = await createSweepSession({
          session_id: sid,
          base_id: cfg.base_id,
          mu: r.mu,
          env_mode: r.env_mode,
          seed: r.seed,
          env_overrides: { obs_noise_std: r.noise_std },
          plasticity_overrides: cfg.plasticity_cfg,
        }).catch((e: unknown) => {
          if (e instanceof ApiError && e.status === 409) return null // made meanwhile
          throw e
        })
        if (job === null) {
          navigate({ pathname: '/nano/overview', search: `?session=${encodeURIComponent(sid)}` })
          return
        }
        const created = await waitJob(job.job_id)
        if (created.status !== 'completed') throw new Error(`creating ${sid}: ${created.error ?? created.status}`)
        setOpening({ row: i, step: `running ${fmtInt(Number(cfg.steps))} steps` })
        const ran = await waitJob((await runSession(sid, Number(cfg.steps))).job_id)
        if (ran.status !== 'completed') throw new Error(`running ${sid}: ${ran.error ?? ran.status}`)
        void qc.invalidateQueries({ queryKey: ['sessions'] })
      }
      navigate({ pathname: '/nano/overview', search: `?session=${encodeURIComponent(sid)}` })
    } catch (e) {
      setOpenError(errorMessage(e))
    } finally {
      setOpening(null)
    }
  }

  const modes = [...new Set(rows.map((r) => r.env_mode))]
  return (
    <main id="main" className="mx-auto max-w-[1400px] space-y-3 px-4 py-4" data-testid="sweeps-page">
      <h1 className="sr-only">Sweeps</h1>
      <Card id="sweeps-list" title="Sweeps" subtitle="many Nano sessions over a μ grid, run together (ttt nano sweep)">
        <QueryState query={list} what="sweeps" isEmpty={(d) => d.items.length === 0} empty={<>No sweeps yet: run <code className="font-mono">ttt nano sweep</code>.</>}>
          {(d) => (
            <table className="w-full text-xs" aria-label="Sweeps" data-testid="sweeps-table">
              <thead>
                <tr className="border-b border-zinc-800">
                  <th className={th}>sweep</th><th className={th}>created</th><th className={th}>status</th>
                  <th className={`${th} text-right`}>sessions</th><th className={`${th} text-right`}>steps</th><th className={th}>env modes</th><th className={th}>base</th>
                </tr>
              </thead>
              <tbody>
                {d.items.map((s) => (
                  <tr key={s.sweep_id} data-sweep={s.sweep_id} aria-selected={s.sweep_id === sweepId} className={`border-b border-zinc-900 ${s.sweep_id === sweepId ? 'bg-cyan-500/5' : ''}`}>
                    <td className={`${td} font-mono`}>
                      <button type="button" className="text-cyan-300 hover:underline" onClick={() => { setParams({ sweep: s.sweep_id }); setRow(null) }}>{s.sweep_id}</button>
                    </td>
                    <td className={`${td} text-zinc-400`}>{fmtDate(s.created_at)}</td>
                    <td className={td}>{s.status}</td>
                    <td className={`${td} text-right font-mono`}>{fmtInt(s.n_sessions)}</td>
                    <td className={`${td} text-right font-mono`}>{fmtInt(s.steps)}</td>
                    <td className={td}>{(s.env_modes ?? []).join(', ')}</td>
                    <td className={`${td} font-mono text-zinc-400`}>{String(s.config?.base_id ?? '—')}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </QueryState>
      </Card>
      {sweepId && (
        <>
          {detail.error && !detail.data ? (
            <ErrorState error={detail.error} what={`sweep ${sweepId}`} />
          ) : !detail.data ? (
            <Loading what={`sweep ${sweepId}`} />
          ) : rows.length === 0 ? (
            <Empty>Sweep {sweepId} has no results (yet).</Empty>
          ) : (
            <>
              <div className="grid grid-cols-1 gap-3 xl:grid-cols-2">
                <Card id="sweep-gain" title="Gain vs μ" subtitle={`${sweepId} · ${fmtInt(rows.length)} sessions · click a dot for its row`}>
                  <GainVsMu rows={rows} selected={row} onPick={setRow} />
                </Card>
                <Card id="sweep-dist" title="Distribution of the gain" subtitle="per env mode">
                  <GainHistogram rows={rows} />
                  <ul className="mt-2 space-y-0.5 text-xs text-zinc-300" data-testid="sweep-medians">
                    {modes.map((m) => {
                      const g = rows.filter((r) => r.env_mode === m)
                      return (
                        <li key={m} data-mode={m} data-median={median(g.map((r) => r.gain)) ?? ''}>
                          {m}: median gain {fmtPct(median(g.map((r) => r.gain)), 1, true)}, win rate {fmtPct(g.filter((r) => r.gain > 0).length / g.length)}, worst {fmtPct(Math.min(...g.map((r) => r.gain)), 1, true)} ({fmtInt(g.length)} sessions)
                        </li>
                      )
                    })}
                  </ul>
                </Card>
              </div>
              <Card id="sweep-rows" title="Sessions" subtitle="one row per session · “Open as session” replays its settings as a real session (unbatched optimiser: close to the row’s figures, not bit-identical) and opens it">
                {openError && <p role="alert" className="mb-2 text-xs text-red-300">{openError}</p>}
                <div className="max-h-[520px] overflow-auto" tabIndex={0} role="region" aria-label="Sweep sessions (scrolls)">
                  <table className="w-full text-xs" aria-label="Sweep sessions" data-testid="sweep-rows" data-count={rows.length}>
                    <thead className="sticky top-0 bg-zinc-950">
                      <tr className="border-b border-zinc-800">
                        <th className={th}>#</th><th className={th}>mode</th><th className={`${th} text-right`}>μ</th><th className={`${th} text-right`}>seed</th>
                        <th className={`${th} text-right`}>baseline MSE</th><th className={`${th} text-right`}>adaptive MSE</th><th className={`${th} text-right`}>gain</th>
                        <th className={`${th} text-right`}>committed</th><th className={th}><span className="sr-only">open</span></th>
                      </tr>
                    </thead>
                    <tbody>
                      {rows.map((r, i) => (
                        <tr key={i} data-row={i} data-gain={r.gain} data-session={rowSessionId(sweepId, r)} className={`border-b border-zinc-900 ${row === i ? 'bg-amber-400/10' : ''}`} onClick={() => setRow(i)}>
                          <td className={`${td} font-mono text-zinc-500`}>{r.session_index}</td>
                          <td className={td}>{r.env_mode}</td>
                          <td className={`${td} text-right font-mono`}>{fmtNum(r.mu, 4)}</td>
                          <td className={`${td} text-right font-mono text-zinc-400`}>{r.seed}</td>
                          <td className={`${td} text-right font-mono`}>{fmtNum(r.baseline_last100)}</td>
                          <td className={`${td} text-right font-mono`}>{fmtNum(r.adaptive_last100)}</td>
                          <td className={`${td} text-right font-mono ${r.gain >= 0 ? 'text-emerald-300' : 'text-red-300'}`}>{fmtPct(r.gain, 1, true)}</td>
                          <td className={`${td} text-right font-mono`}>{r.commits}/{r.attempts}</td>
                          <td className={td}>
                            <Button ariaLabel={`Open as session: row ${i}`} disabled={opening !== null} onClick={() => void open(r, i)}>
                              {opening?.row === i ? `${opening.step}…` : 'Open as session'}
                            </Button>
                          </td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              </Card>
            </>
          )}
        </>
      )}
    </main>
  )
}
