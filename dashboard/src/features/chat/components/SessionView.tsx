import { useMemo } from 'react'
import { ApiError } from '@/api/client'
import { Card } from '@/components/ui/Card'
import { Empty, ErrorState, Loading } from '@/components/ui/States'
import { useChatSession, useChatTrace } from '../api/chat'
import { useSendMessage } from '../hooks/useSendMessage'
import { ChatPane } from './ChatPane'
import { NormChart } from './NormChart'
import { ProbePanel } from './ProbePanel'
import { SessionHeader } from './SessionHeader'
import { TraceTable } from './TraceTable'
import { TurnDetail } from './TurnDetail'

/** One session: header (defences, fork/reset/delete), conversation, norm chart, memory probe, turn detail, trace. */
export function SessionView({
  sessionId,
  turn,
  onTurn,
  onSelectSession,
  onDeleted,
}: {
  sessionId: string
  turn: number | null
  onTurn: (t: number | null) => void
  onSelectSession: (id: string) => void
  onDeleted: () => void
}) {
  const detail = useChatSession(sessionId)
  const trace = useChatTrace(sessionId)
  const sender = useSendMessage(sessionId)
  const turns = useMemo(() => trace.data ?? [], [trace.data])
  const shown = turn !== null ? (turns.find((t) => t.turn === turn) ?? null) : (turns[turns.length - 1] ?? null)
  if (detail.error) {
    const gone = detail.error instanceof ApiError && detail.error.status === 404
    return gone ? <Empty>Chat session “{sessionId}” does not exist (deleted, or a mistyped link).</Empty> : <ErrorState error={detail.error} what={`chat session ${sessionId}`} />
  }
  if (!detail.data) return <Loading what={`chat session ${sessionId}`} />
  return (
    <div className="space-y-3" data-testid="chat-session" data-session={sessionId} data-turns={detail.data.session.n_turns}>
      <SessionHeader detail={detail.data} busy={sender.busy} onSelectSession={onSelectSession} onDeleted={onDeleted} />
      <div className="grid gap-3 xl:grid-cols-[minmax(0,1fr)_460px]">
        <Card id="chat-conversation" title="Conversation" subtitle="each prompt is written into the fast weights, chunk by chunk, before the reply">
          {trace.error && !trace.data ? (
            <ErrorState error={trace.error} what="the trace" />
          ) : !trace.data ? (
            <Loading what="the trace" />
          ) : (
            <ChatPane
              sessionId={sessionId}
              turns={turns}
              generation={detail.data.session.generation}
              sender={sender}
              selected={shown?.turn ?? null}
              onTurn={onTurn}
            />
          )}
        </Card>
        <div className="min-w-0 space-y-3">
          <Card id="chat-norm" title="Fast-weight norm" subtitle="‖W − W₀‖ after each turn · markers: the turn’s worst write">
            <NormChart sessionId={sessionId} turns={turns} onPick={onTurn} />
          </Card>
          <Card id="chat-probe" title="Memory probe" subtitle="what the session answers with its fast weights and without them (read-only)">
            <ProbePanel sessionId={sessionId} nTurns={detail.data.session.n_turns} busy={sender.busy} />
          </Card>
        </div>
      </div>
      <Card id="chat-turn-detail" title={shown ? `Turn ${shown.turn}` : 'Turn'} subtitle="gate decision, write status and signals of every prompt chunk">
        {shown ? <TurnDetail sessionId={sessionId} turn={shown} /> : <p className="text-sm text-zinc-400">No turns yet: send a message.</p>}
      </Card>
      <Card id="chat-trace" title="Trace" subtitle={`${turns.length} turn${turns.length === 1 ? '' : 's'} · one record per turn in trace.jsonl`}>
        <TraceTable turns={turns} selected={shown?.turn ?? null} onSelect={onTurn} />
      </Card>
    </div>
  )
}
