import { useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { errorMessage } from '@/api/client'
import { useWeightsList } from '@/api/queries/weights'
import type { Job } from '@/api/types'
import { Button } from '@/components/ui/Toggle'
import { fmtInt } from '@/lib/format'
import { ID_RE } from '@/lib/urlState'
import { useFork } from '../api/fork'
import { JobProgress } from './JobProgress'

const input = 'h-7 rounded border border-zinc-700 bg-zinc-900 px-1.5 text-xs text-zinc-100'

/** Branch this session from its latest state or from committed update k, with or without momentum. */
export function ForkForm({ sessionId, onOpen }: { sessionId: string; onOpen: (id: string) => void }) {
  const weights = useWeightsList(sessionId)
  const [from, setFrom] = useState<'latest' | number>('latest')
  const [withMomentum, setWithMomentum] = useState(true)
  const [newId, setNewId] = useState('')
  const [mu, setMu] = useState('')
  const [job, setJob] = useState<Job | null>(null)
  const [created, setCreated] = useState<string | null>(null)
  const [running, setRunning] = useState(false)
  const fork = useFork(sessionId)
  const qc = useQueryClient()
  const idOk = newId === '' || ID_RE.test(newId)
  const muNum = Number(mu)
  const muOk = mu === '' || (Number.isFinite(muNum) && muNum > 0 && muNum < 1)
  const ok = idOk && muOk
  return (
    <form
      className="space-y-2 text-xs"
      data-testid="fork-form"
      onSubmit={(e) => {
        e.preventDefault()
        if (!ok) return
        setCreated(null)
        fork.mutate(
          {
            from_update: from === 'latest' ? null : from,
            with_momentum: withMomentum,
            ...(newId ? { new_session_id: newId } : {}),
            ...(mu !== '' ? { overrides: { env: { mu: muNum } } } : {}),
          },
          {
            onSuccess: (j) => {
              setJob(j)
              setRunning(true)
            },
          },
        )
      }}
    >
      <div className="flex flex-wrap items-center gap-3">
        <label className="flex items-center gap-1.5 text-zinc-300">
          from
          <select
            className={input}
            value={String(from)}
            onChange={(e) => setFrom(e.target.value === 'latest' ? 'latest' : Number(e.target.value))}
            data-testid="fork-from"
          >
            <option value="latest">latest state</option>
            {(weights.data?.items ?? []).slice(-500).reverse().map((w) => (
              <option key={w.k} value={w.k}>update k={w.k} (t {fmtInt(w.t)})</option>
            ))}
          </select>
        </label>
        <label className="flex items-center gap-1.5 text-zinc-300">
          <input type="checkbox" checked={withMomentum} onChange={(e) => setWithMomentum(e.target.checked)} className="accent-cyan-400" data-testid="fork-momentum" />
          keep optimizer momentum
        </label>
        <label className="flex items-center gap-1.5 text-zinc-300">
          new id
          <input
            className={`${input} w-40 font-mono ${idOk ? '' : 'border-red-600'}`}
            value={newId}
            placeholder="(generated)"
            onChange={(e) => setNewId(e.target.value.trim())}
            aria-invalid={!idOk}
            aria-describedby="fork-id-help"
            data-testid="fork-new-id"
          />
        </label>
        <label className="flex items-center gap-1.5 text-zinc-300">
          μ after the fork
          <input
            className={`${input} w-20 font-mono ${muOk ? '' : 'border-red-600'}`}
            value={mu}
            inputMode="decimal"
            placeholder="(same)"
            onChange={(e) => setMu(e.target.value.trim())}
            aria-invalid={!muOk}
            aria-describedby="fork-mu-help"
            data-testid="fork-mu"
          />
        </label>
        <Button type="submit" variant="primary" disabled={!ok || fork.isPending || running}>
          Fork
        </Button>
      </div>
      <p id="fork-id-help" className={idOk ? 'text-zinc-500' : 'text-red-300'}>
        {idOk ? 'Letters, digits, . _ - (up to 64). Forks share unchanged weight blobs with their parent.' : 'Invalid id: use letters, digits, . _ - and start with a letter or digit.'}
      </p>
      <p id="fork-mu-help" className={muOk ? 'text-zinc-500' : 'text-red-300'}>
        {muOk ? 'Leave μ empty to keep the parent’s; a new μ (0–1) tests how the fork’s weights adapt to other physics.' : 'μ must be a number between 0 and 1.'}
      </p>
      {fork.error && <p role="alert" className="text-red-300">{errorMessage(fork.error)}</p>}
      {job && (
        <JobProgress
          jobId={job.job_id}
          onDone={(j) => {
            setRunning(false)
            const id = (j.result?.session_id as string | undefined) ?? (j.params?.new_session_id as string | undefined) ?? null
            void qc.invalidateQueries({ queryKey: ['sessions'] })
            void qc.invalidateQueries({ queryKey: ['lineage'] })
            if (j.status === 'completed' && id) {
              setCreated(id)
              onOpen(id) // go to the fork: it is what the user made the fork for
            }
          }}
        />
      )}
      {created && (
        <p className="text-emerald-300" data-testid="fork-created" data-session={created}>
          Created <button type="button" className="font-mono underline" onClick={() => onOpen(created)}>{created}</button>.
        </p>
      )}
    </form>
  )
}
