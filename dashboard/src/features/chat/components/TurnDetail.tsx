import { Kv } from '@/components/ui/Kv'
import { fmtDate, fmtInt, fmtNum } from '@/lib/format'
import { useTurnEvents } from '../api/chat'
import type { ChatEvent, ChatTurn } from '../api/types'
import { turnOutcome } from '../lib/turns'
import { OutcomeBadge, WriteStatusBadge } from './badges'
import { FlagControl } from './FlagControl'

/** One turn in full: figures, and per prompt chunk the gate's decision, the write's status
 * with its reasons, and the chunk's signals (from events.jsonl). */
export function TurnDetail({ sessionId, turn }: { sessionId: string; turn: ChatTurn }) {
  const events = useTurnEvents(sessionId, turn.turn)
  const byChunk = new Map<number, ChatEvent>((events.data?.items ?? []).map((e) => [e.chunk, e]))
  const gate = new Map(turn.gate.map((g) => [g.chunk, g]))
  const lat = turn.latency_ms ?? {}
  const th = 'px-1.5 py-1 text-left font-medium text-zinc-400'
  const td = 'px-1.5 py-1 align-top'
  return (
    <div className="space-y-2" data-testid="turn-detail" data-turn={turn.turn} data-outcome={turnOutcome(turn)}>
      <div className="flex flex-wrap items-center gap-2 text-xs">
        <OutcomeBadge outcome={turnOutcome(turn)} />
        <span className="text-zinc-400">{fmtDate(turn.created_at)}</span>
        {turn.safety && <span className="text-zinc-400">safety {turn.safety}</span>}
      </div>
      <Kv
        cols={3}
        items={[
          ['chunks committed', `${fmtInt(turn.committed_chunks)} / ${fmtInt(turn.updates.length)}`],
          ['‖W − W₀‖ after', fmtNum(turn.fast_weight_norm ?? null, 4)],
          ['prompt · reply tokens', `${fmtInt(turn.prompt_tokens ?? null)} · ${fmtInt(turn.completion_tokens ?? null)}`],
          ['reply seed', String(turn.seed ?? '—')],
          ['reply stopped by', turn.stopped ?? '—'],
          ['ms: update · reply', `${fmtNum(lat.update ?? null, 3)} · ${fmtNum(lat.generate ?? null, 3)}`],
        ]}
      />
      <div className="max-h-80 overflow-auto" tabIndex={0} role="region" aria-label={`Prompt chunks of turn ${turn.turn} (scrolls)`}>
        <table className="w-full text-[11px]" aria-label={`Writes of turn ${turn.turn}`} data-testid="turn-updates-table">
          <thead className="sticky top-0 bg-zinc-950">
            <tr className="border-b border-zinc-800">
              <th className={th}>chunk</th>
              <th className={th}>gate</th>
              <th className={`${th} w-[40%]`}>write and why</th>
              <th className={`${th} text-right`}>loss</th>
              <th className={`${th} text-right`}>grad ‖g‖</th>
              <th className={`${th} text-right`}>canary Δ</th>
              <th className={`${th} text-right`}>‖ΔW‖</th>
            </tr>
          </thead>
          <tbody>
            {turn.updates.map((u) => {
              const g = gate.get(u.chunk)
              const e = byChunk.get(u.chunk)
              return (
                <tr key={u.chunk} className="border-b border-zinc-900" data-chunk={u.chunk} data-status={u.status}>
                  <td className={`${td} font-mono`}>{u.chunk}</td>
                  <td className={td}>
                    {g ? (
                      <span className={g.allowed ? 'text-emerald-300' : 'text-pink-300'}>
                        <span aria-hidden="true">{g.allowed ? '✓' : '⬟'}</span> {g.allowed ? 'allowed' : `blocked: ${(g.rules ?? []).join(', ')}`}
                      </span>
                    ) : (
                      <span className="text-zinc-500">off</span>
                    )}
                  </td>
                  <td className={td}>
                    <WriteStatusBadge status={u.status} />
                    {(u.reasons ?? []).length > 0 && (
                      <ul className="mt-0.5 space-y-0.5 text-zinc-300" data-testid="update-reasons">
                        {(u.reasons ?? []).map((r, i) => (
                          <li key={i} className="break-words">{r}</li>
                        ))}
                      </ul>
                    )}
                  </td>
                  <td className={`${td} text-right font-mono`}>{fmtNum(e?.loss ?? null, 3)}</td>
                  <td className={`${td} text-right font-mono`}>{fmtNum(e?.grad_norm ?? null, 3)}</td>
                  <td className={`${td} text-right font-mono`}>{fmtNum(u.canary_delta ?? null, 3)}</td>
                  <td className={`${td} text-right font-mono`}>{fmtNum(u.update_norm ?? null, 3)}</td>
                </tr>
              )
            })}
          </tbody>
        </table>
      </div>
      {turn.flagged ? (
        <p className="text-xs text-amber-300" data-testid="turn-detail-flagged">
          <span aria-hidden="true">⚑</span> flagged for review{turn.flag_reason ? `: ${turn.flag_reason}` : ''}
        </p>
      ) : (
        <FlagControl sessionId={sessionId} turn={turn.turn} />
      )}
    </div>
  )
}
