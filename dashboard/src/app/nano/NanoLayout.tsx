import { lazy, Suspense, useEffect, useMemo, useState } from 'react'
import { useNavigate, useParams } from 'react-router'
import { ApiError } from '@/api/client'
import { useEvents } from '@/api/queries/events'
import { useSession } from '@/api/queries/session'
import { useSessions } from '@/api/queries/sessions'
import { SessionRunPicker } from '@/components/nano/SessionRunPicker'
import { TimeBar } from '@/components/nano/TimeBar'
import { Empty, ErrorState, Loading } from '@/components/ui/States'
import { Tabs } from '@/components/ui/Tabs'
import { OverviewTab } from '@/features/overview'
import { useViewState } from '@/hooks/useViewState'
import { runKey, usePriority } from '@/stores/priority'
import { runDomain, runReadable, type NanoTabProps } from '@/types/nano'
import { useCursorUrlSync, useTimeKeys } from './useGlobalKeys'

const WeightsTab = lazy(() => import('@/features/weights'))
const TransactionsTab = lazy(() => import('@/features/transactions'))
const EnvironmentTab = lazy(() => import('@/features/environment'))
const ArchitectureTab = lazy(() => import('@/features/architecture'))
const SessionsTab = lazy(() => import('@/features/sessions'))

const TABS = [
  { id: 'overview', label: 'Overview' },
  { id: 'weights', label: 'Weights' },
  { id: 'transactions', label: 'Transactions' },
  { id: 'environment', label: 'Environment' },
  { id: 'architecture', label: 'Architecture' },
  { id: 'sessions', label: 'Sessions' },
]

export function NanoLayout() {
  const { tab = 'overview' } = useParams()
  const navigate = useNavigate()
  const [view, patch] = useViewState()
  const sessions = useSessions({ limit: 200, sort: '-created_at' })
  const sessionId = view.session
  const [pollFast, setPollFast] = useState(false)
  const summaryRunning = sessions.data?.items.find((s) => s.session_id === sessionId)?.running
  const detail = useSession(sessionId, { poll: pollFast ? 1000 : summaryRunning ? 3000 : false })
  const runs = useMemo(() => detail.data?.runs ?? [], [detail.data])
  const runId = view.run
  const run = runs.find((r) => r.run_id === runId)
  // A run just started from the UI is not on disk until its job starts: poll until it is
  // (or a run is going), so the Overview can follow it.
  const pending = !!detail.data && !!runId && !run
  const anyRunning = runs.some((r) => r.status === 'running')
  useEffect(() => setPollFast(pending || anyRunning), [pending, anyRunning])
  const domain = runDomain(run)
  const primary = usePriority((s) => !!s.ready[runKey(sessionId, runId)])
  const counts = useEvents({ session: sessionId ?? undefined, run: runId ?? undefined, limit: 1 }, runReadable(run) && (tab !== 'overview' || primary))

  // Default selections: newest session, its last run.
  useEffect(() => {
    if (!sessionId && sessions.data?.items.length) patch({ session: sessions.data.items[0].session_id })
  }, [sessionId, sessions.data, patch])
  useEffect(() => {
    if (!detail.data || view.run) return
    const last = detail.data.runs[detail.data.runs.length - 1]
    if (last) patch({ run: last.run_id })
  }, [detail.data, view.run, patch])

  useCursorUrlSync(view.t, patch)
  useTimeKeys(domain, view)

  const known = TABS.some((t) => t.id === tab)
  const selectTab = (id: string) => navigate({ pathname: `/nano/${id}`, search: window.location.search })

  const needsSession = tab !== 'sessions'
  let body: React.ReactNode
  if (!known) body = <Empty>Unknown tab “{tab}”.</Empty>
  else if (!needsSession) body = <SessionsTab sessionId={sessionId} view={view} patch={patch} detail={detail.data} />
  else if (sessions.error && !sessions.data) body = <ErrorState error={sessions.error} what="sessions" />
  else if (sessions.data && sessions.data.total === 0)
    body = (
      <Empty>
        No sessions yet. Create one in the <button className="text-cyan-300 underline" onClick={() => selectTab('sessions')}>Sessions</button> tab or
        with <code className="font-mono">ttt nano session new</code>.
      </Empty>
    )
  else if (!sessionId || (detail.isPending && !detail.data)) body = <Loading what="session" />
  else if (detail.error && !detail.data)
    body = detail.error instanceof ApiError && detail.error.status === 404 ? (
      <Empty>Session “{sessionId}” does not exist (any more). Pick another one above.</Empty>
    ) : (
      <ErrorState error={detail.error} what={`session ${sessionId}`} />
    )
  else if (pending && tab !== 'overview')
    body = <Empty>Run “{runId}” is not on disk (yet). It appears here once its job starts; the Overview follows it live.</Empty>
  else if (detail.data) {
    const p: NanoTabProps = { sessionId, runId, detail: detail.data, run, view, patch }
    body =
      tab === 'overview' ? <OverviewTab {...p} />
      : tab === 'weights' ? <WeightsTab {...p} />
      : tab === 'transactions' ? <TransactionsTab {...p} />
      : tab === 'environment' ? <EnvironmentTab {...p} />
      : <ArchitectureTab {...p} />
  }

  return (
    <main id="main" className="flex min-h-0 flex-1 flex-col">
      <div className="flex flex-wrap items-end gap-x-4 gap-y-1 border-b border-zinc-800/70 px-4 pt-1.5">
        <h1 className="sr-only">Nano — hidden-μ physics sessions</h1>
        <Tabs items={TABS} selected={known ? tab : ''} onSelect={selectTab} label="Nano views" idPrefix="nano" />
        <div className="ml-auto pb-1.5">
          <SessionRunPicker
            sessionId={sessionId}
            runId={runId}
            runs={runs}
            onSession={(id) => patch({ session: id, run: null, t: null, from: null, to: null, event: null, k: null }, { push: true })}
            onRun={(id) => patch({ run: id, t: null, from: null, to: null, event: null }, { push: true })}
          />
        </div>
      </div>
      {needsSession && <TimeBar domain={domain} view={view} patch={patch} counts={counts.data?.counts} />}
      <div
        role="tabpanel"
        id="nano-panel"
        aria-labelledby={known ? `nano-tab-${tab}` : undefined}
        className="min-h-0 flex-1 px-4 py-3"
        data-testid={`panel-${tab}`}
      >
        <Suspense fallback={<Loading what={`${tab} view`} />}>{body}</Suspense>
      </div>
    </main>
  )
}
