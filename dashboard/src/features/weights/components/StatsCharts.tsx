import { useMemo } from 'react'
import type { WeightStats } from '@/api/types'
import { TimeChart, type ChartSeries } from '@/components/charts/TimeChart'
import type { ViewState } from '@/lib/urlState'
import { sortMatrices } from './MatricesPanel'

const COLORS: Record<string, string> = { W_u: '#22d3ee', B: '#a78bfa', W_o: '#fbbf24' }
const METRICS = [
  { key: 'fro', label: 'Frobenius norm ‖W‖F' },
  { key: 'max_abs', label: 'max |w|' },
  { key: 'mean', label: 'mean w' },
  { key: 'std', label: 'std w' },
] as const

/**
 * ‖W‖F, max|w|, mean and std of each plastic matrix over time: one small chart per matrix and
 * statistic, each with its own y axis (the matrices differ by orders of magnitude: on one
 * shared axis the small ones lie flat at 0). All share the time cursor and zoom.
 */
export function StatsCharts({
  stats,
  view,
  patch,
  onPickT,
}: {
  stats: WeightStats
  view: ViewState
  patch: (p: Partial<ViewState>, o?: { push?: boolean }) => void
  onPickT: (t: number) => void
}) {
  const names = sortMatrices(Object.keys(stats.stats))
  const xRange: [number, number] | null = view.from !== null && view.to !== null ? [view.from, view.to] : null
  const rows = useMemo(
    () =>
      METRICS.map((m) => ({
        ...m,
        charts: names.map((n) => ({
          name: n,
          series: [
            {
              key: n,
              label: n,
              color: COLORS[n] ?? '#a1a1aa',
              values: stats.stats[n][m.key],
              width: 1.5,
              points: stats.t.length <= 60,
            } satisfies ChartSeries,
          ],
        })),
      })),
    [stats, names.join(',')], // eslint-disable-line react-hooks/exhaustive-deps
  )
  return (
    <div className="space-y-2" data-testid="weight-stats" data-updates={stats.k.length} data-layout="per-matrix">
      {rows.map((r) => (
        <div key={r.key}>
          <div className="text-[11px] font-medium text-zinc-400">{r.label}</div>
          <div className="grid grid-cols-1 gap-x-4 md:grid-cols-3">
            {r.charts.map((c) => (
              <TimeChart
                key={c.name}
                id={`wstat-${r.key}-${c.name}`}
                ariaLabel={`${r.label} of ${c.name} over time`}
                x={stats.t}
                series={c.series}
                height={120}
                xRange={xRange}
                onZoom={(from, to) => patch({ from, to }, { push: true })}
                onResetZoom={() => patch({ from: null, to: null }, { push: true })}
                onPick={onPickT}
                exportName={`weights_${r.key}_${c.name}`}
                dataAttrs={{ matrix: c.name }}
              />
            ))}
          </div>
        </div>
      ))}
    </div>
  )
}
