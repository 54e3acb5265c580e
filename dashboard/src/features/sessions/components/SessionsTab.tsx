import { useNavigate } from 'react-router'
import type { SessionDetail } from '@/api/types'
import { Card } from '@/components/ui/Card'
import { ErrorState, Loading } from '@/components/ui/States'
import { Button } from '@/components/ui/Toggle'
import { patchSearch, type ViewState } from '@/lib/urlState'
import { useLineage } from '../api/lineage'
import { CompareView } from './CompareView'
import { CreateForm } from './CreateForm'
import { ForkForm } from './ForkForm'
import { LineageTree } from './LineageTree'
import { BaseInfo, FilesList, ResumeBlock } from './SessionInfo'
import { SessionsTable } from './SessionsTable'

export interface SessionsTabProps {
  sessionId: string | null
  detail: SessionDetail | undefined
  view: ViewState
  patch: (p: Partial<ViewState>, o?: { push?: boolean }) => void
}

export function SessionsTab({ sessionId, detail, view, patch }: SessionsTabProps) {
  const lineage = useLineage()
  const navigate = useNavigate()
  const open = (id: string) =>
    navigate({ pathname: '/nano/overview', search: `?${patchSearch(window.location.search, { session: id, run: null, t: null, from: null, to: null, event: null, k: null })}` })
  const toggle = (id: string) => {
    const s = new Set(view.compare)
    if (s.has(id)) s.delete(id)
    else if (s.size < 8) s.add(id)
    patch({ compare: [...s] })
  }
  return (
    <div className="space-y-3" data-testid="sessions">
      <Card id="list" title="Sessions" subtitle="tick up to 8 to compare · click an id to open it" actions={<CreateForm onOpen={open} />}>
        <SessionsTable current={sessionId} selected={view.compare} onToggle={toggle} onOpen={open} />
      </Card>
      {view.compare.length >= 2 ? (
        <Card id="compare" title={`Compare ${view.compare.length} sessions`} actions={<Button onClick={() => patch({ compare: [] })}>Clear selection</Button>}>
          <CompareView ids={view.compare} />
        </Card>
      ) : (
        <p className="text-xs text-zinc-500">Tick two or more sessions above to overlay their MSE curves and compare their metrics.</p>
      )}
      <div className="grid grid-cols-1 gap-3 xl:grid-cols-2">
        <Card id="lineage" title="Lineage" subtitle="forks branch to the right">
          {lineage.error ? <ErrorState error={lineage.error} what="lineage" /> : !lineage.data ? <Loading what="lineage" /> : <LineageTree lineage={lineage.data} current={sessionId} onOpen={open} />}
        </Card>
        {sessionId && detail ? (
          <div className="space-y-3">
            <Card id="fork" title={`Fork ${sessionId}`} testId="fork-card">
              <ForkForm sessionId={sessionId} onOpen={open} />
            </Card>
            <Card id="resume" title="Resume">
              <ResumeBlock detail={detail} />
            </Card>
          </div>
        ) : (
          <Card id="fork" title="Fork">
            <p className="text-sm text-zinc-400">Pick a session to fork, resume or inspect.</p>
          </Card>
        )}
      </div>
      {sessionId && detail && (
        <div className="grid grid-cols-1 gap-3 xl:grid-cols-2">
          <Card id="files" title={`Files of ${sessionId}`}>
            <FilesList sessionId={sessionId} />
          </Card>
          <Card id="base" title="Base model">
            <BaseInfo detail={detail} />
          </Card>
        </div>
      )}
    </div>
  )
}
