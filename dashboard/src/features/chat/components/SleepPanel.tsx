import { useQueryClient } from '@tanstack/react-query'
import { useEffect, useMemo, useRef, useState } from 'react'
import { ApiError, errorMessage } from '@/api/client'
import { flaggedKey } from '@/api/queries/flaggedPrompts'
import { cancelJob, jobFinished, useJob } from '@/api/queries/jobs'
import { sleepKeys, useModelAction, useUsableModels } from '@/api/queries/textModels'
import { Card } from '@/components/ui/Card'
import { Empty, ErrorState, Loading, QueryState } from '@/components/ui/States'
import { Button, Toggle } from '@/components/ui/Toggle'
import { fmtDate, fmtInt, fmtNum, fmtPct } from '@/lib/format'
import { useChatSessions } from '../api/chat'
import { useSleepCandidate, useSleepCandidates, useSleepDefaults, useStartSleep } from '../api/sleep'
import type { SleepCandidateDetail, SleepCandidateSummary, SleepMemory, SleepStarted } from '../api/types'
import { metricRows, rejectionsByCheck, standing } from '../lib/sleep'
import { field, input } from './styles'

/** Sleep: consolidate what a model's chat sessions learned into a candidate model, read the
 * auditor's decision on every memory and the before/after metrics, promote or reject it. */
export function SleepPanel({ selected, onSelect }: { selected: string | null; onSelect: (id: string) => void }) {
  const list = useSleepCandidates()
  const [started, setStarted] = useState<SleepStarted | null>(null)
  const items = list.data?.items ?? []
  const current = selected ?? items[0]?.candidate_id ?? null
  return (
    <div className="space-y-3">
      <Card id="sleep-start" title="Run sleep" subtitle="harvest the sessions’ prompts → audit each → consolidate the approved ones into the backbone, mixed with core text → a candidate model, never used until promoted">
        <SleepForm onStarted={setStarted} />
        {started && <SleepJob started={started} onDone={onSelect} />}
      </Card>
      <Card id="sleep-candidates" title="Sleep candidates" subtitle="newest first">
        <QueryState query={list} what="sleep candidates" isEmpty={(d) => d.items.length === 0} empty="No sleep candidates yet: run sleep above, or `ttt sleep`.">
          {(d) => <CandidatesTable items={d.items} selected={current} onSelect={onSelect} />}
        </QueryState>
      </Card>
      {current && <CandidateView key={current} id={current} />}
    </div>
  )
}

function SleepForm({ onStarted }: { onStarted: (s: SleepStarted) => void }) {
  const { usable, defaultId } = useUsableModels()
  const sessions = useChatSessions()
  const defaults = useSleepDefaults()
  const start = useStartSleep()
  const [modelId, setModelId] = useState<string | null>(null)
  const [picked, setPicked] = useState<Set<string> | null>(null) // null: every session of the model
  const [method, setMethod] = useState('ewc')
  const [steps, setSteps] = useState('40')
  const [coreRatio, setCoreRatio] = useState('0.5')
  const [lambda, setLambda] = useState('1')
  const [replay, setReplay] = useState(true)
  const [semantic, setSemantic] = useState(true)
  const model = modelId ?? defaultId
  const ofModel = (sessions.data?.items ?? []).filter((s) => s.model_id === model)
  const chosen = picked ? ofModel.filter((s) => picked.has(s.session_id)) : ofModel
  const turns = chosen.reduce((n, s) => n + s.n_turns, 0)
  const problems: string[] = []
  if (!model) problems.push('model: no completed text model')
  else if (!turns) problems.push('no chat turns of this model to consolidate: chat with it first')
  if (!/^\d+$/.test(steps) || Number(steps) < 1 || Number(steps) > 100_000) problems.push('steps: 1 to 100,000')
  if (!(Number(coreRatio) >= 0 && Number(coreRatio) < 1) || coreRatio.trim() === '') problems.push('core ratio: in [0, 1)')
  if (method === 'ewc' && (!(Number(lambda) >= 0) || lambda.trim() === '')) problems.push('EWC λ: a number ≥ 0')
  return (
    <form
      aria-label="Run sleep"
      className="space-y-2"
      onSubmit={(e) => {
        e.preventDefault()
        if (problems.length || !model) return
        start.mutate(
          {
            model_id: model,
            sessions: picked ? chosen.map((s) => s.session_id) : null,
            method: method as 'ewc' | 'replay',
            steps: Number(steps),
            core_ratio: Number(coreRatio),
            ewc_lambda: method === 'ewc' ? Number(lambda) : null,
            compare_replay: method === 'ewc' ? replay : null,
            auditor: { semantic },
            threads: 1,
          },
          { onSuccess: onStarted },
        )
      }}
    >
      <div className="flex flex-wrap items-end gap-3">
        <label className={field}>
          model
          <select aria-label="model to consolidate" className={`${input} max-w-56 font-mono`} value={model ?? ''} onChange={(e) => { setModelId(e.target.value); setPicked(null) }}>
            {usable.map((m) => (
              <option key={m.model_id} value={m.model_id}>{m.model_id}</option>
            ))}
          </select>
        </label>
        <label className={field}>
          method
          <select aria-label="consolidation method" className={input} value={method} onChange={(e) => setMethod(e.target.value)}>
            {(defaults.data?.methods ?? ['ewc', 'replay']).map((m) => (
              <option key={m} value={m}>{m === 'ewc' ? 'ewc · importance-weighted' : 'replay · plain rehearsal'}</option>
            ))}
          </select>
        </label>
        <label className={field}>
          steps
          <input aria-label="sleep steps" className={`${input} w-20 font-mono`} inputMode="numeric" value={steps} onChange={(e) => setSteps(e.target.value)} />
        </label>
        <label className={field}>
          core ratio
          <input aria-label="core ratio" className={`${input} w-16 font-mono`} inputMode="decimal" value={coreRatio} onChange={(e) => setCoreRatio(e.target.value)} />
        </label>
        {method === 'ewc' && (
          <label className={field}>
            EWC λ
            <input aria-label="EWC lambda" className={`${input} w-16 font-mono`} inputMode="decimal" value={lambda} onChange={(e) => setLambda(e.target.value)} />
          </label>
        )}
        <div className={field}>
          options
          <span className="flex gap-1.5">
            {method === 'ewc' && <Toggle pressed={replay} onChange={setReplay} title="Also train plain replay on the same batches, for comparison">compare with replay</Toggle>}
            <Toggle pressed={semantic} onChange={setSemantic} title="The auditor's embedding classifier (slower)">semantic detector</Toggle>
          </span>
        </div>
        <Button type="submit" variant="primary" disabled={problems.length > 0 || start.isPending}>Run sleep</Button>
      </div>
      <fieldset className="rounded border border-zinc-800 p-2">
        <legend className="px-1 text-[11px] text-zinc-400">
          sessions to harvest ({picked ? `${chosen.length} chosen` : 'all of this model'} · {fmtInt(turns)} turns)
        </legend>
        {ofModel.length === 0 ? (
          <p className="text-xs text-zinc-400">No chat sessions on this model.</p>
        ) : (
          <ul className="flex max-h-28 flex-wrap gap-x-4 gap-y-1 overflow-auto text-xs">
            {ofModel.map((s) => (
              <li key={s.session_id}>
                <label className="flex items-center gap-1.5 text-zinc-200">
                  <input
                    type="checkbox"
                    checked={picked ? picked.has(s.session_id) : true}
                    onChange={(e) => {
                      const next = new Set(picked ?? ofModel.map((x) => x.session_id))
                      if (e.target.checked) next.add(s.session_id)
                      else next.delete(s.session_id)
                      setPicked(next.size === ofModel.length ? null : next)
                    }}
                  />
                  <span className="font-mono">{s.session_id}</span>
                  <span className="text-zinc-500">{s.n_turns} turns</span>
                </label>
              </li>
            ))}
          </ul>
        )}
      </fieldset>
      {problems.length > 0 && <p className="text-xs text-amber-300">{problems.join('; ')}</p>}
      {start.error && <p role="alert" className="text-xs text-red-300">{errorMessage(start.error)}</p>}
    </form>
  )
}

/** Progress of a sleep job; once it completes, its candidate is shown. */
function SleepJob({ started, onDone }: { started: SleepStarted; onDone: (id: string) => void }) {
  const qc = useQueryClient()
  const q = useJob(started.job_id)
  const j = q.data
  const done = jobFinished(j)
  const handled = useRef<string | null>(null)
  const onDoneRef = useRef(onDone)
  onDoneRef.current = onDone
  useEffect(() => {
    // once per job: refresh what the sleep wrote, then show its candidate
    if (!done || !j || handled.current === j.job_id) return
    // A progress event may say "completed" before the final job arrives, and the job's
    // stream closes then: fetch the final job (with its result) once more.
    if (j.status === 'completed' && !j.result) {
      void q.refetch()
      return
    }
    handled.current = j.job_id
    void qc.invalidateQueries({ queryKey: sleepKeys.list })
    void qc.invalidateQueries({ queryKey: ['text_models'] })
    void qc.invalidateQueries({ queryKey: flaggedKey })
    if (j.status === 'completed' && j.result?.candidate_id) onDoneRef.current(String(j.result.candidate_id))
  }, [done, j, qc, q])
  const p = j?.progress ?? { done: 0, total: 0 }
  const pct = p.total ? (100 * p.done) / p.total : done ? 100 : 0
  // an EWC sleep also trains the replay baseline: progress counts both runs' steps
  const params = (j?.params ?? {}) as { steps?: number; method?: string; compare_replay?: boolean }
  const perRun = typeof params.steps === 'number' ? params.steps : p.total
  const runs = params.method === 'ewc' && params.compare_replay !== false && p.total === 2 * perRun ? ['EWC', 'replay'] : [params.method ?? 'sleep']
  return (
    <div role="status" aria-live="polite" className="mt-2 flex flex-wrap items-center gap-3 text-xs" data-testid="sleep-job" data-status={j?.status ?? 'queued'} data-candidate={started.candidate_id}>
      <div className="h-2 w-48 overflow-hidden rounded bg-zinc-800" role="progressbar" aria-label="training steps done" aria-valuemin={0} aria-valuemax={p.total || 100} aria-valuenow={p.total ? p.done : Math.round(pct)}>
        <div className={`h-full ${j?.status === 'failed' ? 'bg-red-500' : j?.status === 'completed' ? 'bg-emerald-400' : 'bg-violet-400'} transition-[width] duration-300`} style={{ width: `${pct}%` }} />
      </div>
      <span className="font-mono text-zinc-200" data-testid="sleep-steps" data-done={p.done} data-total={p.total}>
        {fmtInt(p.done)} / {p.total ? fmtInt(p.total) : '…'} training steps
      </span>
      {runs.length > 1 && (
        <span className="text-zinc-400" data-testid="sleep-runs">
          ({runs.map((r) => `${fmtInt(perRun)} ${r}`).join(' + ')}: the replay baseline trains on the same batches)
        </span>
      )}
      <span className="text-zinc-400">
        sleep {j?.status ?? 'queued'} → <span className="font-mono">{started.candidate_id}</span>
      </span>
      {j && !done && <Button variant="danger" ariaLabel={`Cancel job ${started.job_id}`} onClick={() => void cancelJob(started.job_id).then(() => q.refetch())}>Cancel</Button>}
      {j?.error && <span role="alert" className="text-red-300">{j.error}</span>}
    </div>
  )
}

const STANDING = {
  promoted: { glyph: '●', color: '#34d399', label: 'promoted' },
  rejected: { glyph: '✕', color: '#f87171', label: 'rejected' },
  pending: { glyph: '◆', color: '#c084fc', label: 'candidate · not in use' },
}

function StandingBadge({ s }: { s: { promoted?: boolean; rejected?: boolean } }) {
  const k = standing(s)
  const st = STANDING[k]
  return (
    <span data-standing={k} className="inline-flex items-center gap-1 whitespace-nowrap rounded px-1.5 py-px text-[11px] font-medium" style={{ color: st.color, background: `${st.color}1a`, boxShadow: `inset 0 0 0 1px ${st.color}40` }}>
      <span aria-hidden="true">{st.glyph}</span>
      {st.label}
    </span>
  )
}

/** + is worse for retention (forgetting), better for acquisition (learned). */
function Pct({ v, goodWhenPositive }: { v: number | null | undefined; goodWhenPositive: boolean }) {
  if (v === null || v === undefined || !Number.isFinite(v)) return <span className="text-zinc-500">—</span>
  const good = goodWhenPositive ? v > 0 : v < 0
  return <span className={good ? 'text-emerald-300' : v === 0 ? 'text-zinc-300' : 'text-amber-300'}>{fmtPct(v / 100, 2, true)}</span>
}

function CandidatesTable({ items, selected, onSelect }: { items: SleepCandidateSummary[]; selected: string | null; onSelect: (id: string) => void }) {
  const th = 'px-2 py-1 text-left font-medium text-zinc-400'
  const td = 'px-2 py-1'
  return (
    <div className="max-h-60 overflow-auto" tabIndex={0} role="region" aria-label="Sleep candidates (scrolls)">
      <table className="w-full text-xs" aria-label="Sleep candidates" data-testid="sleep-candidates" data-count={items.length}>
        <thead className="sticky top-0 bg-zinc-950">
          <tr className="border-b border-zinc-800">
            <th className={th}>candidate</th>
            <th className={th}>standing</th>
            <th className={th}>parent</th>
            <th className={th}>method</th>
            <th className={`${th} text-right`}>approved / memories</th>
            <th className={`${th} text-right`}>retention Δ</th>
            <th className={`${th} text-right`}>acquisition</th>
            <th className={th}>created</th>
          </tr>
        </thead>
        <tbody>
          {items.map((c) => (
            <tr key={c.candidate_id} data-candidate={c.candidate_id} data-standing={standing(c)} aria-selected={c.candidate_id === selected} className={`border-b border-zinc-900 ${c.candidate_id === selected ? 'bg-cyan-500/5' : ''}`}>
              <td className={`${td} font-mono`}>
                <button type="button" className="text-cyan-300 underline-offset-2 hover:underline" onClick={() => onSelect(c.candidate_id)} aria-label={`Show sleep candidate ${c.candidate_id}`}>
                  {c.candidate_id}
                </button>
              </td>
              <td className={td}><StandingBadge s={c} /></td>
              <td className={`${td} font-mono text-zinc-300`}>{c.parent_model_id ?? '—'}</td>
              <td className={`${td} text-zinc-300`}>{c.method ?? '—'}</td>
              <td className={`${td} text-right font-mono`}>{fmtInt(c.approved)} / {fmtInt(c.memories)}</td>
              <td className={`${td} text-right font-mono`}><Pct v={c.retention_change_pct} goodWhenPositive={false} /></td>
              <td className={`${td} text-right font-mono`}><Pct v={c.acquisition_drop_pct} goodWhenPositive /></td>
              <td className={`${td} text-zinc-400`}>{fmtDate(c.created_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

function CandidateView({ id }: { id: string }) {
  const q = useSleepCandidate(id)
  if (q.error) {
    const gone = q.error instanceof ApiError && q.error.status === 404
    return gone ? <Empty>Sleep candidate “{id}” does not exist.</Empty> : <ErrorState error={q.error} what={`sleep candidate ${id}`} />
  }
  if (!q.data) return <Loading what={`sleep candidate ${id}`} />
  return <CandidateBody id={id} d={q.data} />
}

function CandidateBody({ id, d }: { id: string; d: SleepCandidateDetail }) {
  const decide = useModelAction()
  const s = d.summary
  const m = d.manifest
  const memories = m.memories ?? []
  const rows = m.metrics ? metricRows(m.metrics, m.metrics.baseline_replay) : []
  const hasReplay = !!m.metrics?.baseline_replay
  const th = 'px-2 py-1 text-left font-medium text-zinc-400'
  const td = 'px-2 py-1 font-mono'
  return (
    <>
      <Card
        id="sleep-candidate"
        title={<span className="font-mono">{id}</span>}
        subtitle={<>from <span className="font-mono">{s.parent_model_id}</span> · {s.method} · {fmtInt(s.sessions?.length ?? 0)} session(s) · {fmtNum(s.seconds ?? null, 3)} s</>}
        testId="sleep-candidate"
        actions={
          <>
            <StandingBadge s={s} />
            <Button variant="primary" disabled={decide.isPending || !!s.promoted} onClick={() => decide.mutate({ id, action: 'promote' })} ariaLabel={`Promote ${id}`}>Promote</Button>
            <Button variant="danger" disabled={decide.isPending || !!s.rejected} onClick={() => decide.mutate({ id, action: 'reject' })} ariaLabel={`Reject ${id}`}>Reject</Button>
          </>
        }
      >
        <div data-testid="sleep-summary" data-candidate={id} data-standing={standing(s)} data-approved={s.approved} data-rejected={s.rejected_memories} data-memories={s.memories}>
          <p className="mb-2 text-xs text-zinc-300">
            {s.promoted
              ? s.is_default
                ? 'Promoted: this candidate is now the default model.'
                : 'Promoted (a newer promoted model is the default).'
              : s.rejected
                ? 'Rejected: never used by default; its files are kept.'
                : 'Not in use: promote it to make it the default model, or reject it.'}
            {' '}Memories: {fmtInt(s.approved)} approved, {fmtInt(s.rejected_memories)} rejected; {fmtInt(s.flagged_written)} written to flagged prompts.
          </p>
          {decide.error && <p role="alert" className="mb-2 text-xs text-red-300">{errorMessage(decide.error)}</p>}
          {rows.length > 0 ? (
            <table className="w-full max-w-3xl text-xs" aria-label={`Before and after metrics of ${id}`} data-testid="sleep-metrics">
              <thead>
                <tr className="border-b border-zinc-800">
                  <th className={th}>metric</th>
                  <th className={`${th} text-right`}>before</th>
                  <th className={`${th} text-right`}>after ({s.method})</th>
                  <th className={`${th} text-right`}>change</th>
                  {hasReplay && <th className={`${th} text-right`}>after (replay)</th>}
                  {hasReplay && <th className={`${th} text-right`}>change (replay)</th>}
                  {hasReplay && <th className={th}>vs replay</th>}
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <tr key={r.key} data-metric={r.key} data-change={r.change ?? ''} data-replay-change={r.replayChange ?? ''} className="border-b border-zinc-900">
                    <td className="px-2 py-1 text-zinc-200">{r.label} <span className="text-zinc-500">({r.what})</span></td>
                    <td className={`${td} text-right`}>{fmtNum(r.before, 4)}</td>
                    <td className={`${td} text-right`}>{fmtNum(r.after, 4)}</td>
                    <td className={`${td} text-right`}><Pct v={r.change} goodWhenPositive={r.key === 'acquisition'} /></td>
                    {hasReplay && <td className={`${td} text-right`}>{fmtNum(r.replayAfter, 4)}</td>}
                    {hasReplay && <td className={`${td} text-right`}><Pct v={r.replayChange} goodWhenPositive={r.key === 'acquisition'} /></td>}
                    {hasReplay && (
                      <td className="px-2 py-1">
                        {r.better === null ? '—' : r.better ? <span className="text-emerald-300"><span aria-hidden="true">▲ </span>better</span> : <span className="text-amber-300"><span aria-hidden="true">▼ </span>worse</span>}
                      </td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p className="text-xs text-zinc-400">No metrics in the manifest.</p>
          )}
        </div>
      </Card>
      <Card id="sleep-memories" title="Memories and the auditor’s decisions" subtitle="every harvested prompt: approved for consolidation, or rejected with a reason per failed check">
        <MemoriesTable memories={memories} />
      </Card>
    </>
  )
}

function checksSummary(m: SleepMemory): string[] {
  const c = (m.checks ?? {}) as Record<string, Record<string, unknown> | undefined>
  const out: string[] = []
  const g = c.gate_at_time
  if (g) out.push(`gate then: ${g.blocked ? 'blocked' : 'allowed'}`)
  const r = c.gate_recheck
  if (r) out.push(`gate re-check: ${r.allowed ? 'allowed' : `flags ${((r.rules as string[] | undefined) ?? []).join(', ')}`}`)
  const sem = c.semantic
  if (sem && typeof sem.score === 'number') out.push(`semantic ${fmtNum(sem.score, 3)} (threshold ${fmtNum(sem.threshold as number, 3)})`)
  if (c.flagged_by_user) out.push('flagged by a person')
  const llm = c.llm
  if (llm) out.push(`LLM: ${String(llm.verdict ?? llm.status)}`)
  return out
}

function MemoriesTable({ memories }: { memories: SleepMemory[] }) {
  const [only, setOnly] = useState<'all' | 'approved' | 'rejected'>('all')
  const shown = useMemo(() => memories.filter((m) => only === 'all' || m.decision === only), [memories, only])
  const byCheck = useMemo(() => rejectionsByCheck(memories), [memories])
  const approved = memories.filter((m) => m.decision === 'approved').length
  const th = 'px-2 py-1 text-left font-medium text-zinc-400'
  const td = 'px-2 py-1 align-top'
  return (
    <div>
      <div className="mb-2 flex flex-wrap items-center gap-1.5 text-xs">
        <Toggle pressed={only === 'all'} onChange={() => setOnly('all')}>all {fmtInt(memories.length)}</Toggle>
        <Toggle pressed={only === 'approved'} onChange={() => setOnly('approved')}>approved {fmtInt(approved)}</Toggle>
        <Toggle pressed={only === 'rejected'} onChange={() => setOnly('rejected')}>rejected {fmtInt(memories.length - approved)}</Toggle>
        {byCheck.length > 0 && (
          <span className="ml-2 text-[11px] text-zinc-400" data-testid="rejections-by-check">
            rejected by: {byCheck.map(([k, n]) => `${k} × ${n}`).join(' · ')}
          </span>
        )}
      </div>
      <div className="max-h-[420px] overflow-auto" tabIndex={0} role="region" aria-label="Memories and decisions (scrolls)">
        <table className="w-full text-xs" aria-label="Memories and the auditor's decisions" data-testid="sleep-memories" data-count={memories.length}>
          <thead className="sticky top-0 bg-zinc-950">
            <tr className="border-b border-zinc-800">
              <th className={th}>session · turn</th>
              <th className={th}>decision</th>
              <th className={`${th} w-[30%]`}>prompt</th>
              <th className={`${th} w-[38%]`}>reasons</th>
              <th className={th}>checks</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((m) => (
              <tr key={m.id} data-memory={m.id} data-session={m.session_id} data-turn={m.turn} data-decision={m.decision} className="border-b border-zinc-900">
                <td className={`${td} font-mono text-zinc-300`}>{m.session_id} · {m.turn}</td>
                <td className={td}>
                  {m.decision === 'approved' ? (
                    <span className="text-emerald-300"><span aria-hidden="true">✓</span> approved</span>
                  ) : (
                    <span className="text-red-300"><span aria-hidden="true">✕</span> rejected</span>
                  )}
                </td>
                <td className={`${td} [overflow-wrap:anywhere] text-zinc-200`} title={m.text ?? ''}>{m.text ?? <span className="text-zinc-500">(text not stored: sha256 {m.text_sha256?.slice(0, 10)}…)</span>}</td>
                <td className={td}>
                  {(m.reasons ?? []).length ? (
                    <ul className="space-y-0.5 text-zinc-300" data-testid="memory-reasons">
                      {(m.reasons ?? []).map((r, i) => (
                        <li key={i} className="break-words">{r}</li>
                      ))}
                    </ul>
                  ) : (
                    <span className="text-zinc-500">every check passed</span>
                  )}
                </td>
                <td className={`${td} text-[11px] text-zinc-400`}>
                  {checksSummary(m).map((x, i) => (
                    <div key={i}>{x}</div>
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {shown.length === 0 && <p className="py-4 text-center text-sm text-zinc-400">No memory matches.</p>}
      </div>
    </div>
  )
}
