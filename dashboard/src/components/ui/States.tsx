import type { ReactNode } from 'react'
import { errorMessage } from '@/api/client'

export function Loading({ what = 'data', className = '' }: { what?: string; className?: string }) {
  return (
    <div role="status" className={`flex items-center gap-2 py-6 text-sm text-zinc-400 ${className}`}>
      <span aria-hidden="true" className="h-3 w-3 animate-spin rounded-full border-2 border-zinc-600 border-t-cyan-400" />
      Loading {what}…
    </div>
  )
}

export function ErrorState({ error, what }: { error: unknown; what?: string }) {
  return (
    <div role="alert" className="rounded border border-red-900/60 bg-red-950/30 px-3 py-2 text-sm text-red-200">
      {what ? <span className="font-medium">Could not load {what}. </span> : null}
      {errorMessage(error)}
    </div>
  )
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="rounded border border-dashed border-zinc-800 px-3 py-6 text-center text-sm text-zinc-400">{children}</div>
}

/** Renders loading / error / empty states for a query, else the children. */
export function QueryState<T>({
  query,
  what,
  isEmpty,
  empty,
  children,
}: {
  query: { data: T | undefined; error: unknown; isPending: boolean }
  what: string
  isEmpty?: (d: T) => boolean
  empty?: ReactNode
  children: (d: T) => ReactNode
}) {
  if (query.error && query.data === undefined) return <ErrorState error={query.error} what={what} />
  if (query.data === undefined) return <Loading what={what} />
  if (isEmpty?.(query.data)) return <Empty>{empty ?? `No ${what} yet.`}</Empty>
  return <>{children(query.data)}</>
}
