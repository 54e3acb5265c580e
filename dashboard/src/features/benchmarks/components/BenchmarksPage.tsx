import { useSearchParams } from 'react-router'
import type { BenchmarkResult } from '@/api/types'
import { Card } from '@/components/ui/Card'
import { CopyButton } from '@/components/ui/CopyButton'
import { Empty, ErrorState, Loading, QueryState } from '@/components/ui/States'
import { fmtDate, fmtInt } from '@/lib/format'
import { useBenchmark, useBenchmarks } from '../api/benchmarks'
import { commandLine } from '../lib/rows'
import { td, th } from './cells'
import { JailbreakResult } from './JailbreakResult'
import { MemoryResult } from './MemoryResult'

const KIND_LABEL: Record<string, string> = { memory: 'memory', jailbreak: 'jailbreak' }

/**
 * Benchmarks: every result saved by `ttt bench memory --save NAME` or `ttt bench jailbreak
 * --save NAME`; for one, its curves (recall and binding against facts told; refusal by update
 * per defence) and its rows. The page only reads: results are made by the CLI.
 */
export function BenchmarksPage() {
  const list = useBenchmarks()
  const [params, setParams] = useSearchParams()
  const picked = params.get('result')
  const id = picked ?? list.data?.items[0]?.id ?? null
  const detail = useBenchmark(id)
  const errors = list.data?.errors ?? []
  return (
    <main id="main" className="mx-auto w-full max-w-[1400px] space-y-3 px-4 py-4" data-testid="benchmarks-page">
      <h1 className="sr-only">Benchmarks</h1>
      <Card id="bench-list" title="Benchmark results" subtitle="saved by ttt bench memory|jailbreak --save NAME (benchmarks/NAME/result.json)">
        <QueryState
          query={list}
          what="benchmark results"
          isEmpty={(d) => d.items.length === 0 && (d.errors ?? []).length === 0}
          empty={
            <>
              No saved benchmark results yet: run <code className="font-mono">ttt bench memory --save NAME</code> (fast weights vs updates off vs in context) or{' '}
              <code className="font-mono">ttt bench jailbreak --save NAME</code> (refusal erosion per defence).
            </>
          }
        >
          {(d) => (
            <table className="w-full text-xs" aria-label="Benchmark results" data-testid="bench-list" data-count={d.items.length}>
              <thead>
                <tr className="border-b border-zinc-800">
                  <th className={th}>result</th><th className={th}>kind</th><th className={th}>created</th><th className={th}>models</th>
                  <th className={`${th} text-right`}>rows</th><th className={th}>command</th>
                </tr>
              </thead>
              <tbody>
                {d.items.map((s) => (
                  <tr key={s.id} data-result={s.id} data-kind={s.kind} aria-selected={s.id === id} className={`border-b border-zinc-900 ${s.id === id ? 'bg-cyan-500/5' : ''}`}>
                    <td className={`${td} font-mono`}>
                      <button type="button" className="text-cyan-300 hover:underline" onClick={() => setParams({ result: s.id })}>{s.id}</button>
                    </td>
                    <td className={td}>{KIND_LABEL[s.kind] ?? s.kind}</td>
                    <td className={`${td} text-zinc-400`}>{fmtDate(s.created_at)}</td>
                    <td className={`${td} font-mono`}>{(s.models ?? []).join(', ') || '—'}</td>
                    <td className={`${td} text-right font-mono`}>{fmtInt(s.n_rows)}</td>
                    <td className={`${td} max-w-[520px] truncate font-mono text-zinc-400`} title={commandLine(s.argv)}>{commandLine(s.argv)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </QueryState>
        {errors.length > 0 && (
          <ul role="alert" className="mt-2 space-y-0.5 text-xs text-amber-300" data-testid="bench-errors">
            {errors.map((e) => (
              <li key={e.id} data-result={e.id}>unreadable result {e.id}: {e.detail}</li>
            ))}
          </ul>
        )}
      </Card>
      {id &&
        (detail.error && !detail.data ? (
          <ErrorState error={detail.error} what={`benchmark result ${id}`} />
        ) : !detail.data ? (
          <Loading what={`benchmark result ${id}`} />
        ) : (
          <ResultView doc={detail.data} />
        ))}
    </main>
  )
}

function ResultView({ doc }: { doc: BenchmarkResult }) {
  const cmd = commandLine(doc.argv)
  const versions = Object.entries(doc.versions ?? {}).map(([k, v]) => `${k} ${String(v)}`).join(' · ')
  return (
    <div className="space-y-3" data-testid="bench-result" data-result={doc.id} data-kind={doc.kind} data-rows={doc.rows.length}>
      <Card id="bench-head" title={<span className="font-mono">{doc.id}</span>} subtitle={`${doc.kind} · ${fmtDate(doc.created_at)} · ${versions}`}>
        <div className="flex items-center gap-2 text-xs">
          <code className="min-w-0 flex-1 truncate rounded bg-zinc-950/60 px-1.5 py-1 font-mono text-zinc-300" title={cmd} data-testid="bench-command">{cmd || '(no command recorded)'}</code>
          {cmd && <CopyButton text={cmd} label="Copy the command" />}
        </div>
        {(doc.non_finite ?? []).length > 0 && (
          <p role="alert" className="mt-2 text-xs text-amber-300">
            Not finite in the run (stored as empty): {(doc.non_finite ?? []).join(', ')}
          </p>
        )}
      </Card>
      {doc.rows.length === 0 ? (
        <Empty>Result {doc.id} has no rows.</Empty>
      ) : doc.kind === 'memory' ? (
        <MemoryResult doc={doc} />
      ) : (
        <JailbreakResult doc={doc} />
      )}
    </div>
  )
}
