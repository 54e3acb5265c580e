import { useState } from 'react'
import { errorMessage } from '@/api/client'
import type { Job, TrainLmRequest } from '@/api/types'
import { Button } from '@/components/ui/Toggle'
import { useStartTraining } from '../api/textModels'

const input = 'h-7 rounded border border-zinc-700 bg-zinc-900 px-1.5 text-xs text-zinc-100'
const PRESETS = {
  tiny: 'tiny · d32×1 · seconds',
  demo: 'demo · d128×2 · ~1 min',
  default: 'default · tens of min',
} as const

/** Starts a train_lm job: corpus (built-in or a path the server allows), preset, steps, lr. */
export function TrainForm({ onStarted, busy }: { onStarted: (job: Job) => void; busy: boolean }) {
  const [source, setSource] = useState<'builtin' | 'path'>('builtin')
  const [path, setPath] = useState('')
  const [preset, setPreset] = useState<TrainLmRequest['preset']>('tiny')
  const [steps, setSteps] = useState('')
  const [lr, setLr] = useState('')
  const [seed, setSeed] = useState('0')
  const [promote, setPromote] = useState(false)
  const m = useStartTraining()
  const stepsN = steps === '' ? undefined : Number(steps)
  const lrN = lr === '' ? undefined : Number(lr)
  const seedN = Number(seed)
  const problems: string[] = []
  if (stepsN !== undefined && !(Number.isInteger(stepsN) && stepsN >= 1 && stepsN <= 1_000_000)) problems.push('steps: a whole number from 1 to 1,000,000')
  if (lrN !== undefined && !(lrN > 0 && lrN <= 1)) problems.push('lr: a number in (0, 1]')
  if (!(Number.isInteger(seedN) && seedN >= 0)) problems.push('seed: a whole number ≥ 0')
  if (source === 'path' && !path.trim()) problems.push('corpus path: give a file or folder')
  return (
    <form
      aria-label="Start a training job"
      className="flex flex-wrap items-end gap-3 text-xs"
      onSubmit={(e) => {
        e.preventDefault()
        if (problems.length) return
        const body: TrainLmRequest = {
          corpus: source === 'path' ? path.split(',').map((p) => p.trim()).filter(Boolean) : [],
          preset,
          seed: seedN,
          threads: 1,
          promote,
          ...(stepsN !== undefined ? { steps: stepsN } : {}),
          ...(lrN !== undefined ? { lr: lrN } : {}),
        }
        m.mutate(body, { onSuccess: onStarted })
      }}
    >
      <fieldset className="flex items-center gap-2 text-zinc-300">
        <legend className="mb-1 text-[11px] text-zinc-400">corpus</legend>
        <label className="flex items-center gap-1">
          <input type="radio" name="corpus" checked={source === 'builtin'} onChange={() => setSource('builtin')} />
          built-in
        </label>
        <label className="flex items-center gap-1">
          <input type="radio" name="corpus" checked={source === 'path'} onChange={() => setSource('path')} />
          path
        </label>
        <input
          aria-label="corpus path (relative to the artifact root, or inside a configured corpus folder)"
          className={`${input} w-56 font-mono`}
          value={path}
          disabled={source !== 'path'}
          placeholder="corpora/notes"
          onChange={(e) => setPath(e.target.value)}
        />
      </fieldset>
      <label className="flex flex-col gap-1 text-zinc-400">
        size
        <select aria-label="preset" className={input} value={preset} onChange={(e) => setPreset(e.target.value as TrainLmRequest['preset'])}>
          {Object.entries(PRESETS).map(([k, v]) => (
            <option key={k} value={k}>{v}</option>
          ))}
        </select>
      </label>
      <label className="flex flex-col gap-1 text-zinc-400">
        steps
        <input aria-label="steps" className={`${input} w-20 font-mono`} value={steps} placeholder="preset" inputMode="numeric" onChange={(e) => setSteps(e.target.value)} />
      </label>
      <label className="flex flex-col gap-1 text-zinc-400">
        lr (Muon)
        <input aria-label="learning rate" className={`${input} w-20 font-mono`} value={lr} placeholder="preset" inputMode="decimal" onChange={(e) => setLr(e.target.value)} />
      </label>
      <label className="flex flex-col gap-1 text-zinc-400">
        seed
        <input aria-label="seed" className={`${input} w-16 font-mono`} value={seed} inputMode="numeric" onChange={(e) => setSeed(e.target.value)} />
      </label>
      <label className="flex items-center gap-1 pb-1.5 text-zinc-300">
        <input type="checkbox" checked={promote} onChange={(e) => setPromote(e.target.checked)} />
        promote when done
      </label>
      <Button type="submit" variant="primary" disabled={problems.length > 0 || m.isPending || busy}>
        Start training
      </Button>
      {problems.length > 0 && <span className="pb-1.5 text-amber-300">{problems.join('; ')}</span>}
      {m.error && <span role="alert" className="pb-1.5 text-red-300">{errorMessage(m.error)}</span>}
    </form>
  )
}
