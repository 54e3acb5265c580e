import { useState } from 'react'
import { errorMessage } from '@/api/client'
import { Button } from '@/components/ui/Toggle'
import { useFlagTurn } from '../api/chat'
import { input } from './styles'

const MAX_REASON = 500

/** "Flag for review": the turn's prompt goes to flagged_prompts.json with a reason (the
 * red team's seeds; listed in Text → Red team). */
export function FlagControl({ sessionId, turn, compact = false }: { sessionId: string; turn: number; compact?: boolean }) {
  const flag = useFlagTurn(sessionId)
  const [open, setOpen] = useState(!compact)
  const [reason, setReason] = useState('')
  const ok = reason.trim() !== '' && reason.length <= MAX_REASON
  if (!open)
    return (
      <button type="button" className="rounded px-1 text-amber-300 underline-offset-2 hover:underline" aria-label={`Flag turn ${turn} for review`} onClick={() => setOpen(true)}>
        flag
      </button>
    )
  return (
    <form
      aria-label={`Flag turn ${turn} for review`}
      className="flex flex-wrap items-center gap-1.5"
      onSubmit={(e) => {
        e.preventDefault()
        if (ok) flag.mutate({ turn, reason: reason.trim() }, { onSuccess: () => setReason('') })
      }}
    >
      <input
        aria-label={`reason for flagging turn ${turn}`}
        className={`${input} w-48`}
        value={reason}
        placeholder="why this prompt needs review"
        maxLength={MAX_REASON}
        onChange={(e) => setReason(e.target.value)}
        autoFocus={compact}
      />
      <Button type="submit" variant="primary" disabled={!ok || flag.isPending}>
        ⚑ Flag for review
      </Button>
      {compact && <Button onClick={() => setOpen(false)}>Cancel</Button>}
      {flag.isSuccess && <span role="status" className="text-[11px] text-emerald-300">flagged: in flagged_prompts.json</span>}
      {flag.error && <span role="alert" className="text-[11px] text-red-300">{errorMessage(flag.error)}</span>}
    </form>
  )
}
