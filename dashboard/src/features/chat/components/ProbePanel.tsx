import { useState } from 'react'
import { errorMessage } from '@/api/client'
import { Button } from '@/components/ui/Toggle'
import { fmtNum } from '@/lib/format'
import { useProbe } from '../api/chat'
import type { ChatProbe, ChatProbeSide } from '../api/types'
import { probeVerdict } from '../lib/probe'
import { field, input } from './styles'

const MAX_QUESTION = 8000
const MAX_EXPECTED = 500
const MAX_TOKENS = 24

/**
 * Memory probe: ask the session a question (a fresh context, greedy) with its fast weights
 * and with a fresh session's, and, given the answer you expect, its loss under each. Read-only
 * on the server (the session's files and fast weights are unchanged).
 */
export function ProbePanel({ sessionId, nTurns, busy }: { sessionId: string; nTurns: number; busy: boolean }) {
  const probe = useProbe(sessionId)
  const [question, setQuestion] = useState('')
  const [expected, setExpected] = useState('')
  const problems: string[] = []
  if (!question.trim()) problems.push('question: type a question')
  else if (question.length > MAX_QUESTION) problems.push(`question: at most ${MAX_QUESTION.toLocaleString('en-US')} characters`)
  if (expected.length > MAX_EXPECTED) problems.push(`expected answer: at most ${MAX_EXPECTED} characters`)
  const result = probe.data
  return (
    <div className="space-y-2" data-testid="probe-panel">
      <form
        aria-label="Memory probe"
        className="space-y-2"
        onSubmit={(e) => {
          e.preventDefault()
          if (problems.length) return
          probe.mutate({ question, expected: expected.trim() ? expected : null, max_tokens: MAX_TOKENS })
        }}
      >
        <label className={field}>
          question
          <input className={input} value={question} onChange={(e) => setQuestion(e.target.value)} placeholder="Who is the lighthouse keeper of Varnholm island?" aria-describedby="probe-help" />
        </label>
        <label className={field}>
          expected answer (optional: its loss is measured)
          <input className={input} value={expected} onChange={(e) => setExpected(e.target.value)} placeholder="Edda Quist" />
        </label>
        <div className="flex flex-wrap items-center gap-2">
          <Button type="submit" variant="primary" disabled={problems.length > 0 || probe.isPending || busy}>
            {probe.isPending ? 'Asking…' : 'Ask with and without'}
          </Button>
          <span id="probe-help" className="text-[11px] text-zinc-500">
            greedy, at most {MAX_TOKENS} tokens, a fresh context; nothing is written
          </span>
        </div>
        {question && problems.length > 0 && (
          <p role="alert" className="text-[11px] text-amber-300">{problems.join('; ')}</p>
        )}
      </form>
      {probe.error && <p role="alert" className="text-xs text-red-300">{errorMessage(probe.error)}</p>}
      {result && <ProbeResult result={result} stale={result.n_turns !== nTurns} />}
    </div>
  )
}

function ProbeResult({ result, stale }: { result: ChatProbe; stale: boolean }) {
  const verdict = probeVerdict(result)
  return (
    <div
      data-testid="probe-result"
      data-session={result.session_id}
      data-question={result.question}
      data-loss-delta={result.loss_delta ?? ''}
      data-turns={result.n_turns}
      className="space-y-2 rounded border border-zinc-800 p-2"
    >
      <p className="text-[11px] text-zinc-400">
        “{result.question}” after {result.n_turns} turn{result.n_turns === 1 ? '' : 's'}
        {result.scored_text != null && (
          <>
            {' '}· expected <span className="font-mono text-zinc-200">{JSON.stringify(result.scored_text)}</span> ({result.answer_tokens} tokens scored)
          </>
        )}
        {stale && <span className="ml-1 text-amber-300">· the session has changed since: ask again</span>}
      </p>
      <div className="grid grid-cols-2 gap-2">
        <Side side="with" label="with fast weights" r={result.with_fast_weights} />
        <Side side="without" label="without (a fresh session)" r={result.without_fast_weights} />
      </div>
      {result.loss_delta != null && (
        <p className="text-xs text-zinc-300" data-testid="probe-delta">
          loss with − without: <span className={`font-mono ${result.loss_delta < 0 ? 'text-emerald-300' : result.loss_delta > 0 ? 'text-red-300' : ''}`}>{result.loss_delta > 0 ? '+' : ''}{fmtNum(result.loss_delta)}</span> nats/token
          {verdict && <span className="text-zinc-400"> · {verdict}</span>}
        </p>
      )}
    </div>
  )
}

function Side({ side, label, r }: { side: 'with' | 'without'; label: string; r: ChatProbeSide }) {
  return (
    <div data-side={side} data-loss={r.loss ?? ''} data-answer={r.answer} data-recalled={r.recalled ?? ''} className="min-w-0 space-y-1">
      <h3 className="text-[11px] font-medium uppercase tracking-wide text-zinc-400">{label}</h3>
      <p className="whitespace-pre-wrap break-words rounded bg-zinc-950/60 px-1.5 py-1 font-mono text-xs text-zinc-100" aria-label={`answer ${label}`}>
        {r.answer.trim() ? r.answer : <span className="text-zinc-500">(empty reply)</span>}
      </p>
      {r.loss != null && (
        <p className="text-xs text-zinc-300">
          loss <span className="font-mono">{fmtNum(r.loss)}</span> nats/token
          {r.recalled != null && <span className={r.recalled ? 'ml-1 text-emerald-300' : 'ml-1 text-zinc-500'}>· {r.recalled ? 'recalled' : 'not recalled'}</span>}
        </p>
      )}
    </div>
  )
}
