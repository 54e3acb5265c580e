import { useMemo } from 'react'
import type { BenchmarkResult } from '@/api/types'
import { TimeChart } from '@/components/charts/TimeChart'
import { Card } from '@/components/ui/Card'
import { fmtNum, fmtPct } from '@/lib/format'
import { coincide, CONDITION_LABEL, memoryRows, memorySeries, sortMemory, type MemoryRow } from '../lib/rows'
import { Cell, fmtRate, td, th } from './cells'

const METRICS: { key: keyof MemoryRow; title: string; what: string }[] = [
  { key: 'recall', title: 'Recall', what: 'the reply to a told fact’s question contains its answer' },
  { key: 'binding', title: 'Binding', what: 'the reply contains its own answer and no other told fact’s' },
]

/** A saved `ttt bench memory` result: recall and binding against the number of facts told,
 * one line per condition (and model), and every row in a table. */
export function MemoryResult({ doc }: { doc: BenchmarkResult }) {
  const rows = useMemo(() => memoryRows(doc), [doc])
  const table = useMemo(() => sortMemory(rows), [rows])
  const models = [...new Set(rows.map((r) => r.model))]
  return (
    <>
      <div className="grid grid-cols-1 gap-3 xl:grid-cols-2">
        {METRICS.map((m) => (
          <MetricChart key={m.key} doc={doc} rows={rows} metric={m.key} title={m.title} what={m.what} />
        ))}
      </div>
      <Card id="bench-memory-rows" title="Rows" subtitle={`${rows.length} rows · means over seeds ${JSON.stringify(doc.config?.seeds ?? rows[0]?.seeds ?? [])} · questions asked in a fresh context, greedy replies`}>
        <div className="overflow-x-auto" tabIndex={0} role="region" aria-label="Memory benchmark rows (scrolls)">
          <table className="w-full text-xs" aria-label={`Memory benchmark ${doc.id}`} data-testid="bench-memory-table" data-count={table.length}>
            <thead>
              <tr className="border-b border-zinc-800">
                {models.length > 1 && <th className={th}>model</th>}
                <th className={`${th} text-right`}>facts</th><th className={th}>condition</th>
                <th className={`${th} text-right`}>recall</th><th className={`${th} text-right`}>binding</th>
                <th className={`${th} text-right`}>wrong fact</th><th className={`${th} text-right`}>control leak</th>
                <th className={`${th} text-right`}>control guess</th><th className={`${th} text-right`}>perplexity before → after</th>
                <th className={`${th} text-right`}>commit rate</th><th className={`${th} text-right`}>seconds</th>
              </tr>
            </thead>
            <tbody>
              {table.map((r) => {
                const rise = r.ppl_before && r.ppl_after !== null ? r.ppl_after / r.ppl_before - 1 : null
                return (
                  <tr key={`${r.model}-${r.n_facts}-${r.condition}`} className="border-b border-zinc-900" data-model={r.model} data-n-facts={r.n_facts} data-condition={r.condition}>
                    {models.length > 1 && <td className={`${td} font-mono`}>{r.model}</td>}
                    <Cell k="n_facts" v={r.n_facts} text={String(r.n_facts)} />
                    <td className={td}>{CONDITION_LABEL[r.condition] ?? r.condition}</td>
                    <Cell k="recall" v={r.recall} text={fmtRate(r.recall)} />
                    <Cell k="binding" v={r.binding} text={fmtRate(r.binding)} />
                    <Cell k="wrong_fact" v={r.wrong_fact} text={fmtRate(r.wrong_fact)} />
                    <Cell k="control_leak" v={r.control_leak} text={fmtRate(r.control_leak)} />
                    <Cell k="control_guess" v={r.control_guess} text={fmtRate(r.control_guess)} />
                    <td className={`${td} text-right font-mono`} data-key="ppl" data-before={r.ppl_before ?? ''} data-after={r.ppl_after ?? ''}>
                      {r.condition === 'fast_weights' ? `${fmtNum(r.ppl_before)} → ${fmtNum(r.ppl_after)}${rise !== null ? ` (${fmtPct(rise, 1, true)})` : ''}` : fmtNum(r.ppl_before)}
                    </td>
                    <Cell k="commit_rate" v={r.commit_rate} text={fmtRate(r.commit_rate)} />
                    <Cell k="seconds" v={r.seconds} text={fmtNum(r.seconds, 3)} />
                  </tr>
                )
              })}
            </tbody>
          </table>
        </div>
      </Card>
    </>
  )
}

function MetricChart({ doc, rows, metric, title, what }: { doc: BenchmarkResult; rows: MemoryRow[]; metric: keyof MemoryRow; title: string; what: string }) {
  const { x, series } = useMemo(() => memorySeries(rows, metric), [rows, metric])
  const values = Object.fromEntries(series.map((s) => [s.key, s.values]))
  return (
    <Card id={`bench-${metric}`} title={`${title} vs facts told`} subtitle={what}>
      <TimeChart
        id={`bench-${metric}-chart`}
        ariaLabel={`${title} against the number of facts told, per condition, in benchmark ${doc.id}`}
        x={x}
        series={series.map((s) => ({ ...s, width: 1.8, points: true }))}
        xLabel="facts told"
        yLabel={metric}
        height={220}
        yRange={[0, 1]}
        syncCursor={false}
        exportName={`${doc.id}-${metric}`}
        dataAttrs={{ result: doc.id, metric, x: JSON.stringify(x), values: JSON.stringify(values) }}
      />
      {series.length > 1 && coincide(series) && <p className="mt-1 text-[11px] text-zinc-500">Every condition scores the same here: the lines lie on top of each other.</p>}
    </Card>
  )
}
