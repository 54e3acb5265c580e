import { useState } from 'react'
import { Card } from '@/components/ui/Card'
import { QueryState } from '@/components/ui/States'
import { Tabs } from '@/components/ui/Tabs'
import { useTextRuns } from '../api/textRuns'
import type { TextRunStarted } from '../api/types'
import { useTextView } from '../hooks/useTextView'
import type { TextTab } from '../lib/textView'
import { CompareView } from './CompareView'
import { JobLine } from './JobLine'
import { RedTeamPanel } from './RedTeamPanel'
import { RunSection } from './RunSection'
import { RunsTable } from './RunsTable'
import { SentryForm } from './SentryForm'

const TABS: { id: TextTab; label: string }[] = [
  { id: 'monitor', label: 'Monitor' },
  { id: 'compare', label: 'Compare' },
  { id: 'redteam', label: 'Red team' },
]

/** Text: the Sentry monitor (run, telemetry, events, text), run comparison, and the red team. */
export function TextPage() {
  const [view, patch] = useTextView()
  const runs = useTextRuns()
  const [started, setStarted] = useState<TextRunStarted | null>(null)
  const items = runs.data?.items ?? []
  const selected = view.run ?? items[0]?.run_id ?? null
  return (
    <main id="main" className="flex min-h-0 flex-1 flex-col">
      <div className="flex flex-wrap items-end gap-x-4 gap-y-1 border-b border-zinc-800/70 px-4 pt-1.5">
        <h1 className="sr-only">Text — the Sentry monitor and the red team</h1>
        <Tabs items={TABS} selected={view.tab} onSelect={(id) => patch({ tab: id as TextTab }, { push: true })} label="Text views" idPrefix="text" />
      </div>
      <div role="tabpanel" id="text-panel" aria-labelledby={`text-tab-${view.tab}`} className="mx-auto w-full max-w-[1500px] space-y-3 px-4 py-3">
        {view.tab === 'monitor' && (
          <>
            <Card id="sentry-start" title="Run the Sentry monitor" subtitle="one guarded fast-weight write per chunk; every signal recorded; runs as a job">
              <SentryForm
                onStarted={(r) => {
                  setStarted(r)
                  patch({ run: r.run_id, status: [] }, { push: true })
                }}
              />
              {started && (
                <div className="mt-2">
                  <JobLine jobId={started.job_id} unit="chunks" testId="sentry-job" />
                </div>
              )}
            </Card>
            <Card id="text-runs" title="Sentry runs" subtitle="newest first · pick one to show, or “compare” it with the shown run">
              <QueryState query={runs} what="Sentry runs" isEmpty={(d) => d.items.length === 0} empty="No Sentry runs yet: start one above, or `ttt sentry run`.">
                {(d) => (
                  <RunsTable
                    runs={d.items}
                    selected={selected}
                    onSelect={(id) => patch({ run: id, status: [] }, { push: true })}
                    onCompare={(id) => patch({ tab: 'compare', run: selected, vs: id }, { push: true })}
                  />
                )}
              </QueryState>
            </Card>
            {selected && <RunSection key={selected} runId={selected} pending={started?.run_id === selected} filter={view.status} onFilter={(f) => patch({ status: f })} />}
          </>
        )}
        {view.tab === 'compare' && (
          <CompareView runs={items} a={view.run} b={view.vs} onPick={(a, b) => patch({ run: a, vs: b })} />
        )}
        {view.tab === 'redteam' && <RedTeamPanel selected={view.rt} onSelect={(id) => patch({ rt: id }, { push: true })} />}
      </div>
    </main>
  )
}
