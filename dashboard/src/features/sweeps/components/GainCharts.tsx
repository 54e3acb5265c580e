import { useMemo } from 'react'
import { histogram } from '@/lib/histogram'
import { fmtNum, fmtPct } from '@/lib/format'
import type { SweepRow } from '../lib/rows'

const MODE_COLOR: Record<string, string> = { linear: '#22d3ee', nonlinear: '#f59e0b' }
const color = (m: string) => MODE_COLOR[m] ?? '#a1a1aa'

/** gain = 1 − adaptive/baseline (last 100 steps): its y range, always showing 0 and 1. */
function gainRange(rows: SweepRow[]): [number, number] {
  const g = rows.map((r) => r.gain).filter(Number.isFinite)
  return [Math.min(0, ...g) - 0.05, Math.max(1, ...g) + 0.02]
}

/**
 * Gain against μ, one dot per session of the sweep (colour = env mode): where in the friction
 * range online learning helps and where it does not. Click a dot to pick its row.
 */
export function GainVsMu({ rows, selected, onPick }: { rows: SweepRow[]; selected: number | null; onPick: (i: number) => void }) {
  const W = 640, H = 260, L = 48, R = 12, T = 12, B = 34
  const mus = rows.map((r) => r.mu)
  const x0 = Math.min(...mus), x1 = Math.max(...mus)
  const [y0, y1] = gainRange(rows)
  const X = (m: number) => L + ((m - x0) / Math.max(1e-9, x1 - x0)) * (W - L - R)
  const Y = (g: number) => T + ((y1 - g) / (y1 - y0)) * (H - T - B)
  const ticksY = [y0 < -0.5 ? Math.ceil(y0) : -0.5, 0, 0.5, 1].filter((v) => v >= y0 && v <= y1)
  const ticksX = Array.from({ length: 5 }, (_, i) => x0 + ((x1 - x0) * i) / 4)
  const modes = [...new Set(rows.map((r) => r.env_mode))]
  return (
    <div data-testid="gain-vs-mu" data-points={rows.length}>
      <div className="mb-1 flex gap-3 text-[11px] text-zinc-400">
        {modes.map((m) => (
          <span key={m} className="flex items-center gap-1"><span className="inline-block h-2 w-2 rounded-full" style={{ background: color(m) }} />{m}</span>
        ))}
        <span className="ml-auto">gain = 1 − adaptive / baseline MSE, last 100 steps</span>
      </div>
      <svg viewBox={`0 0 ${W} ${H}`} className="w-full max-w-[760px]" role="img" aria-label={`Gain against μ for ${rows.length} sessions`}>
        {ticksY.map((v) => (
          <g key={v}>
            <line x1={L} x2={W - R} y1={Y(v)} y2={Y(v)} stroke={v === 0 ? '#52525b' : 'rgba(255,255,255,0.07)'} />
            <text x={L - 6} y={Y(v) + 3} fill="#a1a1aa" fontSize="10" textAnchor="end">{fmtNum(v, 2)}</text>
          </g>
        ))}
        {ticksX.map((v) => (
          <text key={v} x={X(v)} y={H - B + 14} fill="#a1a1aa" fontSize="10" textAnchor="middle">{fmtNum(v, 3)}</text>
        ))}
        <text x={(L + W - R) / 2} y={H - 4} fill="#a1a1aa" fontSize="11" textAnchor="middle">hidden μ (friction)</text>
        <text x={12} y={(T + H - B) / 2} fill="#a1a1aa" fontSize="11" textAnchor="middle" transform={`rotate(-90 12 ${(T + H - B) / 2})`}>gain</text>
        {rows.map((r, i) => (
          <circle
            key={i}
            cx={X(r.mu)}
            cy={Y(Number.isFinite(r.gain) ? r.gain : y0)}
            r={selected === i ? 6 : 4}
            fill={color(r.env_mode)}
            fillOpacity={0.85}
            stroke={selected === i ? '#fafafa' : 'none'}
            className="cursor-pointer"
            data-row={i}
            data-mu={r.mu}
            data-gain={r.gain}
            onClick={() => onPick(i)}
          >
            <title>{`${r.env_mode} μ ${fmtNum(r.mu, 4)}: gain ${fmtPct(r.gain, 1, true)} (${r.commits}/${r.attempts} committed)`}</title>
          </circle>
        ))}
      </svg>
    </div>
  )
}

/** Distribution of the gain per env mode (histogram bars side by side), with the median. */
export function GainHistogram({ rows }: { rows: SweepRow[] }) {
  const [y0, y1] = gainRange(rows)
  const modes = useMemo(() => [...new Set(rows.map((r) => r.env_mode))], [rows])
  const bins = 20
  const hs = modes.map((m) => ({ m, h: histogram(rows.filter((r) => r.env_mode === m).map((r) => r.gain), bins, y0, y1) }))
  const max = Math.max(1, ...hs.flatMap((x) => x.h.counts))
  const W = 640, H = 160, L = 32, B = 22
  const bw = (W - L - 8) / bins
  const sub = bw / Math.max(1, modes.length)
  return (
    <div data-testid="gain-histogram" data-sessions={rows.length}>
      <svg viewBox={`0 0 ${W} ${H}`} className="w-full max-w-[760px]" role="img" aria-label={`Distribution of the gain over ${rows.length} sessions, per env mode`}>
        {hs.map(({ m, h }, k) =>
          h.counts.map((c, i) => (
            <rect key={`${m}-${i}`} x={L + i * bw + k * sub + 1} y={H - B - ((H - B - 8) * c) / max} width={Math.max(1, sub - 2)} height={((H - B - 8) * c) / max} fill={color(m)} opacity={0.85}>
              <title>{`${m}: gain ${fmtNum(h.edges[i], 2)}–${fmtNum(h.edges[i + 1], 2)}: ${c} sessions`}</title>
            </rect>
          )),
        )}
        <line x1={L} x2={W - 8} y1={H - B} y2={H - B} stroke="#52525b" />
        {[y0, 0, 0.5, 1].filter((v, i, a) => a.indexOf(v) === i && v >= y0 && v <= y1).map((v) => (
          <text key={v} x={L + ((v - y0) / (y1 - y0)) * (W - L - 8)} y={H - 6} fill="#a1a1aa" fontSize="10" textAnchor="middle">{fmtNum(v, 2)}</text>
        ))}
        <text x={L - 4} y={12} fill="#a1a1aa" fontSize="10" textAnchor="end">{max}</text>
      </svg>
    </div>
  )
}
