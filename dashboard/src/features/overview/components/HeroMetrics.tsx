import type { ReactNode } from 'react'
import type { PerStep, RunInfo, SessionDetail } from '@/api/types'
import { Ring } from '@/components/ui/Ring'
import { Sparkline } from '@/components/ui/Sparkline'
import { fmtAge, fmtDate, fmtInt, fmtNum, fmtPct, isNum } from '@/lib/format'
import { runReference } from '@/lib/reference'
import type { LiveBuffer } from '../hooks/useLiveRun'

function Stat({
  label, value, sub, children, testId, tone, title, data,
}: {
  label: string
  value: string
  sub?: string
  children?: ReactNode
  testId: string
  tone?: string
  title?: string
  data?: Record<string, string | number | boolean>
}) {
  const attrs: Record<string, string> = {}
  for (const [k, v] of Object.entries(data ?? {})) attrs[`data-${k}`] = String(v)
  return (
    <div className="flex min-w-0 items-center gap-3 rounded-lg border border-zinc-800/80 bg-zinc-900/40 px-3 py-2.5 animate-fade-in" data-testid={testId} title={title} {...attrs}>
      <div className="min-w-0 flex-1">
        <div className="truncate text-[11px] font-medium text-zinc-400">{label}</div>
        <div className={`tabular truncate font-mono text-xl font-semibold ${tone ?? 'text-zinc-50'}`} data-value={value}>{value}</div>
        {sub && <div className="truncate text-[11px] text-zinc-500" title={sub}>{sub}</div>}
      </div>
      {children}
    </div>
  )
}

const mean = (xs: ArrayLike<number | null>) => {
  let sum = 0
  let n = 0
  for (let i = 0; i < xs.length; i++) {
    const v = xs[i]
    if (v !== null && Number.isFinite(v)) {
      sum += v
      n++
    }
  }
  return n ? sum / n : null
}

const ratio = (ref: number | null, a: number | null) => (isNum(ref) && isNum(a) && ref !== 0 ? (ref - a) / ref : null)

export interface HeroProps {
  detail: SessionDetail
  run: RunInfo | undefined
  /** exact rows of the run's last 100 steps (per_step window, bucket 1) */
  last100: PerStep | undefined
  spark: PerStep | undefined
  /** the live run's buffer when the selected run is the one streaming */
  live: LiveBuffer | null
  /** attempts per status of the selected run, live ones included (the timeline's totals) */
  totals: Record<string, number>
}

/**
 * The six hero numbers, all about the selected run (the run the chart and timeline show):
 * last-100 MSE of the session's own start and of the adaptive weights, the improvement
 * against that start (a fork against its fork point, never against the pretrained base its
 * parent learned from), committed / attempted (the timeline's totals, live included), μ, age.
 */
export function HeroMetrics({ detail, run, last100, spark, live, totals }: HeroProps) {
  const meta = detail.meta
  const m = detail.metrics
  const ref = runReference(meta, detail.runs, run)
  const liveN = live?.t.length ?? 0
  const useLive = liveN >= 10
  const col = (k: 'baseline_mse' | 'adaptive_mse' | 'frozen_mse') => last100?.series[k]?.mean ?? []
  const pick = (k: 'baseline_mse' | 'adaptive_mse' | 'frozen_mse') =>
    useLive ? mean((k === 'baseline_mse' ? live!.baseline : k === 'adaptive_mse' ? live!.adaptive : live!.frozen).slice(-100)) : mean(col(k))
  const b = pick('baseline_mse')
  const a = pick('adaptive_mse')
  const own = ref.column === 'frozen_mse' ? pick('frozen_mse') : b
  const imp = ratio(own, a)
  const impBase = ratio(b, a)
  const committed = totals.commit ?? 0
  const attempted = Object.values(totals).reduce((x, y) => x + y, 0)
  const rolled = attempted - committed
  const bs = spark?.series[ref.column]?.mean ?? []
  const as = spark?.series.adaptive_mse?.mean ?? []
  const envCfg = (meta.env_cfg ?? {}) as Record<string, unknown>
  const muMin = typeof envCfg.mu_min === 'number' ? envCfg.mu_min : 0.02
  const muMax = typeof envCfg.mu_max === 'number' ? envCfg.mu_max : 0.25
  const muFrac = Math.min(1, Math.max(0, (meta.mu - muMin) / (muMax - muMin)))
  const when = useLive ? 'live · last 100 steps' : 'last 100 steps'
  const isFork = ref.kind !== 'base'
  const multiRun = detail.runs.length > 1
  return (
    <div className="grid grid-cols-2 gap-2 md:grid-cols-3 xl:grid-cols-6" data-testid="hero-metrics" data-run={run?.run_id ?? ''} data-live={useLive}>
      <Stat
        testId="stat-baseline"
        label={isFork ? 'Fork start MSE (frozen)' : 'Pretrained base MSE'}
        value={fmtNum(own)}
        sub={isFork ? `base ${fmtNum(b)} · ${when}` : when}
        data={{ value: own ?? '', base: b ?? '' }}
      >
        <Sparkline values={bs} color="#a1a1aa" label={`${isFork ? 'fork start' : 'baseline'} MSE over the run`} width={84} />
      </Stat>
      <Stat testId="stat-adaptive" label="Adaptive MSE (TTT)" value={fmtNum(a)} sub={when} tone="text-cyan-300" data={{ value: a ?? '' }}>
        <Sparkline values={as} color="#22d3ee" label="adaptive MSE over the run" width={84} />
      </Stat>
      <Stat
        testId="stat-improvement"
        label={`Improvement vs ${ref.kind === 'base' ? 'base' : ref.kind === 'fork_start' ? 'fork start' : 'run start'}`}
        value={fmtPct(imp, imp !== null && Math.abs(imp) > 0.99 ? 2 : 1, true)}
        sub={
          imp === null
            ? 'no data yet'
            : isFork
              ? `vs base ${fmtPct(impBase, 1, true)} (with parent’s learning)`
              : imp >= 0
                ? 'adaptive better than its start'
                : 'adaptive worse than its start'
        }
        title={`1 − adaptive / ${ref.label}, mean of the last 100 steps`}
        tone={imp === null ? undefined : imp >= 0 ? 'text-emerald-300' : 'text-red-300'}
        data={{ ratio: imp ?? '', reference: ref.kind, 'ratio-vs-base': impBase ?? '' }}
      />
      <Stat
        testId="stat-commits"
        label="Committed / attempted"
        value={`${fmtInt(committed)} / ${fmtInt(attempted)}`}
        sub={`${fmtInt(rolled)} rolled back or blocked${multiRun ? ` · session: ${fmtInt(m.updates_committed ?? 0)} / ${fmtInt(m.updates_attempted ?? 0)}` : ''}`}
        data={{ committed, attempted }}
      >
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
