import type { Job } from '@/api/types'

/**
 * Estimated time left of a running job from its average rate since it started:
 * elapsed / done × (total − done). Null when it cannot be estimated honestly (not started,
 * nothing done yet, no total).
 */
export function etaMs(j: Job, now: number): number | null {
  const p = j.progress
  if (j.status !== 'running' || !j.started_at || !p || !p.total || !p.done || p.done >= p.total) return null
  const elapsed = now - Date.parse(j.started_at)
  if (!(elapsed > 0)) return null
  return (elapsed / p.done) * (p.total - p.done)
}

/** Where the thing a job works on lives in the dashboard (null when it has no view). */
export function jobLink(j: Job): string | null {
  const p = (j.params ?? {}) as Record<string, unknown>
  const r = (j.result ?? {}) as Record<string, unknown>
  const s = (v: unknown) => (typeof v === 'string' ? v : null)
  switch (j.kind) {
    case 'run_session':
      return `/nano/overview?session=${s(p.session_id)}${s(p.run_id) ? `&run=${s(p.run_id)}` : ''}`
    case 'create_session':
      return `/nano/overview?session=${s(p.session_id)}`
    case 'fork_session':
      return s(p.new_session_id) ?? s(r.session_id) ? `/nano/overview?session=${s(p.new_session_id) ?? s(r.session_id)}` : null
    case 'run_sweep':
      return `/sweeps?sweep=${s(p.sweep_id)}`
    case 'train_lm':
      return '/train'
    case 'sentry_run':
      return s(p.run_id) ? `/text?run=${s(p.run_id)}` : '/text'
    case 'redteam':
      return s(p.run_id) ? `/text?tab=redteam&rt=${s(p.run_id)}` : '/text?tab=redteam'
    case 'sleep':
      return s(p.candidate_id) ? `/chat?tab=sleep&candidate=${s(p.candidate_id)}` : '/chat?tab=sleep'
    default:
      return null
  }
}

/** The ids a job names (session, run, model …) in one short line. */
export function jobSubject(j: Job): string {
  const p = (j.params ?? {}) as Record<string, unknown>
  const keys = ['session_id', 'run_id', 'new_session_id', 'sweep_id', 'model_id', 'base_id', 'candidate_id']
  return keys.filter((k) => typeof p[k] === 'string').map((k) => `${k.replace('_id', '')} ${String(p[k])}`).join(' · ')
}
