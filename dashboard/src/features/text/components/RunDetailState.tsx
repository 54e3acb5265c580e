import { ApiError } from '@/api/client'
import { Empty, ErrorState, Loading } from '@/components/ui/States'

/**
 * What a run's view shows until its detail has loaded: loading (`pendingWhat` while its job
 * was just started), an error, or that the run does not exist (`hint` after the sentence).
 */
export function RunDetailState({
  error,
  runId,
  pending,
  name,
  what,
  pendingWhat,
  hint = '',
}: {
  error: unknown
  runId: string
  pending: boolean
  /** the run kind at the start of a sentence ("Sentry run") */
  name: string
  /** the run kind in "Could not load …" and "Loading …" */
  what: string
  pendingWhat: string
  hint?: string
}) {
  if (error)
    return error instanceof ApiError && error.status === 404 ? (
      <Empty>{name} “{runId}” does not exist{pending ? ': its job did not create it (see the job above)' : ''}.{hint}</Empty>
    ) : (
      <ErrorState error={error} what={`${what} ${runId}`} />
    )
  return <Loading what={pending ? pendingWhat : `${what} ${runId}`} />
}
