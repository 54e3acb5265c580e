import { fmtInt, fmtNum } from '@/lib/format'
import type { ChatTurn } from '../api/types'
import { turnOutcome } from '../lib/turns'
import { OutcomeBadge } from './badges'

/** Every turn of the trace: outcome, prompt and reply, writes, norm, latency, flag. */
export function TraceTable({ turns, selected, onSelect }: { turns: ChatTurn[]; selected: number | null; onSelect: (t: number) => void }) {
  if (!turns.length) return <p className="text-sm text-zinc-400">The trace is empty.</p>
  const th = 'px-2 py-1 text-left font-medium text-zinc-400'
  const td = 'px-2 py-1 align-top'
  return (
    <div className="max-h-80 overflow-auto" tabIndex={0} role="region" aria-label="Trace (scrolls)">
      <table className="w-full text-xs" aria-label="Trace: one row per turn" data-testid="chat-trace" data-count={turns.length}>
        <thead className="sticky top-0 bg-zinc-950">
          <tr className="border-b border-zinc-800">
            <th className={th}>turn</th>
            <th className={th}>write</th>
            <th className={`${th} w-[32%]`}>prompt</th>
            <th className={`${th} w-[28%]`}>reply</th>
            <th className={`${th} text-right`}>committed</th>
            <th className={`${th} text-right`}>‖W − W₀‖</th>
            <th className={`${th} text-right`}>ms</th>
            <th className={th}>flag</th>
          </tr>
        </thead>
        <tbody>
          {[...turns].reverse().map((t) => (
            <tr key={t.turn} data-turn={t.turn} data-outcome={turnOutcome(t)} aria-selected={t.turn === selected} className={`border-b border-zinc-900 ${t.turn === selected ? 'bg-cyan-500/5' : ''}`}>
              <td className={`${td} font-mono`}>
                <button type="button" className="text-cyan-300 underline-offset-2 hover:underline" aria-label={`Show turn ${t.turn}`} onClick={() => onSelect(t.turn)}>
                  {t.turn}
                </button>
              </td>
              <td className={td}><OutcomeBadge outcome={turnOutcome(t)} /></td>
              <td className={`${td} [overflow-wrap:anywhere] text-zinc-200`} title={t.prompt}>{t.prompt.length > 160 ? `${t.prompt.slice(0, 160)}…` : t.prompt}</td>
              <td className={`${td} [overflow-wrap:anywhere] font-mono text-[11px] text-zinc-300`} title={t.completion}>{t.completion.length > 120 ? `${t.completion.slice(0, 120)}…` : t.completion}</td>
              <td className={`${td} text-right font-mono`}>{fmtInt(t.committed_chunks)}/{fmtInt(t.updates.length)}</td>
              <td className={`${td} text-right font-mono`}>{fmtNum(t.fast_weight_norm ?? null, 4)}</td>
              <td className={`${td} text-right font-mono`}>{fmtNum(t.latency_ms?.total ?? null, 3)}</td>
              <td className={td}>{t.flagged ? <span className="text-amber-300" title={t.flag_reason ?? ''}><span aria-hidden="true">⚑</span> flagged</span> : <span className="text-zinc-600">—</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}
