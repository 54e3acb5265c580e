import { fmtNum } from '@/lib/format'

/** The probe's loss difference in words: exp(−Δ) is the per-token likelihood ratio of the
 * expected answer with the fast weights over without (Δ = loss with − loss without). */
export function probeVerdict(p: { loss_delta?: number | null }): string | null {
  const d = p.loss_delta
  if (d == null || !Number.isFinite(d)) return null
  if (d === 0) return 'the fast weights do not change the expected answer’s likelihood'
  const ratio = Math.exp(-d)
  return ratio > 1
    ? `the fast weights make the expected answer ${fmtNum(ratio, 3)}× likelier per token`
    : `the fast weights make the expected answer ${fmtNum(1 / ratio, 3)}× less likely per token`
}
