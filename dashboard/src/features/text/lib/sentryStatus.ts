/**
 * Sentry chunk statuses → label, colour and glyph. The engine's statuses reuse the shared
 * styles (a shape per status, never colour alone); Sentry adds `throttled_commit` (a gate
 * hit that only reduced the write) and `skipped`.
 */
import { statusStyle, type StatusStyle } from '@/lib/status'

const EXTRA: Record<string, Omit<StatusStyle, 'status'>> = {
  throttled_commit: {
    label: 'committed, throttled by gate', short: 'throttled', color: '#38bdf8', shape: 'diamond', glyph: '◇', rollback: false,
  },
  skipped: { label: 'skipped', short: 'skipped', color: '#71717a', shape: 'circle', glyph: '○', rollback: false },
}

/** Every status a Sentry event may carry, in the order filters list them. */
export const SENTRY_STATUSES = [
  'commit',
  'throttled_commit',
  'blocked_gate',
  'rollback_canary',
  'rollback_grad_norm',
  'rollback_loss_regression',
  'rollback_state_norm',
  'skipped',
] as const

export function sentryStatusStyle(status: string): StatusStyle {
  const extra = EXTRA[status]
  return extra ? { status, ...extra } : statusStyle(status)
}

/** A write that did not land: blocked by the gate or rolled back. */
export function isStopped(status: string): boolean {
  return status === 'blocked_gate' || status.startsWith('rollback_')
}
