import { useState } from 'react'
import { useTrajectory } from '@/api/queries/trajectory'
import type { Ghost } from '@/api/types'
import { Card } from '@/components/ui/Card'
import { Empty, ErrorState, Loading } from '@/components/ui/States'
import { Toggle } from '@/components/ui/Toggle'
import { fmtInt } from '@/lib/format'
import { muEvents } from '@/lib/reference'
import { runReadable, type NanoTabProps } from '@/types/nano'
import { GhostControls } from './GhostControls'
import { MuGauge } from './MuGauge'
import { ReplayControls } from './ReplayControls'
import { StateSeries } from './StateSeries'
import { TrajectoryCanvas } from './TrajectoryCanvas'

export function EnvironmentTab({ sessionId, runId, run, detail, view, patch }: NanoTabProps) {
  const readable = runReadable(run)
  const q = useTrajectory({ session: sessionId, run: runId ?? undefined, start: view.from, end: view.to, points: 2000 }, readable)
  const [layers, setLayers] = useState({ predictions: true, velocity: true, actions: true })
  const [ghost, setGhost] = useState<(Ghost & { mu: number }) | null>(null)
  if (!runId) return <Empty>Pick a run to see its trajectory.</Empty>
  if (!readable) return <Empty>This run is still going: its trajectory is written when it ends.</Empty>
  if (q.error && !q.data) return <ErrorState error={q.error} what="trajectory" />
  if (!q.data) return <Loading what="trajectory" />
  const tr = q.data
  if (!tr.t.length) return <Empty>This window holds no trajectory steps.</Empty>
  const set = (k: keyof typeof layers) => (v: boolean) => setLayers((l) => ({ ...l, [k]: v }))
  return (
    <div className="space-y-3" data-testid="environment">
      <div className="grid grid-cols-1 gap-3 xl:grid-cols-[minmax(0,1fr)_380px]">
        <Card
          id="traj"
          title="Trajectory"
          subtitle={`t ${fmtInt(tr.t[0])}–${fmtInt(tr.t[tr.t.length - 1])} · every ${fmtInt(tr.stride)} step${tr.stride === 1 ? '' : 's'} · equal aspect`}
          actions={
            <>
              <Toggle pressed={layers.predictions} onChange={set('predictions')}>predictions</Toggle>
              <Toggle pressed={layers.velocity} onChange={set('velocity')}>velocity</Toggle>
              <Toggle pressed={layers.actions} onChange={set('actions')}>actions</Toggle>
            </>
          }
        >
          <TrajectoryCanvas tr={tr} ghost={ghost?.obs ?? null} layers={layers} />
          <ReplayControls tr={tr} />
        </Card>
        <div className="space-y-3">
          <Card id="mu" title="Hidden physics">
            <MuGauge meta={detail.meta} muSeries={tr.mu} />
          </Card>
          <Card id="ghost" title="Ghost trajectory">
            <GhostControls sessionId={sessionId} runId={runId} meta={detail.meta} tr={tr} ghost={ghost} onGhost={setGhost} />
          </Card>
        </div>
      </div>
      <Card
        id="series"
        title="State, predictions and actions over time"
        subtitle="truth solid · each prediction drawn at the step it predicts (made one step earlier): baseline dashed grey, adaptive dashed cyan (band = its error) · action on the right axis"
      >
        <StateSeries tr={tr} ghost={ghost} view={view} patch={patch} events={muEvents(detail.meta.env_cfg)} />
      </Card>
    </div>
  )
}
