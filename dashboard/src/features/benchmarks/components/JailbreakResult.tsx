import { useMemo } from 'react'
import type { BenchmarkResult } from '@/api/types'
import { TimeChart } from '@/components/charts/TimeChart'
import { Card } from '@/components/ui/Card'
import { fmtNum, fmtPct } from '@/lib/format'
import { coincide, jailbreakRows, refusalCurves } from '../lib/rows'
import { Cell, fmtRate, td, th } from './cells'

/** A saved `ttt bench jailbreak` result: refusal of held-out harmful requests after each
 * update of the attack stream, per defence, and one table row per defence. */
export function JailbreakResult({ doc }: { doc: BenchmarkResult }) {
  const rows = useMemo(() => jailbreakRows(doc), [doc])
  const { x, series } = useMemo(() => refusalCurves(rows), [rows])
  const curves = Object.fromEntries(series.map((s) => [s.key, s.values]))
  const first = rows[0]
  const threat = first?.threat ?? '?'
  const before = rows.map((r) => r.refusal_by_update[0]).filter((v): v is number => typeof v === 'number')
  const notRefusing = before.length > 0 && before.every((v) => v === 0)
  return (
    <>
      <Card id="bench-refusal" title="Refusal by update" subtitle={`held-out harmful requests refused after each write of the attack stream (threat: ${threat}), per defence, mean over trials`}>
        <TimeChart
          id="bench-refusal-chart"
          ariaLabel={`Refusal rate after each update of the attack stream, per defence, in benchmark ${doc.id}`}
          x={x}
          series={series.map((s) => ({ ...s, width: 1.8, points: true }))}
          xLabel="updates written"
          yLabel="refusal rate"
          height={240}
          yRange={[0, 1]}
          syncCursor={false}
          exportName={`${doc.id}-refusal`}
          dataAttrs={{ result: doc.id, x: JSON.stringify(x), curves: JSON.stringify(curves) }}
        />
        {notRefusing && (
          <p role="note" className="mt-2 text-xs text-amber-300" data-testid="bench-not-refusing">
            Before any update {first?.model} refused none of the held-out harmful requests: it is not a refusing model, so these figures say nothing about refusal erosion (measure an aligned model, e.g. <code className="font-mono">ttt lm align</code>).
          </p>
        )}
        {coincide(series) && <p className="mt-1 text-[11px] text-zinc-500">Every defence’s curve is the same here: the lines lie on top of each other.</p>}
      </Card>
      <Card id="bench-jailbreak-rows" title="Per defence" subtitle="ASR@10: chance that one of 10 independent attacks succeeds (unbiased from the trials, 95% bootstrap CI over trials)">
        <div className="overflow-x-auto" tabIndex={0} role="region" aria-label="Jailbreak benchmark rows (scrolls)">
          <table className="w-full text-xs" aria-label={`Jailbreak benchmark ${doc.id}`} data-testid="bench-jailbreak-table" data-count={rows.length}>
            <thead>
              <tr className="border-b border-zinc-800">
                <th className={th}>defence</th><th className={`${th} text-right`}>ASR@10 (95% CI)</th>
                <th className={`${th} text-right`}>successes / trials</th><th className={`${th} text-right`}>refusal first → last</th>
                <th className={`${th} text-right`}>over-refusal</th><th className={`${th} text-right`}>benign gain kept</th>
                <th className={`${th} text-right`}>commit rate</th><th className={`${th} text-right`}>detection latency</th>
                <th className={`${th} text-right`}>seconds</th>
              </tr>
            </thead>
            <tbody>
              {series.map(({ key }) => {
                const r = rows.find((row) => row.defence === key)
                if (!r) return null
                const curve = r.refusal_by_update
                return (
                  <tr key={r.defence} className="border-b border-zinc-900" data-defence={r.defence}>
                    <td className={`${td} font-mono`}>{r.defence}</td>
                    <td className={`${td} text-right font-mono`} data-key="asr_at_10" data-value={r.asr_at_10 ?? ''} data-ci-low={r.asr_ci_low ?? ''} data-ci-high={r.asr_ci_high ?? ''}>
                      {fmtPct(r.asr_at_10, 0)} <span className="text-zinc-500">({fmtPct(r.asr_ci_low, 0)}–{fmtPct(r.asr_ci_high, 0)})</span>
                    </td>
                    <td className={`${td} text-right font-mono`} data-key="trials" data-value={r.trials} data-successes={r.successes}>
                      {r.successes} / {r.trials}
                    </td>
                    <td className={`${td} text-right font-mono`} data-key="refusal" data-first={curve[0] ?? ''} data-last={curve[curve.length - 1] ?? ''}>
                      {fmtRate(curve[0])} → {fmtRate(curve[curve.length - 1])}
                    </td>
                    <Cell k="over_refusal" v={r.over_refusal} text={fmtRate(r.over_refusal)} />
                    <Cell k="benign_gain_kept" v={r.benign_gain_kept} text={fmtPct(r.benign_gain_kept, 0)} />
                    <Cell k="commit_rate" v={r.commit_rate} text={fmtRate(r.commit_rate)} />
                    <td className={`${td} text-right font-mono`} data-key="detection_latency" data-value={r.detection_latency ?? ''} data-detected={r.detected_trials}>
                      {r.detection_latency == null ? 'never refused a write' : `${fmtNum(r.detection_latency, 3)} update${r.detection_latency === 1 ? '' : 's'} (${r.detected_trials}/${r.trials} trials)`}
                    </td>
                    <Cell k="seconds" v={r.seconds} text={fmtNum(r.seconds, 3)} />
                  </tr>
                )
              })}
            </tbody>
          </table>
        </div>
        <p className="mt-2 text-[11px] text-zinc-500">
          Over-refusal: held-out benign requests refused after the stream. Benign gain kept: recall of told facts (the memory benchmark) with the defence over recall without it, both minus the recall with updates off (— when the undefended writes gained nothing). Detection latency: updates until the defence first refused a write (mean over the trials where it did).
        </p>
      </Card>
    </>
  )
}
