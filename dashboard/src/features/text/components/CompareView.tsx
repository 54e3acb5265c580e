import { useMemo } from 'react'
import { TimeChart } from '@/components/charts/TimeChart'
import { Card } from '@/components/ui/Card'
import { Empty, ErrorState, Loading } from '@/components/ui/States'
import { fmtDuration, fmtNum } from '@/lib/format'
import { useRunSeries, useTextRun } from '../api/textRuns'
import type { TextRunDetail, TextRunSeries, TextRunSummary } from '../api/types'
import { alignByChunk, diff } from '../lib/compare'
import { RunStatusBadge } from './StatusBadge'

const A_COLOR = '#22d3ee'
const B_COLOR = '#f472b6'
const input = 'h-7 max-w-72 rounded border border-zinc-700 bg-zinc-900 px-1.5 font-mono text-xs text-zinc-100'

/** Two runs side by side: overlaid loss and canary-Δ series, and a table of their figures. */
export function CompareView({
  runs,
  a,
  b,
  onPick,
}: {
  runs: TextRunSummary[]
  a: string | null
  b: string | null
  onPick: (a: string | null, b: string | null) => void
}) {
  const sa = useRunSeries(a)
  const sb = useRunSeries(b)
  const da = useTextRun(a)
  const db = useTextRun(b)
  const pick = (which: 'a' | 'b', id: string) => (which === 'a' ? onPick(id || null, b) : onPick(a, id || null))
  const select = (which: 'a' | 'b', value: string | null, color: string) => (
    <label className="flex items-center gap-1.5 text-xs text-zinc-400">
      <span aria-hidden="true" className="inline-block h-0.5 w-4" style={{ background: color }} />
      run {which.toUpperCase()}
      <select aria-label={`run ${which.toUpperCase()} to compare`} className={input} value={value ?? ''} onChange={(e) => pick(which, e.target.value)}>
        <option value="">— pick a run —</option>
        {runs.map((r) => (
          <option key={r.run_id} value={r.run_id}>
            {r.run_id} · {r.safety} · {r.status}
          </option>
        ))}
      </select>
    </label>
  )
  return (
    <div className="space-y-3">
      <Card id="compare-pick" title="Compare two Sentry runs" subtitle="the same chunk index on the x axis; figures side by side with B − A">
        <div className="flex flex-wrap items-center gap-4">
          {select('a', a, A_COLOR)}
          {select('b', b, B_COLOR)}
        </div>
      </Card>
      {!a || !b ? (
        <Empty>Pick two runs to compare (or use “compare” in the runs list of the Monitor view).</Empty>
      ) : sa.error || sb.error ? (
        <ErrorState error={sa.error ?? sb.error} what="run series" />
      ) : !sa.data || !sb.data ? (
        <Loading what="run series" />
      ) : (
        <>
          <Card id="compare-charts" title="Loss and canary Δ per chunk" subtitle="gaps: chunks whose write was blocked (no canary probe); markers: either run's gate blocks and rollbacks" testId="compare-charts">
            <Overlay a={sa.data} b={sb.data} />
          </Card>
          <Card id="compare-table" title="Summary figures">
            {da.data && db.data ? <FiguresTable a={da.data} b={db.data} /> : <Loading what="run details" />}
          </Card>
        </>
      )}
    </div>
  )
}

function Overlay({ a, b }: { a: TextRunSeries; b: TextRunSeries }) {
  const loss = useMemo(() => alignByChunk({ chunk: a.chunk, values: a.loss }, { chunk: b.chunk, values: b.loss }), [a, b])
  const canary = useMemo(
    () => alignByChunk({ chunk: a.chunk, values: a.canary_delta }, { chunk: b.chunk, values: b.canary_delta }),
    [a, b],
  )
  const marks = (s: TextRunSeries) => s.chunk.map((c, i) => ({ t: c, status: s.event_status[i] })).filter((m) => m.status !== 'commit')
  const markers = useMemo(() => [...marks(a), ...marks(b)].sort((x, y) => x.t - y.t), [a, b])
  const attrs = { a: a.run_id, b: b.run_id, 'a-points': a.chunk.length, 'b-points': b.chunk.length }
  return (
    <div className="space-y-3">
      <TimeChart
        id="compare-loss-chart"
        ariaLabel={`Loss per chunk: run A ${a.run_id} (${a.chunk.length} chunks) against run B ${b.run_id} (${b.chunk.length} chunks)`}
        x={loss.x}
        series={[
          { key: 'a_loss', label: `A · ${a.run_id}`, color: A_COLOR, values: loss.a, width: 1.8 },
          { key: 'b_loss', label: `B · ${b.run_id}`, color: B_COLOR, values: loss.b, width: 1.8, dash: [5, 3] },
        ]}
        markers={markers}
        xLabel="chunk"
        yLabel="loss"
        height={220}
        alignY2
        syncCursor={false}
        exportName={`compare-${a.run_id}-${b.run_id}-loss`}
        dataAttrs={attrs}
      />
      <TimeChart
        id="compare-canary-chart"
        ariaLabel={`Canary loss change per chunk: run A ${a.run_id} against run B ${b.run_id}`}
        x={canary.x}
        series={[
          { key: 'a_canary', label: `A · ${a.run_id}`, color: A_COLOR, values: canary.a, width: 1.8 },
          { key: 'b_canary', label: `B · ${b.run_id}`, color: B_COLOR, values: canary.b, width: 1.8, dash: [5, 3] },
        ]}
        markers={markers}
        xLabel="chunk"
        yLabel="canary Δ"
        height={200}
        alignY2
        syncCursor={false}
        exportName={`compare-${a.run_id}-${b.run_id}-canary`}
        dataAttrs={attrs}
      />
    </div>
  )
}

type Row = [label: string, key: string, pick: (d: TextRunDetail) => unknown, fmt?: (v: unknown) => string]

const num = (digits: number) => (v: unknown) => fmtNum(typeof v === 'number' ? v : null, digits)
const cfg = (k: string) => (d: TextRunDetail) => (d.request.config ?? {})[k]

const ROWS: Row[] = [
  ['status', 'status', (d) => d.summary.status],
  ['model', 'model_id', (d) => d.request.model_id],
  ['safety', 'safety', (d) => d.request.safety],
  ['objective', 'objective', (d) => d.request.objective],
  ['chunk tokens', 'chunk_tokens', (d) => d.request.chunk_tokens, num(6)],
  ['lr', 'lr', cfg('lr'), num(4)],
  ['canary max Δ', 'canary_max_delta', cfg('canary_max_delta'), num(4)],
  ['SPFW slack', 'spfw_slack', cfg('spfw_slack'), num(4)],
  ['chunks', 'n_chunks', (d) => d.summary.n_chunks, num(6)],
  ['committed', 'committed', (d) => d.summary.committed, num(6)],
  ['blocked by gate', 'blocked', (d) => d.summary.blocked, num(6)],
  ['rolled back', 'rolled_back', (d) => d.summary.rolled_back, num(6)],
  ['loss first', 'loss_first', (d) => d.summary.loss_first, num(4)],
  ['loss last', 'loss_last', (d) => d.summary.loss_last, num(4)],
  ['loss mean', 'loss_mean', (d) => d.summary.loss_mean, num(4)],
  ['canary start', 'canary_start', (d) => d.summary.canary_start, num(4)],
  ['canary end', 'canary_end', (d) => d.summary.canary_end, num(4)],
  ['canary Δ total', 'canary_delta_total', (d) => d.summary.canary_delta_total, num(4)],
  ['max grad norm', 'max_grad_norm', (d) => d.summary.max_grad_norm, num(4)],
  ['duration', 'duration_s', (d) => d.summary.duration_s, (v) => fmtDuration(typeof v === 'number' ? v * 1000 : null)],
]

function FiguresTable({ a, b }: { a: TextRunDetail; b: TextRunDetail }) {
  const th = 'px-2 py-1 text-left font-medium text-zinc-400'
  return (
    <table className="w-full max-w-3xl text-xs" aria-label="Summary figures of the two runs" data-testid="compare-table">
      <thead>
        <tr className="border-b border-zinc-800">
          <th className={th} scope="col">figure</th>
          <th className={th} scope="col"><span style={{ color: A_COLOR }}>A</span> · <span className="font-mono">{a.summary.run_id}</span></th>
          <th className={th} scope="col"><span style={{ color: B_COLOR }}>B</span> · <span className="font-mono">{b.summary.run_id}</span></th>
          <th className={`${th} text-right`} scope="col">B − A</th>
        </tr>
      </thead>
      <tbody>
        {ROWS.map(([label, key, pick, fmt]) => {
          const va = pick(a)
          const vb = pick(b)
          const show = fmt ?? ((v: unknown) => (v === null || v === undefined ? '—' : String(v)))
          const d = diff(va, vb)
          return (
            <tr key={key} data-figure={key} data-a={String(va ?? '')} data-b={String(vb ?? '')} className="border-b border-zinc-900">
              <th scope="row" className="px-2 py-1 text-left font-normal text-zinc-400">{label}</th>
              <td className="px-2 py-1 font-mono text-zinc-100">{key === 'status' ? <RunStatusBadge status={String(va)} /> : show(va)}</td>
              <td className="px-2 py-1 font-mono text-zinc-100">{key === 'status' ? <RunStatusBadge status={String(vb)} /> : show(vb)}</td>
              <td className="px-2 py-1 text-right font-mono text-zinc-300">
                {d === null ? '' : `${d > 0 ? '+' : ''}${key === 'duration_s' ? fmtDuration(d * 1000) : fmtNum(d, 4)}`}
              </td>
            </tr>
          )
        })}
      </tbody>
    </table>
  )
}
