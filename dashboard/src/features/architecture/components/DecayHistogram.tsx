import { histogram } from '@/lib/histogram'
import { fmtNum } from '@/lib/format'

/** decay = exp(−softplus(a_raw)) per state: all in (0, 1) by construction, so h cannot blow up. */
export function DecayHistogram({ decay }: { decay: number[] }) {
  const h = histogram(decay, 20, 0, 1)
  const max = Math.max(1, ...h.counts)
  const W = 360, H = 120, P = 22
  const bw = (W - P - 6) / h.counts.length
  const allIn = decay.every((d) => d > 0 && d < 1)
  const mn = Math.min(...decay), mx = Math.max(...decay)
  return (
    <div data-testid="decay-histogram" data-n={decay.length} data-min={mn} data-max={mx} data-all-in-unit={allIn}>
      <svg width={W} height={H} role="img" aria-label={`Histogram of ${decay.length} decay values between ${fmtNum(mn, 3)} and ${fmtNum(mx, 3)}`}>
        {h.counts.map((c, i) => (
          <rect key={i} x={P + i * bw + 1} y={H - 18 - ((H - 28) * c) / max} width={bw - 2} height={((H - 28) * c) / max} fill="#a78bfa" opacity={0.85}>
            <title>{`${fmtNum(h.edges[i], 2)}–${fmtNum(h.edges[i + 1], 2)}: ${c}`}</title>
          </rect>
        ))}
        <line x1={P} x2={W - 6} y1={H - 18} y2={H - 18} stroke="#52525b" />
        {[0, 0.25, 0.5, 0.75, 1].map((v) => (
          <text key={v} x={P + v * (W - P - 6)} y={H - 4} fill="#a1a1aa" fontSize="10" textAnchor="middle">{v}</text>
        ))}
        <text x={P - 4} y={14} fill="#a1a1aa" fontSize="10" textAnchor="end">{max}</text>
      </svg>
      <p className={`text-xs ${allIn ? 'text-emerald-300' : 'text-red-300'}`}>
        {allIn
          ? `All ${decay.length} decay values lie in (0, 1) — from ${fmtNum(mn, 3)} to ${fmtNum(mx, 3)} — so without input the state shrinks every step: the dynamics are stable by construction.`
          : 'Some decay values are outside (0, 1): the stability guarantee does not hold for this checkpoint.'}
      </p>
      <p className="mt-1 text-[11px] text-zinc-500">decay = exp(−softplus(a_raw)); short memories (small decay) to long ones (near 1) give the model several time scales.</p>
    </div>
  )
}
