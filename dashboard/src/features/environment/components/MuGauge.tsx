import type { SessionMeta } from '@/api/types'
import { fmtNum } from '@/lib/format'

/**
 * Where the hidden μ sits in [μ_min, μ_max], and in nonlinear mode the friction law it
 * implies: static friction min(0.95, 2μ) below speed 2μ, dynamic 0.5μ above.
 */
export function MuGauge({ meta, muSeries }: { meta: SessionMeta; muSeries: number[] }) {
  const env = (meta.env_cfg ?? {}) as Record<string, unknown>
  const lo = typeof env.mu_min === 'number' ? env.mu_min : 0.02
  const hi = typeof env.mu_max === 'number' ? env.mu_max : 0.25
  const mu = meta.mu
  const W = 320
  const x = (v: number) => 12 + ((v - lo) / (hi - lo)) * (W - 24)
  const nonlinear = meta.env_mode === 'nonlinear'
  const muMin = muSeries.length ? Math.min(...muSeries) : mu
  const muMax = muSeries.length ? Math.max(...muSeries) : mu
  const varies = muMax - muMin > 1e-12
  const staticF = Math.min(0.95, 2 * mu)
  const dynamicF = 0.5 * mu
  const vth = 2 * mu
  return (
    <div data-testid="mu-gauge" data-mu={mu} data-mode={meta.env_mode}>
      <p className="text-sm text-zinc-200">
        This session's friction coefficient is <span className="font-mono text-amber-300">μ = {fmtNum(mu, 4)}</span>, hidden from the model:
        it can only infer μ from how the point mass slows down, and store it in its fast weights.
      </p>
      <svg width={W} height={46} className="mt-2" role="img" aria-label={`μ ${fmtNum(mu, 4)} in the range ${fmtNum(lo)} to ${fmtNum(hi)}`}>
        <line x1={12} x2={W - 12} y1={20} y2={20} stroke="#3f3f46" strokeWidth={4} strokeLinecap="round" />
        {varies && <line x1={x(muMin)} x2={x(muMax)} y1={20} y2={20} stroke="#fbbf24" strokeOpacity={0.4} strokeWidth={8} strokeLinecap="round" />}
        <circle cx={x(Math.min(hi, Math.max(lo, mu)))} cy={20} r={6} fill="#fbbf24" />
        <text x={12} y={42} fill="#a1a1aa" fontSize="10">μ_min {fmtNum(lo)}</text>
        <text x={W - 12} y={42} fill="#a1a1aa" fontSize="10" textAnchor="end">μ_max {fmtNum(hi)}</text>
      </svg>
      {varies && <p className="text-xs text-amber-200/80">μ changes during this run: {fmtNum(muMin, 4)} … {fmtNum(muMax, 4)} (schedule {String(env.schedule ?? '')}).</p>}
      {nonlinear ? (
        <div className="mt-2">
          <p className="text-xs text-zinc-300">
            Nonlinear friction: below speed <span className="font-mono">2μ = {fmtNum(vth, 3)}</span> the static coefficient{' '}
            <span className="font-mono">min(0.95, 2μ) = {fmtNum(staticF, 3)}</span> applies; above it the dynamic coefficient{' '}
            <span className="font-mono">0.5μ = {fmtNum(dynamicF, 3)}</span>.
          </p>
          <FrictionLaw vth={vth} staticF={staticF} dynamicF={dynamicF} />
        </div>
      ) : (
        <p className="mt-2 text-xs text-zinc-300">
          Linear friction: every step <span className="font-mono">v ← (1 − μ)·v + a</span>, so the velocity keeps {fmtNum((1 - mu) * 100, 3)}% of itself.
        </p>
      )}
    </div>
  )
}

function FrictionLaw({ vth, staticF, dynamicF }: { vth: number; staticF: number; dynamicF: number }) {
  const W = 320, H = 90, P = 26
  const vmax = vth * 2.5
  const fmax = Math.max(staticF, dynamicF) * 1.2
  const X = (v: number) => P + (v / vmax) * (W - P - 8)
  const Y = (f: number) => H - 16 - (f / fmax) * (H - 26)
  return (
    <svg width={W} height={H} role="img" aria-label={`Friction coefficient versus speed: ${fmtNum(staticF, 3)} below speed ${fmtNum(vth, 3)}, ${fmtNum(dynamicF, 3)} above`} className="mt-1">
      <line x1={P} x2={W - 8} y1={H - 16} y2={H - 16} stroke="#3f3f46" />
      <line x1={P} x2={P} y1={6} y2={H - 16} stroke="#3f3f46" />
      <path d={`M${X(0)},${Y(staticF)}L${X(vth)},${Y(staticF)}L${X(vth)},${Y(dynamicF)}L${X(vmax)},${Y(dynamicF)}`} fill="none" stroke="#fbbf24" strokeWidth={2} />
      <line x1={X(vth)} x2={X(vth)} y1={6} y2={H - 16} stroke="#f87171" strokeDasharray="3 3" />
      <text x={X(vth) + 3} y={14} fill="#fca5a5" fontSize="10">|v| = 2μ</text>
      <text x={X(vth / 2)} y={Y(staticF) - 4} fill="#e4e4e7" fontSize="10" textAnchor="middle">static {fmtNum(staticF, 3)}</text>
      <text x={X((vth + vmax) / 2)} y={Y(dynamicF) - 4} fill="#e4e4e7" fontSize="10" textAnchor="middle">dynamic {fmtNum(dynamicF, 3)}</text>
      <text x={W - 8} y={H - 3} fill="#a1a1aa" fontSize="10" textAnchor="end">speed |v|</text>
      <text x={P - 4} y={12} fill="#a1a1aa" fontSize="10" textAnchor="end">coef</text>
    </svg>
  )
}
