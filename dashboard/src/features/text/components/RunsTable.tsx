import { fmtDate, fmtInt, fmtNum } from '@/lib/format'
import type { TextRunSummary } from '../api/types'
import { RunStatusBadge } from './StatusBadge'

const th = 'px-2 py-1 text-left font-medium text-zinc-400'
const td = 'px-2 py-1 align-middle'

/** Sentry runs: pick one to show, or pick one to compare with the shown run. */
export function RunsTable({
  runs,
  selected,
  onSelect,
  onCompare,
}: {
  runs: TextRunSummary[]
  selected: string | null
  onSelect: (id: string) => void
  onCompare: (id: string) => void
}) {
  return (
    <div className="max-h-72 overflow-auto" tabIndex={0} role="region" aria-label="Sentry runs (scrolls)">
      <table className="w-full text-xs" aria-label="Sentry runs" data-testid="text-runs-table">
        <thead className="sticky top-0 bg-zinc-950">
          <tr className="border-b border-zinc-800">
            <th className={th}>run</th>
            <th className={th}>status</th>
            <th className={th}>created</th>
            <th className={th}>model</th>
            <th className={th}>safety</th>
            <th className={th}>objective</th>
            <th className={`${th} text-right`}>chunks</th>
            <th className={`${th} text-right`} title="committed / blocked by gate / rolled back">commit · block · rollback</th>
            <th className={`${th} text-right`}>loss first → last</th>
            <th className={`${th} text-right`}>canary Δ</th>
            <th className={th}>text</th>
            <th className={th}><span className="sr-only">compare</span></th>
          </tr>
        </thead>
        <tbody>
          {runs.map((r) => {
            const sel = r.run_id === selected
            return (
              <tr
                key={r.run_id}
                data-run={r.run_id}
                data-status={r.status}
                aria-selected={sel}
                className={`border-b border-zinc-900 ${sel ? 'bg-cyan-500/5' : 'hover:bg-zinc-800/30'}`}
              >
                <td className={`${td} font-mono`}>
                  <button type="button" className="text-cyan-300 underline-offset-2 hover:underline" onClick={() => onSelect(r.run_id)} aria-label={`Show run ${r.run_id}`}>
                    {r.run_id}
                  </button>
                </td>
                <td className={td}><RunStatusBadge status={r.status} /></td>
                <td className={`${td} text-zinc-400`}>{fmtDate(r.created_at)}</td>
                <td className={`${td} font-mono text-zinc-300`}>{r.model_id ?? '—'}</td>
                <td className={`${td} text-zinc-300`}>{r.safety ?? '—'}</td>
                <td className={`${td} text-zinc-300`}>{r.objective ?? '—'}{r.chunk_tokens ? ` · ${r.chunk_tokens} tok` : ''}</td>
                <td className={`${td} text-right font-mono`}>{fmtInt(r.n_chunks_done)}/{fmtInt(r.n_chunks)}</td>
                <td className={`${td} text-right font-mono`}>
                  {fmtInt(r.committed)} · {fmtInt(r.blocked)} · {fmtInt(r.rolled_back)}
                </td>
                <td className={`${td} text-right font-mono`}>{fmtNum(r.loss_first, 4)} → {fmtNum(r.loss_last, 4)}</td>
                <td className={`${td} text-right font-mono`}>{fmtNum(r.canary_delta_total, 3)}</td>
                <td className={`${td} text-zinc-400`}>{r.keep_text ? 'kept' : 'not stored'}</td>
                <td className={td}>
                  {!sel && selected && (
                    <button type="button" className="rounded border border-zinc-700 px-1.5 text-[11px] text-zinc-300 hover:border-zinc-500" onClick={() => onCompare(r.run_id)} aria-label={`Compare ${r.run_id} with the shown run`}>
                      compare
                    </button>
                  )}
                </td>
              </tr>
            )
          })}
        </tbody>
      </table>
    </div>
  )
}
