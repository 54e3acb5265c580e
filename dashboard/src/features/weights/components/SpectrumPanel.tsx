import { Card } from '@/components/ui/Card'
import { ErrorState, Loading } from '@/components/ui/States'
import { fmtNum } from '@/lib/format'
import { useSpectrum } from '../api/spectrum'
import { sortMatrices } from './MatricesPanel'

const COLORS: Record<string, string> = { W_u: '#22d3ee', B: '#a78bfa', W_o: '#fbbf24' }

/** Top-10 singular values per matrix and the condition number s_max / s_min. */
export function SpectrumPanel({ sessionId, k }: { sessionId: string; k: number | null }) {
  const q = useSpectrum(sessionId, k)
  return (
    <Card id="spectrum" title={`Spectrum at k = ${k ?? '—'}`} subtitle="top singular values · condition number" testId="spectrum">
      {q.error ? (
        <ErrorState error={q.error} what="spectrum" />
      ) : !q.data ? (
        <Loading what="spectrum" />
      ) : (
        <div className="space-y-3">
          {sortMatrices(Object.keys(q.data.matrices)).map((name) => {
            const sp = q.data.matrices[name]
            const sv = sp.singular_values.slice(0, 10)
            const top = sv[0] || 1
            const cond = sp.condition_number
            return (
              <figure key={name} data-matrix={name} data-condition={cond ?? ''} data-sv={sv.join(',')}>
                <figcaption className="mb-1 flex items-baseline gap-2 text-xs">
                  <span className="font-mono font-semibold text-zinc-100">{name}</span>
                  <span className="text-zinc-500">{sp.singular_values.length} singular values</span>
                  <span className={`ml-auto font-mono ${cond !== null && cond > 1e3 ? 'text-amber-300' : 'text-zinc-300'}`} title="condition number = s_max / s_min">
                    κ = {cond === null ? '∞ (rank-deficient)' : fmtNum(cond, 4)}
                  </span>
                </figcaption>
                <div className="flex h-16 items-end gap-1" role="img" aria-label={`${name} top singular values: ${sv.map((v) => fmtNum(v, 3)).join(', ')}`}>
                  {sv.map((v, i) => (
                    <div key={i} className="group relative flex-1" style={{ height: '100%' }}>
                      <div
                        className="absolute inset-x-0 bottom-0 rounded-t-sm transition-[height] duration-300"
                        style={{ height: `${Math.max(2, (v / top) * 100)}%`, background: COLORS[name] ?? '#a1a1aa', opacity: 0.85 }}
                        title={`σ${i + 1} = ${fmtNum(v, 5)}`}
                      />
                    </div>
                  ))}
                </div>
                <div className="tabular mt-0.5 flex gap-1 font-mono text-[9px] text-zinc-500" aria-hidden="true">
                  {sv.map((v, i) => (
                    <span key={i} className="flex-1 truncate text-center">{fmtNum(v, 2)}</span>
                  ))}
                </div>
              </figure>
            )
          })}
        </div>
      )}
    </Card>
  )
}
