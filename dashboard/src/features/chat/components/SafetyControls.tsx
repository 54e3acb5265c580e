import { useState } from 'react'
import { errorMessage } from '@/api/client'
import { useSentryDefaults } from '@/api/queries/sentryDefaults'
import { Button, Toggle } from '@/components/ui/Toggle'
import { usePatchSafety } from '../api/chat'
import { defences } from '../lib/safety'
import { field, input } from './styles'

/**
 * The session's defences, changed for its next writes (PATCH …/safety): the safety mode
 * (which of gate, canary rollback and SPFW run), whether a gate hit throttles the write
 * instead of blocking it, the SPFW projection, and the canary's allowed loss rise.
 */
export function SafetyControls({ sessionId, config, disabled }: { sessionId: string; config: Record<string, unknown>; disabled: boolean }) {
  const defaults = useSentryDefaults()
  const patch = usePatchSafety(sessionId)
  const mode = String(config.safety ?? 'all')
  const [delta, setDelta] = useState(String(config.canary_max_delta ?? ''))
  const on = defences(mode)
  const deltaOk = Number.isFinite(Number(delta)) && Number(delta) > 0 && delta.trim() !== ''
  const busy = disabled || patch.isPending
  return (
    <div role="group" aria-label="Safety of this session" className="space-y-2" data-testid="chat-safety" data-safety={mode}>
      <div className="flex flex-wrap items-end gap-3">
        <label className={field}>
          safety mode
          <select aria-label="session safety mode" className={input} value={mode} disabled={busy} onChange={(e) => patch.mutate({ safety: e.target.value })}>
            {(defaults.data?.safety_modes ?? ['off', 'gate', 'rollback', 'spfw', 'all']).map((s) => (
              <option key={s} value={s}>{s}</option>
            ))}
          </select>
        </label>
        <ul className="flex gap-1.5 pb-1 text-[11px]" aria-label="Defences in force">
          {(['gate', 'rollback', 'spfw'] as const).map((d) => (
            <li key={d} data-defence={d} data-on={on[d]} className={`rounded border px-1.5 py-px ${on[d] ? 'border-emerald-700/60 text-emerald-300' : 'border-zinc-700 text-zinc-500 line-through'}`}>
              <span aria-hidden="true">{on[d] ? '✓ ' : '✕ '}</span>
              {d}
              <span className="sr-only">{on[d] ? ' on' : ' off'}</span>
            </li>
          ))}
        </ul>
      </div>
      <div className="flex flex-wrap items-end gap-3">
        <div className={field}>
          gate hit
          <Toggle pressed={config.throttle === true} onChange={(v) => patch.mutate({ throttle: v })} title="A gate hit throttles the write (lr × throttle factor) instead of blocking it">
            throttle instead of block
          </Toggle>
        </div>
        <label className={field}>
          SPFW projection
          <select aria-label="SPFW projection" className={input} value={String(config.spfw_mode ?? 'halfspace')} disabled={busy || !on.spfw} onChange={(e) => patch.mutate({ spfw_mode: e.target.value })}>
            <option value="halfspace">half-space</option>
            <option value="nullspace">null-space</option>
          </select>
        </label>
        <form
          className="flex items-end gap-1.5"
          aria-label="Canary limit"
          onSubmit={(e) => {
            e.preventDefault()
            if (deltaOk) patch.mutate({ canary_max_delta: Number(delta) })
          }}
        >
          <label className={field}>
            canary max Δ (nats)
            <input aria-label="canary max delta" className={`${input} w-20 font-mono`} inputMode="decimal" value={delta} onChange={(e) => setDelta(e.target.value)} />
          </label>
          <Button type="submit" disabled={busy || !deltaOk || Number(delta) === config.canary_max_delta}>Apply</Button>
        </form>
      </div>
      <p role="status" className="min-h-4 text-[11px]">
        {patch.isPending ? <span className="text-zinc-400">saving…</span> : patch.error ? <span className="text-red-300">{errorMessage(patch.error)}</span> : mode === 'off' ? <span className="text-red-300">safety off: every prompt chunk is written, whatever it says.</span> : null}
      </p>
    </div>
  )
}
