import type { ReactNode } from 'react'

/** A compact key/value grid (dl). */
export function Kv({ items, cols = 2 }: { items: [ReactNode, ReactNode][]; cols?: 1 | 2 | 3 }) {
  const grid = { 1: 'grid-cols-[auto_1fr]', 2: 'grid-cols-[auto_1fr_auto_1fr]', 3: 'grid-cols-[auto_1fr_auto_1fr_auto_1fr]' }[cols]
  return (
    <dl className={`grid ${grid} gap-x-3 gap-y-1 text-xs`}>
      {items.map(([k, v], i) => (
        <div key={i} className="contents">
          <dt className="text-zinc-400">{k}</dt>
          <dd className="tabular min-w-0 truncate font-mono text-zinc-100">{v}</dd>
        </div>
      ))}
    </dl>
  )
}
