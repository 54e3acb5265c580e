import { ApiUnreachable, apiOrigin } from '@/api/client'
import { useHealth } from '@/api/queries/health'

/**
 * A plain statement when the API cannot be reached (never a silent fallback), and the
 * server's version otherwise (in the page footer area of the header, tiny).
 */
export function ApiBanner() {
  const h = useHealth()
  if (h.error) {
    const unreachable = h.error instanceof ApiUnreachable
    return (
      <div role="alert" data-testid="api-unreachable" className="border-t border-red-900/60 bg-red-950/50 px-4 py-1.5 text-[13px] text-red-100">
        {unreachable ? (
          <>
            <strong>API unreachable at {apiOrigin()}</strong> — start it with <code className="font-mono">ttt serve</code>. Data shown below may be stale; nothing is made up.
          </>
        ) : (
          <>API health check failed: {String((h.error as Error).message)}</>
        )}
      </div>
    )
  }
  return null
}

/** Small connection indicator for the header. */
export function ApiStatus() {
  const h = useHealth()
  const ok = !!h.data && !h.error
  return (
    <div className="ml-auto flex items-center gap-1.5 text-[11px] text-zinc-400" title={h.data ? `artifacts: ${h.data.artifacts_root}` : undefined}>
      <span aria-hidden="true" className={`h-1.5 w-1.5 rounded-full ${ok ? 'bg-emerald-400' : h.isPending ? 'bg-zinc-500' : 'bg-red-500'}`} />
      <span>{ok ? `API ${h.data?.version ?? ''}` : h.isPending ? 'connecting…' : 'API offline'}</span>
    </div>
  )
}
