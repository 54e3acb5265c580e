import { Card } from '@/components/ui/Card'
import { QueryState } from '@/components/ui/States'
import { Tabs } from '@/components/ui/Tabs'
import { useChatSessions } from '../api/chat'
import { useChatView } from '../hooks/useChatView'
import type { ChatTab } from '../lib/chatView'
import { CreateSessionForm } from './CreateSessionForm'
import { SessionList } from './SessionList'
import { SessionView } from './SessionView'
import { SleepPanel } from './SleepPanel'

const TABS: { id: ChatTab; label: string }[] = [
  { id: 'chat', label: 'Chat' },
  { id: 'sleep', label: 'Sleep' },
]

/** Chat: sessions whose fast weights learn every prompt under the defences, and sleep
 * (consolidating what sessions learned into a candidate model that must be promoted). */
export function ChatPage() {
  const [view, patch] = useChatView()
  const sessions = useChatSessions()
  const items = sessions.data?.items ?? []
  const selected = view.session ?? items[0]?.session_id ?? null
  return (
    <main id="main" className="flex min-h-0 flex-1 flex-col">
      <div className="flex flex-wrap items-end gap-x-4 gap-y-1 border-b border-zinc-800/70 px-4 pt-1.5">
        <h1 className="sr-only">Chat — sessions with fast weights, and sleep</h1>
        <Tabs items={TABS} selected={view.tab} onSelect={(id) => patch({ tab: id as ChatTab }, { push: true })} label="Chat views" idPrefix="chat" />
      </div>
      <div role="tabpanel" id="chat-panel" aria-labelledby={`chat-tab-${view.tab}`} className="mx-auto w-full max-w-[1600px] px-4 py-3">
        {view.tab === 'chat' ? (
          <div className="grid gap-3 lg:grid-cols-[300px_minmax(0,1fr)]">
            <div className="space-y-3">
              <Card id="chat-new" title="New session" subtitle="fresh fast weights on a text model">
                <CreateSessionForm onCreated={(id) => patch({ session: id, turn: null }, { push: true })} />
              </Card>
              <Card id="chat-sessions" title="Sessions" subtitle="most recent first">
                <QueryState query={sessions} what="chat sessions" isEmpty={(d) => d.items.length === 0} empty="No chat sessions yet: create one above, or `ttt chat`.">
                  {(d) => <SessionList sessions={d.items} selected={selected} onSelect={(id) => patch({ session: id, turn: null }, { push: true })} />}
                </QueryState>
                {(sessions.data?.errors ?? []).length > 0 && (
                  <p role="alert" className="mt-2 text-xs text-amber-300">
                    {(sessions.data?.errors ?? []).length} unreadable session(s): {(sessions.data?.errors ?? []).map((e) => e.id).join(', ')}
                  </p>
                )}
              </Card>
            </div>
            <div className="min-w-0">
              {selected ? (
                <SessionView
                  key={selected}
                  sessionId={selected}
                  turn={view.turn}
                  onTurn={(t) => patch({ turn: t })}
                  onSelectSession={(id) => patch({ session: id, turn: null }, { push: true })}
                  onDeleted={() => patch({ session: null, turn: null }, { push: true })}
                />
              ) : (
                <Card id="chat-none" title="No session selected">
                  <p className="text-sm text-zinc-400">Create a session on the left to start chatting. Every message is written into the session’s fast weights through the gate, canary rollback and SPFW before the reply is sampled.</p>
                </Card>
              )}
            </div>
          </div>
        ) : (
          <SleepPanel selected={view.candidate} onSelect={(id) => patch({ candidate: id }, { push: true })} />
        )}
      </div>
    </main>
  )
}
