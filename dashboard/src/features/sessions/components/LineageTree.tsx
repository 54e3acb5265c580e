import { useMemo } from 'react'
import type { Lineage } from '@/api/types'
import { fmtInt, fmtNum } from '@/lib/format'

const COL = 200
const ROW = 44
const NW = 170
const NH = 34

interface Placed {
  id: string
  depth: number
  row: number
  mu: number | null
  env: string | null
  parent: string | null
  edge: string
}

/** The fork tree: roots on the left, forks to the right, edge labels say where they forked. */
export function LineageTree({ lineage, current, onOpen }: { lineage: Lineage; current: string | null; onOpen: (id: string) => void }) {
  const placed = useMemo(() => {
    const byId = new Map(lineage.nodes.map((n) => [n.session_id, n]))
    const kids = new Map<string, string[]>()
    for (const n of lineage.nodes) {
      const p = n.parent?.session_id
      if (p && byId.has(p)) kids.set(p, [...(kids.get(p) ?? []), n.session_id])
    }
    const byCreated = (a: string, b: string) => (byId.get(a)?.created_at ?? '').localeCompare(byId.get(b)?.created_at ?? '') || a.localeCompare(b)
    const roots = lineage.nodes.filter((n) => !n.parent || !byId.has(n.parent.session_id)).map((n) => n.session_id).sort(byCreated)
    const out: Placed[] = []
    const seen = new Set<string>()
    const visit = (id: string, depth: number) => {
      if (seen.has(id)) return
      seen.add(id)
      const n = byId.get(id)
      const p = n?.parent
      out.push({
        id,
        depth,
        row: out.length,
        mu: n?.mu ?? null,
        env: n?.env_mode ?? null,
        parent: p && byId.has(p.session_id) ? p.session_id : null,
        edge: p ? `${p.update_index === null ? 'latest' : `k=${p.update_index}`}${p.t !== null ? ` · t ${fmtInt(p.t)}` : ''}${p.with_momentum ? ' · +mom' : ''}` : '',
      })
      for (const c of (kids.get(id) ?? []).sort(byCreated)) visit(c, depth + 1)
    }
    roots.forEach((r) => visit(r, 0))
    return out
  }, [lineage])
  const pos = new Map(placed.map((p) => [p.id, p]))
  const W = (Math.max(0, ...placed.map((p) => p.depth)) + 1) * COL
  const H = placed.length * ROW
  return (
    <div className="max-h-[420px] overflow-auto" data-testid="lineage-tree" data-nodes={placed.length}>
      <div className="relative" style={{ width: W, height: H }}>
        <svg width={W} height={H} className="absolute inset-0" aria-hidden="true">
          {placed.map((p) => {
            if (!p.parent) return null
            const q = pos.get(p.parent)
            if (!q) return null
            const x1 = q.depth * COL + 14
            const y1 = q.row * ROW + NH
            const x2 = p.depth * COL
            const y2 = p.row * ROW + NH / 2
            return (
              <g key={p.id}>
                <path d={`M${x1},${y1}V${y2}H${x2}`} fill="none" stroke="#52525b" />
                <text x={x1 + 6} y={y2 - 4} fill="#a1a1aa" fontSize="10">{p.edge}</text>
              </g>
            )
          })}
        </svg>
        <ul>
          {placed.map((p) => (
            <li key={p.id} className="absolute" style={{ left: p.depth * COL, top: p.row * ROW, width: NW, height: NH }}>
              <button
                type="button"
                onClick={() => onOpen(p.id)}
                aria-current={p.id === current ? 'true' : undefined}
                data-node={p.id}
                title={p.parent ? `${p.id}: fork of ${p.parent} (${p.edge})` : p.id}
                className={`flex h-full w-full flex-col justify-center rounded border px-2 text-left ${p.id === current ? 'border-cyan-500 bg-cyan-500/10' : 'border-zinc-700 bg-zinc-900 hover:border-zinc-500'}`}
              >
                <span className="truncate font-mono text-[11px] text-zinc-100">{p.id}</span>
                <span className="truncate text-[10px] text-zinc-400">μ {fmtNum(p.mu, 3)} · {p.env ?? '—'}</span>
              </button>
            </li>
          ))}
        </ul>
      </div>
    </div>
  )
}
