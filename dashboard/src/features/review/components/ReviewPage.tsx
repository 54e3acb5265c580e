import { useMemo, useState } from 'react'
import { Link, useSearchParams } from 'react-router'
import { errorMessage } from '@/api/client'
import type { Finding, ReviewState } from '@/api/types'
import { Card } from '@/components/ui/Card'
import { Empty, ErrorState, Loading } from '@/components/ui/States'
import { Button, Toggle } from '@/components/ui/Toggle'
import { fmtDate, fmtInt, fmtNum } from '@/lib/format'
import { useAnomalies, useReview, useScan } from '../api/anomalies'

const STATES: ReviewState[] = ['open', 'reviewed', 'dismissed', 'flagged']
const KINDS = ['nano', 'sentry', 'chat'] as const
const STATE_TONE: Record<string, string> = {
  open: 'text-zinc-300',
  reviewed: 'text-emerald-300',
  dismissed: 'text-zinc-500',
  flagged: 'text-amber-300',
}
const KIND_LABEL: Record<string, string> = { nano: 'Nano', sentry: 'Sentry', chat: 'Chat' }

/** Where an attempt sits: "session s · run r · t 127" / "run r · chunk 5" / "session s · turn 2 · chunk 3". */
function place(f: Finding): string {
  if (f.kind === 'nano') return `${f.item} · t ${fmtInt(f.position)}`
  if (f.kind === 'chat') return `${f.item} · turn ${f.turn ?? '?'} · chunk ${fmtInt(f.position)}`
  return `${f.item} · chunk ${fmtInt(f.position)}`
}

/**
 * Review: the most unusual update attempts of every Nano run, Sentry run and chat session
 * (scored per model/session family by `ttt anomalies scan`), each with why it is unusual and
 * a link to the exact event; mark it reviewed, dismiss it, or flag it (its text becomes a
 * red-team seed in flagged_prompts.json).
 */
export function ReviewPage() {
  const q = useAnomalies()
  const scan = useScan()
  const review = useReview()
  const [params, setParams] = useSearchParams()
  const state = (params.get('state') as ReviewState | null) ?? 'open'
  const kind = params.get('kind')
  const [method, setMethod] = useState<'robust_z' | 'iforest'>('robust_z')
  const [notes, setNotes] = useState<Record<string, string>>({})
  const set = (k: string, v: string | null) =>
    setParams((p) => {
      const n = new URLSearchParams(p)
      if (v === null) n.delete(k)
      else n.set(k, v)
      return n
    })
  const items = useMemo(
    () => (q.data?.items ?? []).filter((f) => (state === ('all' as string) || f.review.state === state) && (!kind || f.kind === kind)),
    [q.data, state, kind],
  )
  const info = q.data?.scan
  return (
    <main id="main" className="mx-auto max-w-[1400px] space-y-3 px-4 py-4" data-testid="review-page">
      <h1 className="sr-only">Review unusual updates</h1>
      <Card
        id="review-scan"
        title="Anomaly review"
        subtitle="update attempts that are unusual for their model or session family: write pressure, weight change, loss change, canary delta, rollback bursts, gate scores"
        actions={
          <form
            aria-label="Scan the update logs"
            className="flex items-center gap-1.5"
            onSubmit={(e) => {
              e.preventDefault()
              scan.mutate({ method, top: 200 })
            }}
          >
            <label className="flex items-center gap-1 text-xs text-zinc-400">
              method
              <select aria-label="scoring method" className="h-7 rounded border border-zinc-700 bg-zinc-900 px-1.5 text-xs text-zinc-100" value={method} onChange={(e) => setMethod(e.target.value as 'robust_z' | 'iforest')}>
                <option value="robust_z">robust z</option>
                <option value="iforest">isolation forest</option>
              </select>
            </label>
            <Button type="submit" variant="primary" disabled={scan.isPending}>
              {scan.isPending ? 'Scanning…' : info ? 'Scan again' : 'Scan now'}
            </Button>
          </form>
        }
      >
        {scan.error && <p role="alert" className="mb-2 text-xs text-red-300">{errorMessage(scan.error)}</p>}
        {q.error && !q.data ? (
          <ErrorState error={q.error} what="the review queue" />
        ) : !q.data ? (
          <Loading what="the review queue" />
        ) : !info ? (
          <Empty>No scan yet: press “Scan now” (or run <code className="font-mono">ttt anomalies scan</code>).</Empty>
        ) : (
          <div className="space-y-2 text-xs text-zinc-400" data-testid="scan-info" data-records={info.records} data-created={info.created_at}>
            <p>
              Last scan {fmtDate(info.created_at)}: {fmtInt(info.records)} update attempts in {fmtInt(Object.keys(info.families).length)} families,{' '}
              {String(info.config.method ?? 'robust_z')} · top {fmtInt(q.data.total)} kept · {fmtNum(info.seconds, 3)} s. Scores are within a family only:{' '}
              {Object.entries(info.families)
                .map(([f, n]) => `${f} (${fmtInt(n)})`)
                .join(', ')}
              .
            </p>
            <div className="flex flex-wrap items-center gap-1.5" role="group" aria-label="Filter by review state">
              {STATES.map((s) => (
                <Toggle key={s} pressed={state === s} onChange={() => set('state', s === 'open' ? null : s)}>
                  {s} {fmtInt(q.data?.states[s] ?? 0)}
                </Toggle>
              ))}
              <span className="mx-1 text-zinc-600">|</span>
              <Toggle pressed={!kind} onChange={() => set('kind', null)}>all domains</Toggle>
              {KINDS.map((k) => (
                <Toggle key={k} pressed={kind === k} onChange={() => set('kind', kind === k ? null : k)}>
                  {KIND_LABEL[k]}
                </Toggle>
              ))}
            </div>
          </div>
        )}
      </Card>
      {info && (
        <Card id="review-queue" title={`${state[0].toUpperCase()}${state.slice(1)} findings`} subtitle="highest score first · a neighbouring attempt of the same stream is merged into the higher one">
          {review.error && <p role="alert" className="mb-2 text-xs text-red-300">{errorMessage(review.error)}</p>}
          {items.length === 0 ? (
            <Empty>No {state} findings{kind ? ` in ${KIND_LABEL[kind]}` : ''}.</Empty>
          ) : (
            <ol className="space-y-2" data-testid="review-list" data-count={items.length}>
              {items.map((f) => (
                <li
                  key={f.id}
                  className="rounded border border-zinc-800 bg-zinc-950/40 p-2.5"
                  data-finding={f.id}
                  data-key={f.key}
                  data-kind={f.kind}
                  data-rank={f.rank}
                  data-score={f.score}
                  data-state={f.review.state}
                >
                  <div className="flex flex-wrap items-center gap-x-3 gap-y-1 text-xs">
                    <span className="tabular w-10 font-mono text-zinc-500">#{f.rank}</span>
                    <span className="flex items-center gap-1.5" title={`score: root sum of squares of the two largest robust z (${String(info.config.method ?? '')})`}>
                      <span className="h-1.5 w-20 overflow-hidden rounded bg-zinc-800">
                        <span className="block h-full bg-amber-400" style={{ width: `${Math.min(100, (f.score / Math.max(1e-9, items[0].score)) * 100)}%` }} />
                      </span>
                      <span className="tabular font-mono text-zinc-200">{fmtNum(f.score, 3)}</span>
                    </span>
                    <span className="rounded bg-zinc-800 px-1.5 py-px text-[11px] text-zinc-300">{KIND_LABEL[f.kind]}</span>
                    <span className="font-mono text-zinc-200">{place(f)}</span>
                    <span className="text-zinc-400">{f.status}</span>
                    <span className="text-zinc-500" title={f.family}>family of {fmtInt(f.family_size)}</span>
                    {f.merged.length > 0 && <span className="text-zinc-500">+{fmtInt(f.merged.length)} neighbouring attempts</span>}
                    <span className={`ml-auto ${STATE_TONE[f.review.state]}`}>{f.review.state}{f.review.note ? `: ${f.review.note}` : ''}</span>
                  </div>
                  <ul className="mt-1.5 list-disc space-y-0.5 pl-14 text-xs text-zinc-300" data-testid="finding-why">
                    {f.why.length ? f.why.map((w) => <li key={w}>{w}</li>) : <li className="text-zinc-500">no single signal above 3 robust σ: unusual in combination</li>}
                  </ul>
                  <div className="mt-2 flex flex-wrap items-center gap-1.5 pl-14">
                    <Link to={f.link} className="rounded border border-cyan-700/60 px-2 py-0.5 text-xs text-cyan-300 hover:bg-cyan-500/10" data-testid="finding-link">
                      Open the event →
                    </Link>
                    <input
                      aria-label={`note for finding ${f.rank}`}
                      className="h-6 w-64 rounded border border-zinc-700 bg-zinc-900 px-1.5 text-xs text-zinc-100"
                      placeholder="note (optional)"
                      maxLength={2000}
                      value={notes[f.id] ?? ''}
                      onChange={(e) => setNotes((n) => ({ ...n, [f.id]: e.target.value }))}
                    />
                    {(['reviewed', 'dismissed', 'flagged'] as const).map((s) => (
                      <Button
                        key={s}
                        ariaLabel={`${s === 'reviewed' ? 'Reviewed' : s === 'dismissed' ? 'Dismiss' : 'Flag → red team'}: finding ${f.rank}`}
                        variant={s === 'flagged' ? 'danger' : undefined}
                        disabled={review.isPending || f.review.state === s || (s === 'flagged' && !f.has_text)}
                        title={s === 'flagged' && !f.has_text ? (f.kind === 'nano' ? 'a Nano step has no text to seed the red team with' : 'the run did not keep its text (--keep-text)') : undefined}
                        onClick={() => review.mutate({ id: f.id, state: s, note: notes[f.id] })}
                      >
                        {s === 'reviewed' ? 'Reviewed' : s === 'dismissed' ? 'Dismiss' : 'Flag → red team'}
                      </Button>
                    ))}
                    {f.review.state !== 'open' && (
                      <Button ariaLabel={`Reopen: finding ${f.rank}`} disabled={review.isPending} onClick={() => review.mutate({ id: f.id, state: 'open' })}>
                        Reopen
                      </Button>
                    )}
                  </div>
                </li>
              ))}
            </ol>
          )}
        </Card>
      )}
    </main>
  )
}
