import { useQueries } from '@tanstack/react-query'
import { useMemo, useRef, useState } from 'react'
import { getPerStep } from '@/api/queries/perStep'
import { useSessions } from '@/api/queries/sessions'
import type { SessionSummary } from '@/api/types'
import { TimeChart, type ChartSeries } from '@/components/charts/TimeChart'
import { Loading } from '@/components/ui/States'
import { Toggle } from '@/components/ui/Toggle'
import { useElementWidth } from '@/hooks/useElementWidth'
import { fmtNum, fmtPct } from '@/lib/format'

const PALETTE = ['#22d3ee', '#f472b6', '#a3e635', '#fbbf24', '#a78bfa', '#fb923c', '#34d399', '#f87171']

/** Overlaid MSE curves (adaptive solid, baseline dashed, one colour per session) and metric bars. */
export function CompareView({ ids }: { ids: string[] }) {
  const ref = useRef<HTMLDivElement>(null)
  const width = useElementWidth(ref)
  const [log, setLog] = useState(true)
  const all = useSessions({ limit: 1000, sort: '-created_at' })
  const sums = useMemo(() => ids.map((id) => all.data?.items.find((s) => s.session_id === id)).filter((s): s is SessionSummary => !!s), [ids, all.data])
  const points = Math.max(100, Math.floor((width - 64) / Math.max(1, Math.min(2, sums.length / 2))))
  const qs = useQueries({
    queries: sums.map((s) => ({
      queryKey: ['perStep', s.session_id, s.last_run_id, null, null, points, null],
      queryFn: ({ signal }: { signal: AbortSignal }) => getPerStep({ session: s.session_id, run: s.last_run_id as string, points }, signal),
      enabled: !!s.last_run_id && width > 0,
      staleTime: 60_000,
    })),
  })
  const ready = qs.every((q) => q.data || !q.isPending)
  const chart = useMemo(() => {
    if (!ready) return null
    const xs = new Set<number>()
    qs.forEach((q) => q.data?.t.forEach((t) => xs.add(t)))
    const x = [...xs].sort((a, b) => a - b)
    const pos = new Map(x.map((t, i) => [t, i]))
    const series: ChartSeries[] = []
    sums.forEach((s, i) => {
      const d = qs[i].data
      if (!d) return
      const col = PALETTE[i % PALETTE.length]
      const put = (v: (number | null)[] | undefined) => {
        const out = new Array<number | null>(x.length).fill(null)
        d.t.forEach((t, j) => (out[pos.get(t) as number] = v?.[j] ?? null))
        return out
      }
      series.push({ key: `${s.session_id}:a`, label: `${s.session_id} adaptive`, color: col, values: put(d.series.adaptive_ema?.mean ?? d.series.adaptive_mse?.mean), width: 1.75, spanGaps: true })
      series.push({ key: `${s.session_id}:b`, label: `${s.session_id} baseline`, color: col, values: put(d.series.baseline_ema?.mean ?? d.series.baseline_mse?.mean), width: 1, dash: [4, 3], alpha: 0.7, spanGaps: true })
    })
    return { x, series }
  }, [ready, qs.map((q) => q.dataUpdatedAt).join(','), sums]) // eslint-disable-line react-hooks/exhaustive-deps

  const maxMse = Math.max(1e-12, ...sums.flatMap((s) => [s.baseline_mse_last100_mean ?? 0, s.adaptive_mse_last100_mean ?? 0]))
  return (
    <div ref={ref} className="space-y-3" data-testid="compare-view" data-sessions={sums.map((s) => s.session_id).join(',')}>
      <div className="flex items-center gap-2 text-[11px] text-zinc-400">
        <span>MSE of each session's last run (debiased EMA, α = 0.05) · adaptive solid, baseline dashed</span>
        <span className="ml-auto"><Toggle pressed={log} onChange={setLog}>log scale</Toggle></span>
      </div>
      {!chart ? <Loading what="series to compare" /> : (
        <TimeChart id="compare-chart" ariaLabel={`MSE over steps for ${sums.length} sessions`} x={chart.x} series={chart.series} log={log} height={260} xLabel="step t" yLabel="MSE" syncCursor={false} exportName="compare_mse" />
      )}
      <div className="grid grid-cols-1 gap-2 md:grid-cols-2" data-testid="compare-bars">
        {sums.map((s, i) => (
          <div key={s.session_id} className="rounded border border-zinc-800 p-2 text-xs" data-session={s.session_id}>
            <div className="mb-1 flex items-center gap-2">
              <span className="h-2 w-2 rounded-full" style={{ background: PALETTE[i % PALETTE.length] }} />
              <span className="font-mono text-zinc-100">{s.session_id}</span>
              <span className="text-zinc-500">μ {fmtNum(s.mu, 3)} · {s.env_mode}</span>
              <span className={`ml-auto font-mono ${(s.improvement_last100 ?? 0) >= 0 ? 'text-emerald-300' : 'text-red-300'}`}>{fmtPct(s.improvement_last100, 1, true)}</span>
            </div>
            {(['baseline_mse_last100_mean', 'adaptive_mse_last100_mean'] as const).map((k) => (
              <div key={k} className="grid grid-cols-[70px_1fr_70px] items-center gap-2">
                <span className="text-zinc-400">{k.startsWith('baseline') ? 'baseline' : 'adaptive'}</span>
                <span className="h-2 rounded-sm bg-zinc-800"><span className="block h-full rounded-sm" style={{ width: `${(100 * (s[k] ?? 0)) / maxMse}%`, background: k.startsWith('baseline') ? '#a1a1aa' : PALETTE[i % PALETTE.length] }} /></span>
                <span className="tabular text-right font-mono text-zinc-200">{fmtNum(s[k])}</span>
              </div>
            ))}
            <div className="mt-1 text-zinc-500">{s.updates_committed}/{s.updates_attempted} commits · {s.steps_total} steps</div>
          </div>
        ))}
      </div>
    </div>
  )
}
