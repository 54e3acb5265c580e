import type { ReactNode } from 'react'
import type { PerStep, SessionDetail } from '@/api/types'
import { Ring } from '@/components/ui/Ring'
import { Sparkline } from '@/components/ui/Sparkline'
import { fmtAge, fmtDate, fmtInt, fmtNum, fmtPct, isNum } from '@/lib/format'
import type { LiveBuffer } from '../hooks/useLiveRun'

function Stat({ label, value, sub, children, testId, tone }: { label: string; value: string; sub?: string; children?: ReactNode; testId: string; tone?: string }) {
  return (
    <div className="flex min-w-0 items-center gap-3 rounded-lg border border-zinc-800/80 bg-zinc-900/40 px-3 py-2.5 animate-fade-in" data-testid={testId}>
      <div className="min-w-0 flex-1">
        <div className="truncate text-[11px] font-medium text-zinc-400">{label}</div>
        <div className={`tabular truncate font-mono text-xl font-semibold ${tone ?? 'text-zinc-50'}`} data-value={value}>{value}</div>
        {sub && <div className="truncate text-[11px] text-zinc-500">{sub}</div>}
      </div>
      {children}
    </div>
  )
}

const mean = (xs: number[]) => {
  const f = xs.filter(Number.isFinite)
  return f.length ? f.reduce((a, b) => a + b, 0) / f.length : null
}

/** The six hero numbers. During a live run the MSE figures follow the stream. */
export function HeroMetrics({ detail, spark, live }: { detail: SessionDetail; spark: PerStep | undefined; live: LiveBuffer | null }) {
  const m = detail.metrics
  const meta = detail.meta
  const liveN = live?.t.length ?? 0
  const b = liveN >= 10 ? mean(live!.baseline.slice(-100)) : (m.baseline_mse_last100_mean ?? null)
  const a = liveN >= 10 ? mean(live!.adaptive.slice(-100)) : (m.adaptive_mse_last100_mean ?? null)
  const imp = isNum(b) && isNum(a) && b !== 0 ? (b - a) / b : (m.improvement_last100 ?? null)
  const committed = m.updates_committed ?? 0
  const attempted = m.updates_attempted ?? 0
  const rolled = m.updates_rolled_back ?? Math.max(0, attempted - committed)
  const bs = spark?.series.baseline_mse?.mean ?? []
  const as = spark?.series.adaptive_mse?.mean ?? []
  const envCfg = (meta.env_cfg ?? {}) as Record<string, unknown>
  const muMin = typeof envCfg.mu_min === 'number' ? envCfg.mu_min : 0.02
  const muMax = typeof envCfg.mu_max === 'number' ? envCfg.mu_max : 0.25
  const muFrac = Math.min(1, Math.max(0, (meta.mu - muMin) / (muMax - muMin)))
  return (
    <div className="grid grid-cols-2 gap-2 md:grid-cols-3 xl:grid-cols-6" data-testid="hero-metrics">
      <Stat testId="stat-baseline" label="Baseline MSE (frozen)" value={fmtNum(b)} sub={liveN >= 10 ? 'live · last 100 steps' : 'last 100 steps'}>
        <Sparkline values={bs} color="#a1a1aa" label="baseline MSE over the run" width={84} />
      </Stat>
      <Stat testId="stat-adaptive" label="Adaptive MSE (TTT)" value={fmtNum(a)} sub={liveN >= 10 ? 'live · last 100 steps' : 'last 100 steps'} tone="text-cyan-300">
        <Sparkline values={as} color="#22d3ee" label="adaptive MSE over the run" width={84} />
      </Stat>
      <Stat
        testId="stat-improvement"
        label="Improvement (last 100)"
        value={fmtPct(imp, imp !== null && Math.abs(imp) > 0.99 ? 2 : 1, true)}
        sub={imp === null ? 'no data yet' : imp >= 0 ? 'adaptive better than baseline' : 'adaptive worse than baseline'}
        tone={imp === null ? undefined : imp >= 0 ? 'text-emerald-300' : 'text-red-300'}
      />
      <Stat testId="stat-commits" label="Committed / attempted" value={`${fmtInt(committed)} / ${fmtInt(attempted)}`} sub={`${fmtInt(rolled)} rolled back`}>
        <Ring value={committed} total={attempted} />
      </Stat>
      <Stat testId="stat-mu" label="Hidden μ (friction)" value={fmtNum(meta.mu, 4)} sub={`${meta.env_mode} · ${scheduleText(envCfg) ?? `range ${fmtNum(muMin)}–${fmtNum(muMax)}`}`}>
        <svg width="44" height="24" role="img" aria-label={`μ sits at ${Math.round(muFrac * 100)}% of its range`}>
          <line x1="2" x2="42" y1="12" y2="12" stroke="#3f3f46" strokeWidth="3" strokeLinecap="round" />
          <circle cx={2 + muFrac * 40} cy="12" r="4" fill="#fbbf24" />
        </svg>
      </Stat>
      <Stat testId="stat-age" label="Session age" value={fmtAge(meta.created_at)} sub={`${fmtDate(meta.created_at)} · ${fmtInt(m.steps_total ?? null)} steps`} />
    </div>
  )
}

/** "jumps to 0.2 at t 600" / "drifts 1e-4 per step" for a non-constant μ schedule, else null. */
export function scheduleText(env: Record<string, unknown>): string | null {
  if (env.schedule === 'jump' && typeof env.jump_to === 'number' && typeof env.jump_step === 'number') {
    return `jumps to ${fmtNum(env.jump_to, 4)} at t ${fmtInt(env.jump_step)}`
  }
  if (env.schedule === 'drift' && typeof env.drift_rate === 'number') return `drifts ${fmtNum(env.drift_rate, 3)} per step`
  return null
}
