import { useState } from 'react'
import { errorMessage } from '@/api/client'
import { usableModels } from '@/api/queries/textModels'
import type { TextModelSummary } from '@/api/types'
import { Button } from '@/components/ui/Toggle'
import { fmtNum } from '@/lib/format'
import { useGenerate } from '../api/textModels'

const input = 'h-7 rounded border border-zinc-700 bg-zinc-900 px-1.5 text-xs text-zinc-100'

/** Sample a continuation from a chosen completed model. */
export function GeneratePanel({ models, preferred }: { models: TextModelSummary[]; preferred: string | null }) {
  const { usable, defaultId } = usableModels(models, preferred)
  const [picked, setPicked] = useState<string | null>(null)
  const modelId = picked && usable.some((m) => m.model_id === picked) ? picked : defaultId
  const [prompt, setPrompt] = useState('The ')
  const [temperature, setTemperature] = useState('0.8')
  const [topK, setTopK] = useState('40')
  const [maxTokens, setMaxTokens] = useState('80')
  const [seed, setSeed] = useState('0')
  const g = useGenerate()
  const t = Number(temperature), k = topK === '' ? null : Number(topK), n = Number(maxTokens), s = Number(seed)
  const problems: string[] = []
  if (!(t >= 0 && t <= 5)) problems.push('temperature in [0, 5]')
  if (k !== null && !(Number.isInteger(k) && k >= 1)) problems.push('top-k ≥ 1 (empty: all)')
  if (!(Number.isInteger(n) && n >= 1 && n <= 512)) problems.push('max tokens 1–512')
  if (!(Number.isInteger(s) && s >= 0)) problems.push('seed ≥ 0')
  if (!usable.length) return <p className="text-xs text-zinc-400">No completed model yet: train one above.</p>
  return (
    <form
      aria-label="Generate a sample"
      className="space-y-2 text-xs"
      onSubmit={(e) => {
        e.preventDefault()
        if (!modelId || problems.length) return
        g.mutate({ id: modelId, body: { prompt, temperature: t, top_k: k, max_tokens: n, seed: s } })
      }}
    >
      <div className="flex flex-wrap items-end gap-3">
        <label className="flex flex-col gap-1 text-zinc-400">
          model
          <select aria-label="model to sample from" className={`${input} font-mono`} value={modelId ?? ''} onChange={(e) => setPicked(e.target.value)}>
            {usable.map((m) => (
              <option key={m.model_id} value={m.model_id}>{m.model_id}{m.is_default ? ' (default)' : ''}</option>
            ))}
          </select>
        </label>
        <label className="flex flex-col gap-1 text-zinc-400">
          temperature
          <input aria-label="temperature" className={`${input} w-16 font-mono`} value={temperature} inputMode="decimal" onChange={(e) => setTemperature(e.target.value)} />
        </label>
        <label className="flex flex-col gap-1 text-zinc-400">
          top-k
          <input aria-label="top-k" className={`${input} w-16 font-mono`} value={topK} placeholder="all" inputMode="numeric" onChange={(e) => setTopK(e.target.value)} />
        </label>
        <label className="flex flex-col gap-1 text-zinc-400">
          max tokens
          <input aria-label="max tokens" className={`${input} w-16 font-mono`} value={maxTokens} inputMode="numeric" onChange={(e) => setMaxTokens(e.target.value)} />
        </label>
        <label className="flex flex-col gap-1 text-zinc-400">
          seed
          <input aria-label="sampling seed" className={`${input} w-16 font-mono`} value={seed} inputMode="numeric" onChange={(e) => setSeed(e.target.value)} />
        </label>
        <Button type="submit" variant="primary" disabled={problems.length > 0 || g.isPending}>
          {g.isPending ? 'Generating…' : 'Generate'}
        </Button>
      </div>
      <label className="flex flex-col gap-1 text-zinc-400">
        prompt
        <textarea aria-label="prompt" className="h-16 rounded border border-zinc-700 bg-zinc-900 p-1.5 font-mono text-xs text-zinc-100" maxLength={4000} value={prompt} onChange={(e) => setPrompt(e.target.value)} />
      </label>
      {problems.length > 0 && <p className="text-amber-300">{problems.join('; ')}</p>}
      {g.error && <p role="alert" className="text-red-300">{errorMessage(g.error)}</p>}
      {g.data && (
        <figure data-testid="sample-output" data-model={g.data.model_id} data-tokens={g.data.n_tokens}>
          <pre className="whitespace-pre-wrap rounded border border-zinc-800 bg-zinc-950/60 p-2 font-mono text-[12px] leading-relaxed">
            <span className="text-zinc-500">{g.data.prompt}</span>
            <span className="text-zinc-100">{g.data.text}</span>
          </pre>
          <figcaption className="mt-1 text-zinc-400">
            {g.data.model_id} · {g.data.n_tokens} tokens · stopped at {g.data.stopped} · {fmtNum(g.data.ms_per_token, 3)} ms/token (prompt grey)
          </figcaption>
        </figure>
      )}
    </form>
  )
}
