import { useState } from 'react'
import { errorMessage } from '@/api/client'
import { useFlaggedPrompts } from '@/api/queries/flaggedPrompts'
import { Card } from '@/components/ui/Card'
import { Kv } from '@/components/ui/Kv'
import { Button } from '@/components/ui/Toggle'
import { fmtDate, fmtInt, fmtNum, shortHash } from '@/lib/format'
import { ID_RE } from '@/lib/urlState'
import { useDeleteSession, useForkSession, useResetSession } from '../api/chat'
import type { ChatSessionDetail } from '../api/types'
import { SafetyBadge } from './badges'
import { SafetyControls } from './SafetyControls'
import { input } from './styles'

type Open = null | 'fork' | 'reset' | 'delete'

/** "hf · LoRA r8 on q_proj, v_proj" or "tinylm · context net r16": what the session writes. */
function fastWeights(s: ChatSessionDetail['session']): string {
  const p = (s.plastic ?? {}) as { kind?: string; rank?: number; targets?: string[] }
  const kind = p.kind === 'lora' ? 'LoRA' : p.kind === 'context_net' ? 'context net' : (p.kind ?? '?')
  const rank = p.rank != null ? ` r${p.rank}` : ''
  const on = p.targets?.length ? ` on ${p.targets.join(', ')}` : ''
  return `${s.backend} · ${kind}${rank}${on}`
}

/** Who the session is (model, parent, figures), its defences, and fork / reset / delete. */
export function SessionHeader({
  detail,
  busy,
  onSelectSession,
  onDeleted,
}: {
  detail: ChatSessionDetail
  busy: boolean
  onSelectSession: (id: string) => void
  onDeleted: () => void
}) {
  const s = detail.session
  const config = s.config ?? {}
  const resets = s.resets ?? []
  const gen = s.generation
  const st = detail.stats
  // The red team's list (flagged_prompts.json) holds this session's prompts flagged by a
  // person *and* by sleep's auditor: count both, and say which is which.
  const flagged = useFlaggedPrompts()
  const mine = (flagged.data?.items ?? []).filter((p) => p.session_id === s.session_id)
  const byAuditor = mine.filter((p) => p.source === 'sleep').length
  const byPerson = mine.length - byAuditor
  const [open, setOpen] = useState<Open>(null)
  const toggle = (o: Open) => setOpen((cur) => (cur === o ? null : o))
  return (
    <Card
      id="chat-session-head"
      title={<span className="font-mono">{s.session_id}</span>}
      subtitle={<SafetyBadge mode={String(config.safety ?? '?')} />}
      testId="chat-session-head"
      actions={
        <>
          <Button ariaLabel="Fork this session" onClick={() => toggle('fork')} disabled={busy}>Fork</Button>
          <Button ariaLabel="Reset the fast weights" onClick={() => toggle('reset')} disabled={busy}>↺ Reset</Button>
          <Button ariaLabel="Delete this session" variant="danger" onClick={() => toggle('delete')} disabled={busy}>✕ Delete</Button>
        </>
      }
    >
      {open === 'fork' && <ForkForm sessionId={s.session_id} onDone={(id) => { setOpen(null); onSelectSession(id) }} onCancel={() => setOpen(null)} />}
      {open === 'reset' && <ResetConfirm sessionId={s.session_id} onDone={() => setOpen(null)} />}
      {open === 'delete' && <DeleteConfirm sessionId={s.session_id} onDone={onDeleted} onCancel={() => setOpen(null)} />}
      <div className="grid gap-3 lg:grid-cols-[minmax(0,1fr)_minmax(0,1fr)]">
        <Kv
          cols={2}
          items={[
            ['model', s.model_id ?? '—'],
            ['backend · fast weights', fastWeights(s)],
            ['weights', <span title={s.model_weights_sha256 ?? ''}>{shortHash(s.model_weights_sha256)}</span>],
            ['turns', fmtInt(st.n_turns)],
            ['‖W − W₀‖', fmtNum(st.fast_weight_norm ?? null, 4)],
            ['chunks committed', `${fmtInt(st.committed_chunks)} / ${fmtInt(st.chunks)}`],
            ['chunks stopped', fmtInt(st.stopped_chunks)],
            ['turns blocked', fmtInt(st.blocked_turns)],
            [
              'flagged prompts',
              <span data-testid="chat-flag-count" data-count={mine.length} data-by-person={byPerson} data-by-auditor={byAuditor}>
                {fmtInt(mine.length)}
                <span className="text-zinc-500"> ({fmtInt(byPerson)} by a person, {fmtInt(byAuditor)} by sleep’s auditor)</span>
              </span>,
            ],
            ['created', fmtDate(s.created_at)],
            ['parent', s.parent ? `${s.parent.session_id} @ turn ${s.parent.turn ?? '?'}${s.parent.with_momentum === false ? ' (no momentum)' : ''}` : '—'],
            ['resets', resets.length ? resets.map((r) => `turn ${String(r.turn)}`).join(', ') : '—'],
            ['reply tokens · T', gen ? `${gen.max_tokens} · ${gen.temperature}` : '—'],
          ]}
        />
        <SafetyControls sessionId={s.session_id} config={config} disabled={busy} />
      </div>
    </Card>
  )
}

function ForkForm({ sessionId, onDone, onCancel }: { sessionId: string; onDone: (id: string) => void; onCancel: () => void }) {
  const fork = useForkSession(sessionId)
  const [nid, setNid] = useState('')
  const [momentum, setMomentum] = useState(true)
  const bad = nid.trim() !== '' && !ID_RE.test(nid.trim())
  return (
    <form
      aria-label="Fork the session"
      className="mb-3 flex flex-wrap items-end gap-3 rounded border border-zinc-800 bg-zinc-950/40 p-2 text-xs"
      onSubmit={(e) => {
        e.preventDefault()
        if (bad) return
        fork.mutate({ new_id: nid.trim() || null, with_momentum: momentum }, { onSuccess: (d) => onDone(d.session.session_id) })
      }}
    >
      <span className="text-zinc-300">A new session from these fast weights (the trace starts empty).</span>
      <label className="flex flex-col gap-1 text-[11px] text-zinc-400">
        fork id (optional)
        <input aria-label="fork id" className={`${input} font-mono`} value={nid} placeholder="a new chat-… id" onChange={(e) => setNid(e.target.value)} />
      </label>
      <label className="flex items-center gap-1.5 pb-1.5 text-zinc-300">
        <input type="checkbox" checked={momentum} onChange={(e) => setMomentum(e.target.checked)} />
        with momentum (copy the optimiser state)
      </label>
      <Button type="submit" variant="primary" disabled={bad || fork.isPending}>Create fork</Button>
      <Button onClick={onCancel}>Cancel</Button>
      {bad && <span className="pb-1.5 text-amber-300">id: letters, digits, . _ - (up to 64)</span>}
      {fork.error && <span role="alert" className="pb-1.5 text-red-300">{errorMessage(fork.error)}</span>}
    </form>
  )
}

function ResetConfirm({ sessionId, onDone }: { sessionId: string; onDone: () => void }) {
  const reset = useResetSession(sessionId)
  return (
    <div role="group" aria-label="Confirm reset" className="mb-3 flex flex-wrap items-center gap-2 rounded border border-amber-900/60 bg-amber-950/20 p-2 text-xs text-amber-100">
      <span>Reset the fast weights and optimiser state of <span className="font-mono">{sessionId}</span> to fresh? The trace is kept.</span>
      <Button variant="danger" onClick={() => reset.mutate(undefined, { onSuccess: onDone })} disabled={reset.isPending}>Confirm reset</Button>
      <Button onClick={onDone}>Cancel</Button>
      {reset.error && <span role="alert" className="text-red-300">{errorMessage(reset.error)}</span>}
    </div>
  )
}

function DeleteConfirm({ sessionId, onDone, onCancel }: { sessionId: string; onDone: () => void; onCancel: () => void }) {
  const del = useDeleteSession()
  return (
    <div role="group" aria-label="Confirm delete" className="mb-3 flex flex-wrap items-center gap-2 rounded border border-red-900/60 bg-red-950/30 p-2 text-xs text-red-100">
      <span>Delete <span className="font-mono">{sessionId}</span> with its fast weights, trace and events? This cannot be undone (flagged prompts stay).</span>
      <Button variant="danger" onClick={() => del.mutate(sessionId, { onSuccess: onDone })} disabled={del.isPending}>Delete {sessionId}</Button>
      <Button onClick={onCancel}>Cancel</Button>
      {del.error && <span role="alert" className="text-red-300">{errorMessage(del.error)}</span>}
    </div>
  )
}
