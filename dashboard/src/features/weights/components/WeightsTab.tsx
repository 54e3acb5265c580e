import { useEffect, useMemo } from 'react'
import { useWeightsList } from '@/api/queries/weights'
import { Card } from '@/components/ui/Card'
import { Empty, ErrorState, Loading } from '@/components/ui/States'
import { lowerBound } from '@/lib/downsample'
import { useCursor } from '@/stores/cursor'
import type { NanoTabProps } from '@/types/nano'
import { useWeightStats } from '../api/weightStats'
import { DeltaPanel } from './DeltaPanel'
import { MatricesPanel } from './MatricesPanel'
import { SpectrumPanel } from './SpectrumPanel'
import { StatsCharts } from './StatsCharts'
import { WeightSlider } from './WeightSlider'

export function WeightsTab({ sessionId, view, patch }: NanoTabProps) {
  const list = useWeightsList(sessionId)
  const items = useMemo(() => list.data?.items ?? [], [list.data])
  const ts = useMemo(() => items.map((w) => w.t), [items])
  const stats = useWeightStats(sessionId, 600)
  const last = items.length ? items[items.length - 1].k : null
  const k = view.k !== null && items.some((w) => w.k === view.k) ? view.k : last
  const idx = items.findIndex((w) => w.k === k)
  const cur = idx >= 0 ? items[idx] : undefined

  // The weights follow the global time cursor: the last committed update at or before it.
  const pinned = useCursor((s) => s.pinned)
  useEffect(() => {
    if (pinned === null || !items.length) return
    const i = Math.max(0, lowerBound(ts, pinned + 1) - 1)
    const kk = items[i].k
    if (kk !== k) patch({ k: kk })
  }, [pinned]) // eslint-disable-line react-hooks/exhaustive-deps

  const selectIndex = (i: number) => {
    const w = items[Math.min(items.length - 1, Math.max(0, i))]
    if (!w) return
    patch({ k: w.k })
    useCursor.getState().setPinned(w.t)
  }

  if (list.error) return <ErrorState error={list.error} what="weight history" />
  if (list.isPending) return <Loading what="weight history" />
  if (!items.length) return <Empty>No weight history for this session yet.</Empty>

  const vmaxByMatrix: Record<string, number> = {}
  for (const [name, st] of Object.entries(stats.data?.stats ?? {})) vmaxByMatrix[name] = Math.max(...st.max_abs.filter(Number.isFinite), 1e-12)

  return (
    <div className="space-y-3" data-testid="weights">
      <WeightSlider items={items} index={idx} onIndex={selectIndex} />
      <div className="grid grid-cols-1 gap-3 xl:grid-cols-2">
        <MatricesPanel sessionId={sessionId} k={k} t={cur?.t ?? null} vmaxByMatrix={vmaxByMatrix} />
        <DeltaPanel sessionId={sessionId} items={items} toIndex={idx} />
      </div>
      <div className="grid grid-cols-1 gap-3 xl:grid-cols-[minmax(0,1fr)_420px]">
        <Card id="wstats" title="Weight statistics over time" subtitle="one point per committed update · drag to zoom · click to select">
          {stats.error ? (
            <ErrorState error={stats.error} what="weight statistics" />
          ) : !stats.data ? (
            <Loading what="weight statistics" />
          ) : (
            <StatsCharts stats={stats.data} view={view} patch={patch} onPickT={(t) => selectIndex(Math.max(0, lowerBound(ts, t + 1) - 1))} />
          )}
        </Card>
        <SpectrumPanel sessionId={sessionId} k={k} />
      </div>
    </div>
  )
}
