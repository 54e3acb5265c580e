import { useState } from 'react'
import { Heatmap } from '@/components/charts/Heatmap'
import { Card } from '@/components/ui/Card'
import { ErrorState, Loading } from '@/components/ui/States'
import { Toggle } from '@/components/ui/Toggle'
import { fmtInt } from '@/lib/format'
import { useWeightsAt } from '../api/weightsAt'

const ORDER = ['W_u', 'B', 'W_o']
export const sortMatrices = (names: string[]) =>
  [...names].sort((a, b) => (ORDER.indexOf(a) + 1 || 99) - (ORDER.indexOf(b) + 1 || 99) || a.localeCompare(b))

/** The plastic matrices at update k, on a colour scale fixed across the history (toggle). */
export function MatricesPanel({ sessionId, k, t, vmaxByMatrix }: { sessionId: string; k: number | null; t: number | null; vmaxByMatrix: Record<string, number> }) {
  const q = useWeightsAt(sessionId, k)
  const [fixed, setFixed] = useState(true)
  return (
    <Card
      id="wmats"
      title={`Plastic weights at k = ${k ?? '—'}`}
      subtitle={t !== null ? `t = ${fmtInt(t)} · RdBu centred at 0` : undefined}
      actions={
        <Toggle pressed={fixed} onChange={setFixed} title="Use one colour limit (max |w| over the whole history) so frames are comparable">
          fixed scale
        </Toggle>
      }
    >
      {q.error ? (
        <ErrorState error={q.error} what="weights" />
      ) : !q.data ? (
        <Loading what="weights" />
      ) : (
        <div className="flex flex-wrap items-start gap-5" data-k={q.data.k}>
          {sortMatrices(Object.keys(q.data.matrices)).map((name) => {
            const m = q.data.matrices[name]
            return (
              <Heatmap
                key={name}
                id={`heatmap-${name}`}
                title={name}
                rows={m.shape[0]}
                cols={m.shape[1] ?? 1}
                data={m.data}
                vmax={fixed ? vmaxByMatrix[name] : undefined}
                maxWidth={name === 'W_o' ? 560 : 300}
              />
            )
          })}
        </div>
      )}
    </Card>
  )
}
