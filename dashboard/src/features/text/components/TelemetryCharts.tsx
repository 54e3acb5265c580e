import { useMemo } from 'react'
import { TimeChart } from '@/components/charts/TimeChart'
import type { SentryEvent } from '../api/types'
import { telemetry } from '../lib/telemetry'

/**
 * Per-chunk telemetry: loss with write pressure (grad norm), canary Δ with the canary
 * alignment of the chunk's gradient (cos), and compression ratio. Gate blocks, rollbacks and
 * throttled writes are markers (shape + colour) on every chart.
 */
export function TelemetryCharts({ runId, events, canaryMaxDelta }: { runId: string; events: SentryEvent[]; canaryMaxDelta?: number | null }) {
  const t = useMemo(() => telemetry(events), [events])
  const attrs = {
    run: runId,
    'gate-markers': t.blocked.length,
    'blocked-chunks': t.blocked.join(','),
    'rollback-markers': t.rolledBack.length,
  }
  const thresholds = canaryMaxDelta ? [{ value: canaryMaxDelta, label: `canary max Δ ${canaryMaxDelta}`, color: '#facc15' }] : undefined
  return (
    <div className="space-y-3">
      <TimeChart
        id="sentry-loss-chart"
        ariaLabel={`Loss and gradient norm per chunk of run ${runId} (${t.x.length} chunks, ${t.blocked.length} blocked by the gate, ${t.rolledBack.length} rolled back)`}
        x={t.x}
        series={[
          { key: 'loss', label: 'loss (nats/token)', color: '#22d3ee', values: t.loss, width: 1.8, points: t.x.length < 80 },
          { key: 'grad_norm', label: 'grad norm (write pressure)', color: '#fb923c', values: t.gradNorm, width: 1.2, scale: 'y2', dash: [4, 3] },
        ]}
        markers={t.markers}
        xLabel="chunk"
        yLabel="loss"
        y2Label="grad norm"
        height={220}
        syncCursor={false}
        exportName={`${runId}-loss`}
        dataAttrs={attrs}
      />
      <TimeChart
        id="sentry-canary-chart"
        ariaLabel={`Canary loss change per write and canary alignment (cos) per chunk of run ${runId}`}
        x={t.x}
        series={[
          { key: 'canary_delta', label: 'canary Δ (after − before)', color: '#facc15', values: t.canaryDelta, width: 1.8, points: t.x.length < 80 },
          { key: 'canary_cos', label: 'canary alignment cos', color: '#c084fc', values: t.canaryCos, width: 1.2, scale: 'y2', dash: [4, 3] },
        ]}
        markers={t.markers}
        thresholds={thresholds}
        xLabel="chunk"
        yLabel="canary Δ"
        y2Label="cos"
        height={200}
        syncCursor={false}
        exportName={`${runId}-canary`}
        dataAttrs={attrs}
      />
      <TimeChart
        id="sentry-compression-chart"
        ariaLabel={`Compression ratio of each chunk of run ${runId} (low means repetitive)`}
        x={t.x}
        series={[{ key: 'compression_ratio', label: 'compression ratio (zlib / raw)', color: '#34d399', values: t.compression, width: 1.5, points: t.x.length < 80 }]}
        markers={t.markers}
        xLabel="chunk"
        yLabel="ratio"
        height={160}
        alignY2
        syncCursor={false}
        exportName={`${runId}-compression`}
        dataAttrs={attrs}
      />
    </div>
  )
}
