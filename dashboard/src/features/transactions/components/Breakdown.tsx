import { StatusGlyph } from '@/components/ui/StatusBadge'
import { fmtInt, fmtPct } from '@/lib/format'
import { STATUS_ORDER, statusStyle } from '@/lib/status'

/** Attempts by outcome: one bar per status (shape + colour + number). */
export function Breakdown({ counts }: { counts: Record<string, number> | undefined }) {
  const total = Object.values(counts ?? {}).reduce((a, b) => a + b, 0)
  const rolled = total - (counts?.commit ?? 0)
  const statuses = [...STATUS_ORDER, ...Object.keys(counts ?? {}).filter((s) => !(STATUS_ORDER as readonly string[]).includes(s))]
  return (
    <div data-testid="rollback-breakdown" data-total={total} data-rollbacks={rolled}>
      <p className="mb-2 text-xs text-zinc-400">
        <span className="font-mono text-zinc-100">{fmtInt(total)}</span> attempts ·{' '}
        <span className="font-mono text-emerald-300">{fmtInt(counts?.commit ?? 0)}</span> committed ·{' '}
        <span className="font-mono text-red-300">{fmtInt(rolled)}</span> rolled back or blocked
      </p>
      <ul className="space-y-1">
        {statuses.map((s) => {
          const n = counts?.[s] ?? 0
          const st = statusStyle(s)
          return (
            <li key={s} className="grid grid-cols-[185px_1fr_80px] items-center gap-2 text-xs" data-status={s} data-count={n}>
              <span className="flex items-center gap-1.5 text-zinc-300">
                <StatusGlyph status={s} />
                {st.label}
              </span>
              <span className="h-2 overflow-hidden rounded-sm bg-zinc-800/70" aria-hidden="true">
                <span className="block h-full rounded-sm transition-[width] duration-500" style={{ width: `${total ? (100 * n) / total : 0}%`, background: st.color }} />
              </span>
              <span className="tabular text-right font-mono text-zinc-200">
                {fmtInt(n)} <span className="text-zinc-500">{total ? fmtPct(n / total, 0) : ''}</span>
              </span>
            </li>
          )
        })}
      </ul>
    </div>
  )
}
