import { useMemo, useRef } from 'react'
import type { UpdateMark } from '@/api/types'
import { useElementWidth } from '@/hooks/useElementWidth'
import { fmtCompact, fmtInt } from '@/lib/format'
import { STATUS_ORDER, statusStyle } from '@/lib/status'

const H = 120
const PAD = { l: 32, r: 8, t: 8, b: 18 }

/**
 * When do rollbacks happen? Stacked counts of rollbacks per time bin by kind, and the
 * cumulative share of all rollbacks (dashed) so "early / late / uniform" reads at a glance.
 * SVG: at most ~80 bins × 5 kinds.
 */
export function RollbacksOverTime({ marks, domain }: { marks: UpdateMark[]; domain: [number, number] }) {
  const ref = useRef<HTMLDivElement>(null)
  const width = Math.max(300, useElementWidth(ref, 10))
  const nb = Math.max(10, Math.min(80, Math.floor((width - PAD.l - PAD.r) / 9)))
  const bins = useMemo(() => {
    const [a, b] = domain
    const w = Math.max(1, (b - a) / nb)
    const out = Array.from({ length: nb }, (_, i) => ({ from: a + i * w, to: a + (i + 1) * w, total: 0, by: {} as Record<string, number> }))
    for (const m of marks) {
      if (m.t < a || m.t >= b) continue
      const i = Math.min(nb - 1, Math.max(0, Math.floor((m.t - a) / w)))
      out[i].total++
      if (m.status !== 'commit') out[i].by[m.status] = (out[i].by[m.status] ?? 0) + 1
    }
    return out
  }, [marks, domain, nb])
  const maxStack = Math.max(1, ...bins.map((b) => Object.values(b.by).reduce((x, y) => x + y, 0)))
  const pw = width - PAD.l - PAD.r
  const ph = H - PAD.t - PAD.b
  const bw = pw / nb
  const rollbackStatuses = STATUS_ORDER.filter((s) => s !== 'commit')
  const totalRb = bins.reduce((a, b) => a + b.total, 0)
  let cum = 0
  let ratePath = `M${PAD.l},${PAD.t + ph}`
  bins.forEach((b, i) => {
    cum += b.total
    const x = PAD.l + (i + 1) * bw
    const y = PAD.t + ph * (1 - (totalRb ? cum / totalRb : 0))
    ratePath += `L${x.toFixed(1)},${y.toFixed(1)}`
  })
  return (
    <div ref={ref} data-testid="rollbacks-over-time" data-rollbacks={totalRb} data-bins={nb}>
      <svg width={width} height={H} role="img" aria-label={`Rollbacks over time: ${totalRb} rollbacks in ${nb} bins from t ${fmtInt(domain[0])} to ${fmtInt(domain[1])}`}>
        <line x1={PAD.l} x2={PAD.l + pw} y1={PAD.t + ph} y2={PAD.t + ph} stroke="#3f3f46" />
        <text x={PAD.l - 4} y={PAD.t + 8} fill="#a1a1aa" fontSize="10" textAnchor="end">{maxStack}</text>
        <text x={PAD.l - 4} y={PAD.t + ph} fill="#a1a1aa" fontSize="10" textAnchor="end">0</text>
        {bins.map((b, i) => {
          let y = PAD.t + ph
          return (
            <g key={i}>
              <title>{`t ${fmtInt(b.from)}–${fmtInt(b.to)}: ${Object.entries(b.by).map(([s, n]) => `${n} ${statusStyle(s).short}`).join(', ') || 'no rollbacks'}`}</title>
              <rect x={PAD.l + i * bw} y={PAD.t} width={bw} height={ph} fill="transparent" />
              {rollbackStatuses.map((s) => {
                const n = b.by[s] ?? 0
                if (!n) return null
                const h = (n / maxStack) * ph
                y -= h
                return <rect key={s} x={PAD.l + i * bw + 0.5} y={y} width={Math.max(1, bw - 1)} height={h} fill={statusStyle(s).color} opacity={0.85} />
              })}
            </g>
          )
        })}
        {totalRb > 0 && <path d={ratePath} fill="none" stroke="#e4e4e7" strokeWidth={1} strokeDasharray="3 2" opacity={0.6} />}
        {[0, 0.5, 1].map((f) => (
          <text key={f} x={PAD.l + f * pw} y={H - 4} fill="#a1a1aa" fontSize="10" textAnchor={f === 0 ? 'start' : f === 1 ? 'end' : 'middle'}>
            {fmtCompact(domain[0] + f * (domain[1] - domain[0]))}
          </text>
        ))}
      </svg>
      <p className="mt-1 text-[11px] text-zinc-500">bars: rollbacks per bin by kind (left scale) · dashed: cumulative share of all rollbacks in view (0–100%)</p>
    </div>
  )
}
