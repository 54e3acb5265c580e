import { useState } from 'react'
import { useSessions } from '@/api/queries/sessions'
import { ErrorState, Loading } from '@/components/ui/States'
import { Button } from '@/components/ui/Toggle'
import { fmtAge, fmtInt, fmtNum, fmtPct } from '@/lib/format'

const PAGE = 50
const COLS = [
  { key: 'session_id', label: 'session', align: 'left' },
  { key: 'mu', label: 'μ', align: 'right' },
  { key: 'env_mode', label: 'env', align: 'left' },
  { key: 'created_at', label: 'created', align: 'left' },
  { key: 'steps_total', label: 'steps', align: 'right' },
  { key: 'updates_committed', label: 'commits / attempts', align: 'right' },
  { key: 'improvement_last100', label: 'improvement (last 100)', align: 'right' },
] as const

/** Every session (server-side sort and paging); checkboxes pick sessions to compare. */
export function SessionsTable({
  current,
  selected,
  onToggle,
  onOpen,
}: {
  current: string | null
  selected: string[]
  onToggle: (id: string) => void
  onOpen: (id: string) => void
}) {
  const [sort, setSort] = useState('-created_at')
  const [page, setPage] = useState(0)
  const q = useSessions({ offset: page * PAGE, limit: PAGE, sort }, { live: true })
  if (q.error && !q.data) return <ErrorState error={q.error} what="sessions" />
  if (!q.data) return <Loading what="sessions" />
  const { items, total } = q.data
  const key = sort.replace(/^-/, '')
  const desc = sort.startsWith('-')
  return (
    <div data-testid="sessions-table" data-total={total}>
      <div className="overflow-x-auto">
        <table className="w-full text-xs">
          <caption className="sr-only">Sessions, {total} in total</caption>
          <thead>
            <tr className="border-b border-zinc-800 text-[11px] text-zinc-400">
              <th scope="col" className="w-8 pb-1.5 text-left font-normal"><span className="sr-only">compare</span></th>
              {COLS.map((c) => (
                <th key={c.key} scope="col" aria-sort={key === c.key ? (desc ? 'descending' : 'ascending') : 'none'} className={`px-2 pb-1.5 font-normal ${c.align === 'right' ? 'text-right' : 'text-left'}`}>
                  <button
                    type="button"
                    className={`hover:text-zinc-100 ${key === c.key ? 'text-zinc-100' : ''}`}
                    onClick={() => {
                      setSort(key === c.key && !desc ? `-${c.key}` : c.key)
                      setPage(0)
                    }}
                  >
                    {c.label}
                    <span aria-hidden="true">{key === c.key ? (desc ? ' ↓' : ' ↑') : ''}</span>
                  </button>
                </th>
              ))}
              <th scope="col" className="px-2 pb-1.5 text-left font-normal">state</th>
            </tr>
          </thead>
          <tbody>
            {items.map((s) => {
              const imp = s.improvement_last100 ?? null
              return (
                <tr key={s.session_id} className={`border-b border-zinc-900 hover:bg-zinc-800/30 ${s.session_id === current ? 'bg-cyan-500/5' : ''}`} data-session={s.session_id}>
                  <td className="py-1">
                    <input
                      type="checkbox"
                      checked={selected.includes(s.session_id)}
                      onChange={() => onToggle(s.session_id)}
                      aria-label={`Compare ${s.session_id}`}
                      className="accent-cyan-400"
                    />
                  </td>
                  <th scope="row" className="px-2 py-1 text-left font-normal">
                    <button type="button" onClick={() => onOpen(s.session_id)} className="font-mono text-cyan-300 underline-offset-2 hover:underline">
                      {s.session_id}
                    </button>
                    {s.parent && <span className="ml-1.5 text-[10px] text-zinc-500">fork of {s.parent.session_id}</span>}
                  </th>
                  <td className="tabular px-2 text-right font-mono text-amber-200">{fmtNum(s.mu, 4)}</td>
                  <td className="px-2 text-zinc-300">{s.env_mode}</td>
                  <td className="px-2 text-zinc-400" title={s.created_at ?? undefined}>{fmtAge(s.created_at)}</td>
                  <td className="tabular px-2 text-right font-mono text-zinc-300">{fmtInt(s.steps_total)}</td>
                  <td className="tabular px-2 text-right font-mono text-zinc-200">{fmtInt(s.updates_committed)} / {fmtInt(s.updates_attempted)}</td>
                  <td className={`tabular px-2 text-right font-mono ${imp === null ? 'text-zinc-500' : imp >= 0 ? 'text-emerald-300' : 'text-red-300'}`}>{fmtPct(imp, 1, true)}</td>
                  <td className="px-2">{s.running ? <span className="text-emerald-300">● running</span> : <span className="text-zinc-500">idle</span>}</td>
                </tr>
              )
            })}
          </tbody>
        </table>
      </div>
      {total > PAGE && (
        <div className="mt-2 flex items-center gap-2 text-xs text-zinc-400">
          <Button onClick={() => setPage((p) => Math.max(0, p - 1))} disabled={page === 0}>← prev</Button>
          <span>{fmtInt(page * PAGE + 1)}–{fmtInt(Math.min(total, (page + 1) * PAGE))} of {fmtInt(total)}</span>
          <Button onClick={() => setPage((p) => p + 1)} disabled={(page + 1) * PAGE >= total}>next →</Button>
        </div>
      )}
    </div>
  )
}
