import { useSessions } from '@/api/queries/sessions'
import type { RunInfo } from '@/api/types'
import { fmtInt, fmtNum } from '@/lib/format'

const selectCls =
  'h-7 max-w-[260px] truncate rounded border border-zinc-700 bg-zinc-900 px-1.5 text-xs text-zinc-100 hover:border-zinc-500'

/** Session and run pickers (native selects: keyboard and screen-reader friendly for free). */
export function SessionRunPicker({
  sessionId,
  runId,
  runs,
  onSession,
  onRun,
}: {
  sessionId: string | null
  runId: string | null
  runs: RunInfo[]
  onSession: (id: string) => void
  onRun: (id: string) => void
}) {
  const sessions = useSessions({ limit: 200, sort: '-created_at' })
  const items = sessions.data?.items ?? []
  const known = items.some((s) => s.session_id === sessionId)
  return (
    <div className="flex flex-wrap items-center gap-2">
      <label className="flex items-center gap-1.5 text-[11px] text-zinc-400">
        Session
        <select
          className={selectCls}
          value={sessionId ?? ''}
          onChange={(e) => onSession(e.target.value)}
          disabled={!items.length}
          data-testid="session-picker"
        >
          {!sessionId && <option value="">{sessions.isPending ? 'loading…' : 'none'}</option>}
          {sessionId && !known && <option value={sessionId}>{sessionId}</option>}
          {items.map((s) => (
            <option key={s.session_id} value={s.session_id}>
              {s.session_id} · μ {fmtNum(s.mu, 3)} · {s.env_mode}
              {s.running ? ' · running' : ''}
            </option>
          ))}
        </select>
      </label>
      {sessions.data && sessions.data.total > items.length && (
        <span className="text-[11px] text-zinc-500">{fmtInt(sessions.data.total - items.length)} more in Sessions</span>
      )}
      <label className="flex items-center gap-1.5 text-[11px] text-zinc-400">
        Run
        <select
          className={selectCls}
          value={runId ?? ''}
          onChange={(e) => onRun(e.target.value)}
          disabled={!runs.length}
          data-testid="run-picker"
        >
          {!runs.length && <option value="">no runs</option>}
          {runs.map((r) => (
            <option key={r.run_id} value={r.run_id}>
              {r.run_id} · {fmtInt(r.steps)} steps · t {fmtInt(r.t_start)}–{fmtInt(r.t_end)} · {r.status}
            </option>
          ))}
        </select>
      </label>
    </div>
  )
}
