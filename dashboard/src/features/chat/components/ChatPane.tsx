import { useEffect, useRef, useState, type KeyboardEvent } from 'react'
import { errorMessage } from '@/api/client'
import { Button } from '@/components/ui/Toggle'
import type { ChatSessionInfo, ChatTurn } from '../api/types'
import type { useSendMessage } from '../hooks/useSendMessage'
import { statusCounts, stopReasons, turnOutcome } from '../lib/turns'
import { OutcomeBadge, WriteStatusBadge } from './badges'
import { FlagControl } from './FlagControl'
import { field, input } from './styles'

const MAX_PROMPT = 8000

/** The conversation (every turn with its write outcome), the reply streaming in, and the composer. */
export function ChatPane({
  sessionId,
  turns,
  generation,
  sender,
  selected,
  onTurn,
}: {
  sessionId: string
  turns: ChatTurn[]
  generation: ChatSessionInfo['generation']
  sender: ReturnType<typeof useSendMessage>
  selected: number | null
  onTurn: (t: number) => void
}) {
  const logRef = useRef<HTMLDivElement>(null)
  const { pending } = sender
  useEffect(() => {
    const el = logRef.current
    if (el) el.scrollTop = el.scrollHeight
  }, [turns.length, pending?.reply, pending?.prompt])
  return (
    <div className="flex flex-col gap-2">
      <div ref={logRef} role="log" aria-label="Conversation" tabIndex={0} className="max-h-[560px] min-h-[220px] space-y-3 overflow-auto rounded border border-zinc-800/70 bg-zinc-950/40 p-2" data-testid="chat-log" data-turns={turns.length}>
        {turns.length === 0 && !pending && <p className="py-8 text-center text-sm text-zinc-400">No messages yet. What you write is learned by this session’s fast weights (unless a defence stops it).</p>}
        {turns.map((t) => (
          <TurnItem key={t.turn} sessionId={sessionId} turn={t} selected={t.turn === selected} onSelect={() => onTurn(t.turn)} />
        ))}
        {pending && (
          <article aria-label="Message being answered" data-testid="chat-pending" data-tokens={pending.tokens} className="space-y-1.5">
            <UserBubble text={pending.prompt} />
            <div className="ml-6 rounded-lg border border-cyan-900/50 bg-cyan-950/20 px-2.5 py-1.5 text-sm text-zinc-100">
              {pending.tokens === 0 ? (
                <span role="status" className="text-xs text-zinc-400">
                  <span aria-hidden="true" className="mr-1 inline-block h-2.5 w-2.5 animate-spin rounded-full border-2 border-zinc-600 border-t-cyan-400" />
                  writing the prompt into the fast weights…
                </span>
              ) : (
                <span className="whitespace-pre-wrap font-mono text-[13px]" data-testid="chat-streaming">
                  {pending.reply}
                  <span aria-hidden="true" className="ml-0.5 inline-block h-3.5 w-1.5 animate-pulse bg-cyan-400 align-middle" />
                </span>
              )}
            </div>
          </article>
        )}
      </div>
      {sender.error != null && (
        <p role="alert" className="rounded border border-red-900/60 bg-red-950/30 px-2 py-1 text-xs text-red-200" data-testid="chat-send-error">
          The message failed: {errorMessage(sender.error)}
        </p>
      )}
      <Composer generation={generation} busy={sender.busy} onSend={(body) => void sender.send(body)} />
    </div>
  )
}

function UserBubble({ text }: { text: string }) {
  return (
    <div className="mr-6 rounded-lg border border-zinc-700/70 bg-zinc-800/50 px-2.5 py-1.5 text-sm text-zinc-100">
      <span className="sr-only">You: </span>
      <span className="whitespace-pre-wrap break-words">{text}</span>
    </div>
  )
}

function TurnItem({ sessionId, turn, selected, onSelect }: { sessionId: string; turn: ChatTurn; selected: boolean; onSelect: () => void }) {
  const outcome = turnOutcome(turn)
  const counts = statusCounts(turn)
  const stops = stopReasons(turn)
  const reason = stops[0]?.reasons[0]
  return (
    <article
      aria-label={`Turn ${turn.turn}`}
      data-testid="chat-turn"
      data-turn={turn.turn}
      data-outcome={outcome}
      data-blocked={turn.blocked}
      data-flagged={turn.flagged}
      className={`space-y-1.5 rounded p-1 ${selected ? 'ring-1 ring-cyan-700/60' : ''}`}
    >
      <UserBubble text={turn.prompt} />
      <div className="ml-1 flex flex-wrap items-center gap-1.5 text-[11px]" data-testid="turn-update" data-outcome={outcome} data-committed={turn.committed_chunks} data-chunks={turn.updates.length}>
        <span className="text-zinc-500">turn {turn.turn} · write:</span>
        <OutcomeBadge outcome={outcome} />
        {counts.map(([s, n]) => (
          <WriteStatusBadge key={s} status={s} count={n} short />
        ))}
        {reason && (
          <span className="min-w-0 max-w-full truncate text-zinc-300" title={stops.flatMap((x) => x.reasons).join('\n')} data-testid="turn-reason">
            {reason}
          </span>
        )}
        <span className="ml-auto flex items-center gap-1">
          {turn.flagged && (
            <span className="text-amber-300" title={turn.flag_reason ?? ''} data-testid="turn-flagged">
              <span aria-hidden="true">⚑</span> flagged
            </span>
          )}
          <button type="button" className="rounded px-1 text-cyan-300 underline-offset-2 hover:underline" aria-label={`Show details of turn ${turn.turn}`} aria-pressed={selected} onClick={onSelect}>
            details
          </button>
          {!turn.flagged && <FlagControl sessionId={sessionId} turn={turn.turn} compact />}
        </span>
      </div>
      <div className="ml-6 rounded-lg border border-zinc-800 bg-zinc-900/60 px-2.5 py-1.5 text-sm text-zinc-200">
        <span className="sr-only">Model: </span>
        {turn.completion ? <span className="whitespace-pre-wrap break-words font-mono text-[13px]">{turn.completion}</span> : <span className="text-xs text-zinc-500">(empty reply)</span>}
      </div>
    </article>
  )
}

function Composer({ generation, busy, onSend }: { generation: ChatSessionInfo['generation']; busy: boolean; onSend: (b: { prompt: string; max_tokens?: number | null; temperature?: number | null; seed?: number | null }) => void }) {
  const [text, setText] = useState('')
  // the server's defaults when the session names none
  const [maxTokens, setMaxTokens] = useState(String(generation?.max_tokens ?? 64))
  const [temp, setTemp] = useState(String(generation?.temperature ?? 0.8))
  const [seed, setSeed] = useState('')
  const problems: string[] = []
  if (text.length > MAX_PROMPT) problems.push(`message: at most ${MAX_PROMPT.toLocaleString('en-US')} characters`)
  if (!/^\d+$/.test(maxTokens) || Number(maxTokens) < 1 || Number(maxTokens) > 512) problems.push('reply tokens: 1 to 512')
  if (!(Number(temp) >= 0 && Number(temp) <= 5) || temp.trim() === '') problems.push('temperature: 0 to 5')
  if (seed.trim() && !/^\d{1,9}$/.test(seed.trim())) problems.push('seed: a whole number')
  const canSend = !busy && text.trim() !== '' && problems.length === 0
  const submit = () => {
    if (!canSend) return
    onSend({ prompt: text, max_tokens: Number(maxTokens), temperature: Number(temp), seed: seed.trim() ? Number(seed) : null })
    setText('')
  }
  const onKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault()
      submit()
    }
  }
  return (
    <form
      aria-label="Send a message"
      className="space-y-1.5"
      onSubmit={(e) => {
        e.preventDefault()
        submit()
      }}
    >
      <textarea
        aria-label="message"
        rows={3}
        value={text}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={onKey}
        placeholder="Write a message (Enter sends, Shift+Enter for a new line)"
        className="w-full resize-y rounded border border-zinc-700 bg-zinc-900 px-2 py-1.5 text-sm text-zinc-100 placeholder:text-zinc-500"
      />
      <div className="flex flex-wrap items-end gap-3">
        <label className={field}>
          reply tokens
          <input aria-label="reply tokens" className={`${input} w-16 font-mono`} inputMode="numeric" value={maxTokens} onChange={(e) => setMaxTokens(e.target.value)} />
        </label>
        <label className={field}>
          temperature
          <input aria-label="temperature" className={`${input} w-16 font-mono`} inputMode="decimal" value={temp} onChange={(e) => setTemp(e.target.value)} />
        </label>
        <label className={field}>
          seed (optional)
          <input aria-label="reply seed" className={`${input} w-20 font-mono`} inputMode="numeric" value={seed} placeholder="per turn" onChange={(e) => setSeed(e.target.value)} />
        </label>
        <Button type="submit" variant="primary" disabled={!canSend}>
          {busy ? 'Answering…' : 'Send'}
        </Button>
        <span className="pb-1.5 text-[11px] text-zinc-500">{text.length.toLocaleString('en-US')} / {MAX_PROMPT.toLocaleString('en-US')}</span>
        {problems.length > 0 && <span className="pb-1.5 text-xs text-amber-300">{problems.join('; ')}</span>}
      </div>
    </form>
  )
}
