import { fmtAge } from '@/lib/format'
import type { ChatSessionSummary } from '../api/types'
import { SafetyBadge } from './badges'

/** The sessions as a list of buttons (the selected one is marked, for screen readers too). */
export function SessionList({ sessions, selected, onSelect }: { sessions: ChatSessionSummary[]; selected: string | null; onSelect: (id: string) => void }) {
  return (
    <ul className="max-h-[420px] space-y-1 overflow-auto" aria-label="Chat sessions" data-testid="chat-sessions" data-count={sessions.length}>
      {sessions.map((s) => {
        const on = s.session_id === selected
        return (
          <li key={s.session_id} data-session={s.session_id} data-turns={s.n_turns}>
            <button
              type="button"
              aria-current={on ? 'true' : undefined}
              onClick={() => onSelect(s.session_id)}
              className={`w-full rounded border px-2 py-1.5 text-left text-xs ${on ? 'border-cyan-600/60 bg-cyan-500/10' : 'border-zinc-800 hover:border-zinc-600 hover:bg-zinc-800/40'}`}
            >
              <span className="flex items-center gap-2">
                <span className="truncate font-mono text-zinc-100">{s.session_id}</span>
                <span className="ml-auto"><SafetyBadge mode={s.safety ?? '?'} /></span>
              </span>
              <span className="mt-0.5 flex gap-2 text-[11px] text-zinc-400">
                <span>{s.n_turns} turn{s.n_turns === 1 ? '' : 's'}</span>
                <span className="truncate font-mono">{s.model_id}</span>
                {s.parent && <span className="truncate" title={`forked from ${s.parent.session_id} at turn ${s.parent.turn}`}>fork of {s.parent.session_id}</span>}
                <span className="ml-auto whitespace-nowrap">{fmtAge(s.updated_at)}</span>
              </span>
            </button>
          </li>
        )
      })}
    </ul>
  )
}
