import { useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { errorMessage } from '@/api/client'
import type { Job } from '@/api/types'
import { Button } from '@/components/ui/Toggle'
import { useCreateSession } from '../api/createSession'
import { JobProgress } from './JobProgress'

const input = 'h-7 rounded border border-zinc-700 bg-zinc-900 px-1.5 text-xs text-zinc-100'

/** New session from the latest base: env mode, optional μ (random in range otherwise) and seed. */
export function CreateForm({ onOpen }: { onOpen: (id: string) => void }) {
  const [mode, setMode] = useState<'linear' | 'nonlinear'>('linear')
  const [mu, setMu] = useState('')
  const [seed, setSeed] = useState('')
  const [job, setJob] = useState<Job | null>(null)
  const [created, setCreated] = useState<string | null>(null)
  const m = useCreateSession()
  const qc = useQueryClient()
  const muN = mu === '' ? undefined : Number(mu)
  const seedN = seed === '' ? undefined : Number(seed)
  const ok = (muN === undefined || (Number.isFinite(muN) && muN >= 0)) && (seedN === undefined || Number.isInteger(seedN))
  return (
    <form
      className="flex flex-wrap items-center gap-3 text-xs"
      onSubmit={(e) => {
        e.preventDefault()
        if (!ok) return
        setCreated(null)
        m.mutate({ env_mode: mode, ...(muN !== undefined ? { mu: muN } : {}), ...(seedN !== undefined ? { seed: seedN } : {}) }, { onSuccess: setJob })
      }}
    >
      <label className="flex items-center gap-1.5 text-zinc-300">
        env
        <select className={input} value={mode} onChange={(e) => setMode(e.target.value as 'linear' | 'nonlinear')}>
          <option value="linear">linear</option>
          <option value="nonlinear">nonlinear</option>
        </select>
      </label>
      <label className="flex items-center gap-1.5 text-zinc-300">
        μ
        <input className={`${input} w-20 font-mono`} value={mu} placeholder="random" onChange={(e) => setMu(e.target.value)} inputMode="decimal" />
      </label>
      <label className="flex items-center gap-1.5 text-zinc-300">
        seed
        <input className={`${input} w-20 font-mono`} value={seed} placeholder="random" onChange={(e) => setSeed(e.target.value)} inputMode="numeric" />
      </label>
      <Button type="submit" disabled={!ok || m.isPending}>Create session</Button>
      {m.error && <span role="alert" className="text-red-300">{errorMessage(m.error)}</span>}
      {job && (
        <JobProgress
          jobId={job.job_id}
          onDone={(j) => {
            const id = (j.result?.session_id as string | undefined) ?? (j.params?.session_id as string | undefined) ?? null
            if (j.status === 'completed' && id) setCreated(id)
            void qc.invalidateQueries({ queryKey: ['sessions'] })
            void qc.invalidateQueries({ queryKey: ['lineage'] })
          }}
        />
      )}
      {created && (
        <span className="text-emerald-300">
          Created <button type="button" className="font-mono underline" onClick={() => onOpen(created)}>{created}</button>
        </span>
      )}
    </form>
  )
}
