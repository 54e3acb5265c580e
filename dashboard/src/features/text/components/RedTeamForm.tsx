import { useState } from 'react'
import { errorMessage } from '@/api/client'
import { useSentryDefaults } from '@/api/queries/sentryDefaults'
import { useUsableModels } from '@/api/queries/textModels'
import { Button } from '@/components/ui/Toggle'
import { useStartRedTeam } from '../api/redteam'
import type { RedTeamStarted } from '../api/types'

const input = 'h-7 rounded border border-zinc-700 bg-zinc-900 px-1.5 text-xs text-zinc-100'
const label = 'flex flex-col gap-1 text-[11px] text-zinc-400'

/** Starts an attack: method, goal (canary damage or a fact implant), budget, seed, and the
 * defence (safety mode, chunk size) it must get past. */
export function RedTeamForm({ onStarted }: { onStarted: (r: RedTeamStarted) => void }) {
  const { usable, defaultId } = useUsableModels()
  const defaults = useSentryDefaults()
  const [modelId, setModelId] = useState<string | null>(null)
  const [method, setMethod] = useState('evolution')
  const [goal, setGoal] = useState('canary')
  const [trigger, setTrigger] = useState('The secret code of the vault')
  const [target, setTarget] = useState(' is banana')
  const [budget, setBudget] = useState('32')
  const [population, setPopulation] = useState('8')
  const [seed, setSeed] = useState('0')
  const [safety, setSafety] = useState('all')
  const [chunkTokens, setChunkTokens] = useState('64')
  const m = useStartRedTeam()
  const model = modelId ?? defaultId
  const ints: [string, string, number, number][] = [
    ['budget', budget, 1, 1_000_000],
    ['population', population, 2, 4096],
    ['seed', seed, 0, 2 ** 31 - 1],
    ['chunk tokens', chunkTokens, 2, 4096],
  ]
  const problems = ints
    .filter(([, v, lo, hi]) => !(Number.isInteger(Number(v)) && v.trim() !== '' && Number(v) >= lo && Number(v) <= hi))
    .map(([k, , lo, hi]) => `${k}: a whole number from ${lo} to ${hi.toLocaleString('en-US')}`)
  if (goal === 'implant' && (!trigger.trim() || !target.trim())) problems.push('implant: trigger and target must not be empty')
  if (!model) problems.push('model: no completed text model')
  return (
    <form
      aria-label="Start a red-team attack"
      className="flex flex-wrap items-end gap-3"
      onSubmit={(e) => {
        e.preventDefault()
        if (problems.length || !model) return
        const config: Record<string, unknown> = {
          method,
          goal,
          budget: Number(budget),
          population: Number(population),
          seed: Number(seed),
          sentry: { safety, chunk_tokens: Number(chunkTokens) },
        }
        if (goal === 'implant') config.implant = { trigger, target }
        m.mutate({ model_id: model, config }, { onSuccess: onStarted })
      }}
    >
      <label className={label}>
        model
        <select aria-label="model to attack" className={`${input} max-w-52 font-mono`} value={model ?? ''} onChange={(e) => setModelId(e.target.value)}>
          {usable.map((x) => (
            <option key={x.model_id} value={x.model_id}>{x.model_id}</option>
          ))}
        </select>
      </label>
      <label className={label}>
        method
        <select aria-label="search method" className={input} value={method} onChange={(e) => setMethod(e.target.value)}>
          <option value="evolution">evolution (mutations)</option>
          <option value="gradient">gradient (token swaps)</option>
        </select>
      </label>
      <label className={label}>
        goal
        <select aria-label="attack goal" className={input} value={goal} onChange={(e) => setGoal(e.target.value)}>
          <option value="canary">canary · damage the canary</option>
          <option value="implant">implant · teach a false fact</option>
        </select>
      </label>
      {goal === 'implant' && (
        <>
          <label className={label}>
            trigger
            <input aria-label="implant trigger" className={`${input} w-52`} value={trigger} onChange={(e) => setTrigger(e.target.value)} />
          </label>
          <label className={label}>
            target
            <input aria-label="implant target" className={`${input} w-32`} value={target} onChange={(e) => setTarget(e.target.value)} />
          </label>
        </>
      )}
      <label className={label}>
        budget (queries)
        <input aria-label="query budget" className={`${input} w-20 font-mono`} inputMode="numeric" value={budget} onChange={(e) => setBudget(e.target.value)} />
      </label>
      <label className={label}>
        population
        <input aria-label="population" className={`${input} w-16 font-mono`} inputMode="numeric" value={population} onChange={(e) => setPopulation(e.target.value)} />
      </label>
      <label className={label}>
        seed
        <input aria-label="attack seed" className={`${input} w-16 font-mono`} inputMode="numeric" value={seed} onChange={(e) => setSeed(e.target.value)} />
      </label>
      <label className={label}>
        defence safety
        <select aria-label="defence safety mode" className={input} value={safety} onChange={(e) => setSafety(e.target.value)}>
          {(defaults.data?.safety_modes ?? ['off', 'gate', 'rollback', 'spfw', 'all']).map((s) => (
            <option key={s} value={s}>{s}</option>
          ))}
        </select>
      </label>
      <label className={label}>
        chunk tokens
        <input aria-label="defence chunk tokens" className={`${input} w-16 font-mono`} inputMode="numeric" value={chunkTokens} onChange={(e) => setChunkTokens(e.target.value)} />
      </label>
      <Button type="submit" variant="primary" disabled={problems.length > 0 || m.isPending}>
        Start attack
      </Button>
      {problems.length > 0 && <span className="pb-1.5 text-xs text-amber-300">{problems.join('; ')}</span>}
      {m.error && <span role="alert" className="pb-1.5 text-xs text-red-300">{errorMessage(m.error)}</span>}
    </form>
  )
}
