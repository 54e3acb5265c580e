import type { Architecture } from '@/api/types'
import { fmtInt, fmtPct } from '@/lib/format'

const COLORS = ['#22d3ee', '#a78bfa', '#fbbf24', '#34d399', '#f472b6']

/** Parameters by tensor, plastic vs frozen, as a stacked bar plus a table. */
export function ParamCounts({ counts, shapes }: { counts: Architecture['param_counts']; shapes: Architecture['shapes'] }) {
  const rows = [
    ...Object.entries(counts.plastic).map(([k, n]) => ({ k, n, plastic: true })),
    ...Object.entries(counts.frozen).map(([k, n]) => ({ k, n, plastic: false })),
  ]
  const total = rows.reduce((a, r) => a + r.n, 0)
  const plastic = rows.filter((r) => r.plastic).reduce((a, r) => a + r.n, 0)
  return (
    <div data-testid="param-counts" data-plastic={plastic} data-frozen={total - plastic}>
      <div className="flex h-4 w-full overflow-hidden rounded" role="img" aria-label={`${fmtInt(plastic)} plastic and ${fmtInt(total - plastic)} frozen parameters`}>
        {rows.map((r, i) => (
          <div
            key={r.k}
            title={`${r.k}: ${fmtInt(r.n)}`}
            style={{
              width: `${(100 * r.n) / Math.max(1, total)}%`,
              background: r.plastic ? COLORS[i % COLORS.length] : 'repeating-linear-gradient(45deg,#52525b 0 3px,#27272a 3px 6px)',
            }}
          />
        ))}
      </div>
      <table className="mt-2 w-full text-xs">
        <thead>
          <tr className="text-left text-[11px] text-zinc-500">
            <th scope="col" className="font-normal">tensor</th>
            <th scope="col" className="font-normal">shape</th>
            <th scope="col" className="font-normal">kind</th>
            <th scope="col" className="text-right font-normal">params</th>
            <th scope="col" className="text-right font-normal">share</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={r.k} className="border-t border-zinc-800/70">
              <th scope="row" className="py-0.5 text-left font-mono font-normal text-zinc-100">
                <span className="mr-1.5 inline-block h-2 w-2 rounded-sm align-middle" style={{ background: r.plastic ? COLORS[i % COLORS.length] : '#52525b' }} />
                {r.k}
              </th>
              <td className="font-mono text-zinc-300">{shapes[r.k]?.join(' × ') ?? '—'}</td>
              <td className={r.plastic ? 'text-cyan-300' : 'text-zinc-400'}>{r.plastic ? 'plastic' : 'frozen'}</td>
              <td className="tabular text-right font-mono text-zinc-100">{fmtInt(r.n)}</td>
              <td className="tabular text-right font-mono text-zinc-400">{fmtPct(r.n / Math.max(1, total), 1)}</td>
            </tr>
          ))}
          <tr className="border-t border-zinc-700 font-medium">
            <th scope="row" className="py-0.5 text-left text-zinc-300">total</th>
            <td />
            <td className="text-zinc-400">{fmtInt(plastic)} plastic · {fmtInt(total - plastic)} frozen</td>
            <td className="tabular text-right font-mono text-zinc-100">{fmtInt(total)}</td>
            <td />
          </tr>
        </tbody>
      </table>
    </div>
  )
}
