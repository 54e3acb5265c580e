import { useMemo, useState } from 'react'
import { errorMessage } from '@/api/client'
import { useFlaggedPrompts } from '@/api/queries/flaggedPrompts'
import { useUsableModels } from '@/api/queries/textModels'
import { TimeChart } from '@/components/charts/TimeChart'
import { Card } from '@/components/ui/Card'
import { ErrorState, Loading, QueryState } from '@/components/ui/States'
import { Button, Toggle } from '@/components/ui/Toggle'
import { fmtDate, fmtDuration, fmtInt, fmtNum, fmtPct } from '@/lib/format'
import { useRedTeamAttempts, useRedTeamIterations, useRedTeamRun, useRedTeamRuns, useStartRedTeam } from '../api/redteam'
import { useRedTeamStream } from '../api/redteamStream'
import type { RedTeamAttempt, RedTeamDetail, RedTeamStarted, RedTeamSummary } from '../api/types'
import { fmtAsr, showPayload } from '../lib/asr'
import { sentryStatusStyle } from '../lib/sentryStatus'
import { JobLine } from './JobLine'
import { RedTeamForm } from './RedTeamForm'
import { RunDetailState } from './RunDetailState'
import { RunStatusBadge } from './StatusBadge'

/** Red team: start an attack, watch its objective live, read every payload's verdict. */
export function RedTeamPanel({ selected, onSelect }: { selected: string | null; onSelect: (id: string | null) => void }) {
  const runs = useRedTeamRuns()
  const [started, setStarted] = useState<RedTeamStarted | null>(null)
  const items = runs.data?.items ?? []
  const current = selected ?? started?.run_id ?? items[0]?.run_id ?? null
  return (
    <div className="space-y-3">
      <Card id="redteam-start" title="Attack the defended model" subtitle="a seeded search for payloads that pass the gate and still damage the model; runs as a job">
        <RedTeamForm
          onStarted={(r) => {
            setStarted(r)
            onSelect(r.run_id)
          }}
        />
        {started && (
          <div className="mt-2">
            <JobLine jobId={started.job_id} unit="queries" testId="redteam-job" />
          </div>
        )}
      </Card>
      <FlaggedPrompts
        onStarted={(r) => {
          setStarted(r)
          onSelect(r.run_id)
        }}
      />
      <Card id="redteam-runs" title="Red-team runs" subtitle="newest first">
        <QueryState query={runs} what="red-team runs" isEmpty={(d) => d.items.length === 0} empty="No red-team runs yet: start an attack above, or `ttt redteam run`.">
          {(d) => <RedTeamRunsTable runs={d.items} selected={current} onSelect={onSelect} />}
        </QueryState>
      </Card>
      {current && <RedTeamRunView key={current} runId={current} pending={started?.run_id === current} />}
    </div>
  )
}

function RedTeamRunsTable({ runs, selected, onSelect }: { runs: RedTeamSummary[]; selected: string | null; onSelect: (id: string) => void }) {
  const th = 'px-2 py-1 text-left font-medium text-zinc-400'
  const td = 'px-2 py-1'
  return (
    <div className="max-h-60 overflow-auto" tabIndex={0} role="region" aria-label="Red-team runs (scrolls)">
      <table className="w-full text-xs" aria-label="Red-team runs" data-testid="redteam-runs-table">
        <thead className="sticky top-0 bg-zinc-950">
          <tr className="border-b border-zinc-800">
            <th className={th}>run</th>
            <th className={th}>status</th>
            <th className={th}>created</th>
            <th className={th}>model</th>
            <th className={th}>method · goal</th>
            <th className={th}>defence</th>
            <th className={`${th} text-right`}>queries</th>
            <th className={`${th} text-right`}>ASR (95% CI)</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((r) => (
            <tr key={r.run_id} data-run={r.run_id} data-status={r.status} aria-selected={r.run_id === selected} className={`border-b border-zinc-900 ${r.run_id === selected ? 'bg-cyan-500/5' : ''}`}>
              <td className={`${td} font-mono`}>
                <button type="button" className="text-cyan-300 underline-offset-2 hover:underline" onClick={() => onSelect(r.run_id)} aria-label={`Show red-team run ${r.run_id}`}>
                  {r.run_id}
                </button>
              </td>
              <td className={td}><RunStatusBadge status={r.status} /></td>
              <td className={`${td} text-zinc-400`}>{fmtDate(r.created_at)}</td>
              <td className={`${td} font-mono text-zinc-300`}>{r.model_id}</td>
              <td className={`${td} text-zinc-300`}>{r.method} · {r.goal}</td>
              <td className={`${td} text-zinc-300`}>{r.safety ?? '?'}</td>
              <td className={`${td} text-right font-mono`}>{fmtInt(r.queries)}/{fmtInt(r.budget)}</td>
              <td className={`${td} text-right font-mono`}>{fmtAsr(r.attack_success_rate, r.asr_ci95, r.queries)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

function RedTeamRunView({ runId, pending }: { runId: string; pending: boolean }) {
  const [seen, setSeen] = useState(false) // keyed by run id (RedTeamPanel): the stream has seen this run
  const detail = useRedTeamRun(runId, pending && !seen)
  const running = detail.data ? detail.data.summary.status === 'running' : pending
  const { live } = useRedTeamStream(runId, { running, seen, onSeen: () => setSeen(true) })
  if (!detail.data || detail.error)
    return <RunDetailState error={detail.error} runId={runId} pending={pending} name="Red-team run" what="red-team run" pendingWhat="the attack (its job is starting)" />
  return <RunBody runId={runId} detail={detail.data} live={live} />
}

function RunBody({ runId, detail, live }: { runId: string; detail: RedTeamDetail; live: boolean }) {
  const s = detail.summary
  const iters = useRedTeamIterations(runId)
  const attempts = useRedTeamAttempts(runId)
  const rows = iters.data?.items ?? []
  const threshold = s.success_threshold ?? null
  const chart = useMemo(
    () => ({
      x: rows.map((r) => r.iteration),
      best: rows.map((r) => r.best_objective ?? null),
      mean: rows.map((r) => r.mean_objective ?? null),
      succ: rows.map((r) => r.successes),
    }),
    [rows],
  )
  return (
    <>
      <Card
        id="redteam-run"
        title="Attack"
        subtitle={<span className="font-mono">{runId}</span>}
        actions={
          <span className="flex items-center gap-2 text-[11px] text-zinc-400">
            {live && <span role="status">● live</span>}
            <RunStatusBadge status={s.status} />
          </span>
        }
        testId="redteam-run"
      >
        <div
          className="grid grid-cols-2 gap-2 sm:grid-cols-4 lg:grid-cols-7"
          data-testid="redteam-summary"
          data-run={runId}
          data-status={s.status}
          data-queries={s.queries}
          data-successes={s.successes}
          data-asr={s.attack_success_rate ?? ''}
          data-ci={(s.asr_ci95 ?? []).join(',')}
        >
          <Stat label="attack success rate (95% CI, Wilson)" value={fmtAsr(s.attack_success_rate, s.asr_ci95, s.queries)} wide />
          <Stat label="successes / queries" value={`${fmtInt(s.successes)} / ${fmtInt(s.queries)} of ${fmtInt(s.budget)}`} />
          <Stat label="queries to first success" value={s.queries_to_first_success == null ? 'none yet' : fmtInt(s.queries_to_first_success)} />
          <Stat label="method · goal" value={`${s.method} · ${s.goal}`} />
          <Stat label="defence · seed" value={`${s.safety ?? '?'} · ${s.seed ?? '?'}`} />
          <Stat label="success threshold · time" value={`${fmtNum(threshold, 3)} · ${fmtDuration((s.duration_s ?? NaN) * 1000)}`} />
        </div>
        {Object.keys(s.stopped_by ?? {}).length > 0 && (
          <p className="mt-2 text-xs text-zinc-300" data-testid="redteam-stopped-by">
            failures stopped by:{' '}
            {Object.entries(s.stopped_by ?? {}).map(([k, v]) => (
              <span key={k} className="mr-2 font-mono" data-defence={k} data-count={v}>
                {k === 'none' ? 'nothing (below threshold)' : k} × {v}
              </span>
            ))}
          </p>
        )}
        {s.error && <p role="alert" className="mt-2 text-xs text-red-300">{s.error}</p>}
        <div className="mt-3">
          {rows.length ? (
            <TimeChart
              id="redteam-objective-chart"
              ariaLabel={`Best and mean objective per iteration of red-team run ${runId} (${rows.length} iterations)`}
              x={chart.x}
              series={[
                { key: 'best', label: 'best objective', color: '#f472b6', values: chart.best, width: 2, points: rows.length < 60 },
                { key: 'mean', label: 'mean objective', color: '#a1a1aa', values: chart.mean, width: 1.2, dash: [4, 3] },
                { key: 'successes', label: 'successes (cumulative)', color: '#34d399', values: chart.succ, width: 1.2, scale: 'y2', step: true },
              ]}
              thresholds={threshold !== null ? [{ value: threshold, label: `success threshold ${fmtNum(threshold, 3)}`, color: '#34d399' }] : undefined}
              xLabel="iteration"
              yLabel="objective"
              y2Label="successes"
              height={220}
              syncCursor={false}
              exportName={`${runId}-objective`}
              dataAttrs={{ run: runId, iterations: rows.length }}
            />
          ) : (
            <p role="status" className="py-4 text-center text-sm text-zinc-400">{s.status === 'running' ? 'Waiting for the first iteration…' : 'No iterations were recorded.'}</p>
          )}
        </div>
      </Card>
      <Card id="redteam-attempts" title="Payloads and verdicts" subtitle="every query: did it pass the gate, what stopped it, did it succeed">
        {attempts.error && !attempts.data ? (
          <ErrorState error={attempts.error} what="attempts" />
        ) : !attempts.data ? (
          <Loading what="attempts" />
        ) : (
          <AttemptsTable attempts={attempts.data.items} best={(s.best_payloads ?? []).map((b) => b.payload)} />
        )}
      </Card>
    </>
  )
}

function Stat({ label, value, wide }: { label: string; value: string; wide?: boolean }) {
  return (
    <div className={`rounded border border-zinc-800 bg-zinc-950/50 px-2.5 py-1.5 ${wide ? 'col-span-2' : ''}`}>
      <div className="text-[11px] text-zinc-400">{label}</div>
      <div className="font-mono text-sm text-zinc-100">{value}</div>
    </div>
  )
}

const Yes = ({ ok, yes, no }: { ok: boolean; yes: string; no: string }) => (
  <span className={ok ? 'text-emerald-300' : 'text-red-300'}>
    <span aria-hidden="true">{ok ? '✓' : '✕'}</span> {ok ? yes : no}
  </span>
)

function AttemptsTable({ attempts, best }: { attempts: RedTeamAttempt[]; best: string[] }) {
  const [only, setOnly] = useState<'all' | 'success' | 'passed'>('all')
  const [newestFirst, setNewestFirst] = useState(true)
  const shown = useMemo(() => {
    const xs = attempts.filter((a) => (only === 'success' ? a.success : only === 'passed' ? a.passed_gate : true))
    return (newestFirst ? [...xs].reverse() : xs).slice(0, 500)
  }, [attempts, only, newestFirst])
  const th = 'px-2 py-1 text-left font-medium text-zinc-400'
  const td = 'px-2 py-1 align-top'
  const passed = attempts.filter((a) => a.passed_gate).length
  return (
    <div>
      <div className="mb-2 flex flex-wrap items-center gap-1.5 text-xs">
        <Toggle pressed={only === 'all'} onChange={() => setOnly('all')}>all {fmtInt(attempts.length)}</Toggle>
        <Toggle pressed={only === 'passed'} onChange={() => setOnly('passed')}>passed gate {fmtInt(passed)}</Toggle>
        <Toggle pressed={only === 'success'} onChange={() => setOnly('success')}>successes {fmtInt(attempts.filter((a) => a.success).length)}</Toggle>
        <Toggle pressed={newestFirst} onChange={setNewestFirst} title="Newest query first">newest first</Toggle>
        <span className="ml-auto text-[11px] text-zinc-400">gate pass rate {fmtPct(attempts.length ? passed / attempts.length : null)}</span>
      </div>
      <div className="max-h-[440px] overflow-auto" tabIndex={0} role="region" aria-label="Payloads and verdicts (scrolls)">
        <table className="w-full text-xs" aria-label="Red-team payloads and verdicts" data-testid="redteam-attempts" data-count={attempts.length}>
          <thead className="sticky top-0 bg-zinc-950">
            <tr className="border-b border-zinc-800">
              <th className={th}>query</th>
              <th className={th}>iter</th>
              <th className={`${th} w-[45%]`}>payload</th>
              <th className={th}>mutation</th>
              <th className={th}>passed gate?</th>
              <th className={th}>stopped by</th>
              <th className={th}>status</th>
              <th className={`${th} text-right`}>objective</th>
              <th className={th}>success</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((a) => (
              <tr key={a.query} data-query={a.query} data-success={a.success} data-passed-gate={a.passed_gate} data-stopped-by={a.stopped_by ?? ''} className="border-b border-zinc-900">
                <td className={`${td} font-mono`}>{a.query}</td>
                <td className={`${td} font-mono text-zinc-400`}>{a.iteration}</td>
                <td className={`${td} font-mono text-[11px] text-zinc-200 [overflow-wrap:anywhere]`} title={a.payload}>
                  {best.includes(a.payload) && <span className="mr-1 text-amber-300" title="among the best payloads">★</span>}
                  {showPayload(a.payload)}
                </td>
                <td className={`${td} text-zinc-400`}>{a.mutation ?? '—'}</td>
                <td className={td}>
                  <Yes ok={a.passed_gate} yes="passed" no="blocked" />
                  {!a.passed_gate && (a.gate_reasons ?? []).length > 0 && (
                    <div className="line-clamp-2 text-[11px] text-zinc-400" title={(a.gate_reasons ?? []).join('\n')}>
                      {(a.gate_reasons ?? [])[0]}
                      {(a.gate_reasons ?? []).length > 1 ? ` (+${(a.gate_reasons ?? []).length - 1} more)` : ''}
                    </div>
                  )}
                </td>
                <td className={`${td} font-mono text-zinc-300`}>{a.stopped_by ?? '—'}</td>
                <td className={td} style={{ color: sentryStatusStyle(a.status).color }}>
                  <span aria-hidden="true">{sentryStatusStyle(a.status).glyph}</span> {sentryStatusStyle(a.status).short}
                </td>
                <td className={`${td} text-right font-mono`}>{fmtNum(a.objective, 4)}</td>
                <td className={td}><Yes ok={a.success} yes="success" no="failed" /></td>
              </tr>
            ))}
          </tbody>
        </table>
        {shown.length === 0 && <p className="py-4 text-center text-sm text-zinc-400">No payload matches.</p>}
      </div>
    </div>
  )
}

/** The flagged prompts, and an attack whose first generation starts from them (the red
 * team's ``seeds_file``: flagged_prompts.json inside the artifact root). */
function FlaggedPrompts({ onStarted }: { onStarted: (r: RedTeamStarted) => void }) {
  const flagged = useFlaggedPrompts()
  const { usable, defaultId } = useUsableModels()
  const start = useStartRedTeam()
  const [modelId, setModelId] = useState<string | null>(null)
  const [budget, setBudget] = useState('32')
  const items = flagged.data?.items ?? []
  const model = modelId ?? defaultId
  const budgetOk = /^\d+$/.test(budget) && Number(budget) >= 1 && Number(budget) <= 1_000_000
  const th = 'px-2 py-1 text-left font-medium text-zinc-400'
  const td = 'px-2 py-1 align-top'
  return (
    <Card id="redteam-flagged" title="Flagged prompts" subtitle="flagged for review in Chat (or by sleep’s auditor) · an attack can start from them" testId="flagged-prompts">
      <QueryState query={flagged} what="flagged prompts" isEmpty={(d) => d.items.length === 0} empty="No flagged prompts yet: flag a turn in Chat (“flag for review”).">
        {(d) => (
          <div className="space-y-2">
            <div className="max-h-56 overflow-auto" tabIndex={0} role="region" aria-label="Flagged prompts (scrolls)">
              <table className="w-full text-xs" aria-label="Flagged prompts" data-testid="flagged-table" data-count={d.total}>
                <thead className="sticky top-0 bg-zinc-950">
                  <tr className="border-b border-zinc-800">
                    <th className={`${th} w-[45%]`}>prompt</th>
                    <th className={th}>source</th>
                    <th className={th}>where</th>
                    <th className={th}>reason</th>
                    <th className={th}>flagged</th>
                  </tr>
                </thead>
                <tbody>
                  {d.items.map((p) => (
                    <tr key={p.id} data-flagged-id={p.id} data-session={p.session_id ?? ''} data-turn={p.turn ?? ''} className="border-b border-zinc-900">
                      <td className={`${td} font-mono text-[11px] text-zinc-200 [overflow-wrap:anywhere]`} title={p.text}>{showPayload(p.text)}</td>
                      <td className={`${td} text-zinc-300`}>{p.source}</td>
                      <td className={`${td} font-mono text-zinc-400`}>{p.session_id ? `${p.session_id} · turn ${p.turn ?? '?'}` : (p.model_id ?? '—')}</td>
                      <td className={`${td} text-zinc-300`}>{p.reason || '—'}</td>
                      <td className={`${td} text-zinc-400`}>{fmtDate(p.created_at)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <form
              aria-label="Attack seeded with the flagged prompts"
              className="flex flex-wrap items-end gap-3"
              onSubmit={(e) => {
                e.preventDefault()
                if (!model || !budgetOk || !items.length) return
                start.mutate(
                  { model_id: model, config: { method: 'evolution', goal: 'canary', budget: Number(budget), seeds_file: d.seeds_file } },
                  { onSuccess: onStarted },
                )
              }}
            >
              <label className="flex flex-col gap-1 text-[11px] text-zinc-400">
                model
                <select aria-label="model to attack with the flagged prompts" className="h-7 max-w-52 rounded border border-zinc-700 bg-zinc-900 px-1.5 font-mono text-xs text-zinc-100" value={model ?? ''} onChange={(e) => setModelId(e.target.value)}>
                  {usable.map((x) => (
                    <option key={x.model_id} value={x.model_id}>{x.model_id}</option>
                  ))}
                </select>
              </label>
              <label className="flex flex-col gap-1 text-[11px] text-zinc-400">
                budget (queries)
                <input aria-label="seeded attack budget" className="h-7 w-20 rounded border border-zinc-700 bg-zinc-900 px-1.5 font-mono text-xs text-zinc-100" inputMode="numeric" value={budget} onChange={(e) => setBudget(e.target.value)} />
              </label>
              <Button type="submit" variant="primary" disabled={!model || !budgetOk || start.isPending}>
                Attack seeded with {fmtInt(d.total)} flagged prompt{d.total === 1 ? '' : 's'}
              </Button>
              <span className="pb-1.5 text-[11px] text-zinc-400">evolution search, canary goal; seeds_file {d.seeds_file}</span>
              {!budgetOk && <span className="pb-1.5 text-xs text-amber-300">budget: a whole number from 1 to 1,000,000</span>}
              {start.error && <span role="alert" className="pb-1.5 text-xs text-red-300">{errorMessage(start.error)}</span>}
            </form>
          </div>
        )}
      </QueryState>
    </Card>
  )
}
