import { useMemo, useState } from 'react'
import { Link } from 'react-router'
import { errorMessage } from '@/api/client'
import { useSentryDefaults } from '@/api/queries/sentryDefaults'
import { useUsableModels } from '@/api/queries/textModels'
import type { SentryDefaults, TextModelSummary } from '@/api/types'
import { Button } from '@/components/ui/Toggle'
import { useStartSentry } from '../api/textRuns'
import type { TextRunStarted } from '../api/types'
import { buildConfig, formFromDefaults, withBackendDefaults, type SentryForm as FormState } from '../lib/sentryForm'

const input = 'h-7 rounded border border-zinc-700 bg-zinc-900 px-1.5 text-xs text-zinc-100'
const label = 'flex flex-col gap-1 text-[11px] text-zinc-400'
const SAFETY_HELP: Record<string, string> = {
  off: 'no defence (only non-finite values are refused)',
  gate: 'gate rules before every write',
  rollback: 'canary and grad-norm checks, bit-exact rollback',
  spfw: 'projection of the weight change (canary first-order slack)',
  all: 'gate + rollback + SPFW',
}

/** Starts a Sentry run: text, model and every SentryConfig control (defaults from the server). */
export function SentryForm({ onStarted }: { onStarted: (r: TextRunStarted) => void }) {
  const defaults = useSentryDefaults()
  const { models, usable, defaultId } = useUsableModels()
  if (defaults.error) return <p role="alert" className="text-xs text-red-300">Could not load the Sentry defaults: {errorMessage(defaults.error)}</p>
  if (models.error) return <p role="alert" className="text-xs text-red-300">Could not load text models: {errorMessage(models.error)}</p>
  if (!defaults.data || !models.data) return <p role="status" className="text-xs text-zinc-400">Loading defaults and models…</p>
  if (!defaultId)
    return (
      <p className="text-sm text-zinc-300">
        No completed text model to monitor. Train one in the <Link className="text-cyan-300 underline" to="/train">Train</Link> area or with <code className="font-mono">ttt lm train</code>.
      </p>
    )
  return <Form defaults={defaults.data} models={usable} defaultModel={models.data.default_model_id ?? null} initialModel={defaultId} onStarted={onStarted} />
}

function Form({
  defaults,
  models,
  defaultModel,
  initialModel,
  onStarted,
}: {
  defaults: SentryDefaults
  models: TextModelSummary[]
  /** the default model (labelled so in the select) */
  defaultModel: string | null
  /** the model selected at first: the default when usable, else the first */
  initialModel: string
  onStarted: (r: TextRunStarted) => void
}) {
  const [text, setText] = useState('')
  const [modelId, setModelId] = useState(initialModel)
  const [keepText, setKeepText] = useState(true)
  const backendOf = (id: string) => models.find((mm) => mm.model_id === id)?.backend ?? null
  const [form, setForm] = useState<FormState>(() => formFromDefaults(defaults, backendOf(initialModel)))
  const m = useStartSentry()
  const { config, problems } = useMemo(() => buildConfig(form, defaults), [form, defaults])
  const allProblems = [...problems]
  if (!text.trim()) allProblems.push('text: paste or type something to monitor')
  if (text.length > defaults.max_text_chars) allProblems.push(`text: at most ${defaults.max_text_chars.toLocaleString('en-US')} characters`)
  const set = <K extends keyof FormState>(k: K, v: FormState[K]) => setForm((f) => ({ ...f, [k]: v }))
  const num = (k: keyof FormState, lbl: string, title: string, w = 'w-20') => (
    <label className={label} title={title}>
      {lbl}
      <input aria-label={lbl} className={`${input} ${w} font-mono`} inputMode="decimal" value={String(form[k])} onChange={(e) => set(k, e.target.value as never)} />
    </label>
  )
  return (
    <form
      aria-label="Start a Sentry run"
      className="space-y-2"
      onSubmit={(e) => {
        e.preventDefault()
        if (allProblems.length) return
        m.mutate({ text, model_id: modelId, keep_text: keepText, config }, { onSuccess: onStarted })
      }}
    >
      <label className="flex flex-col gap-1 text-[11px] text-zinc-400">
        text to monitor ({text.length.toLocaleString('en-US')} / {defaults.max_text_chars.toLocaleString('en-US')} characters)
        <textarea
          aria-label="text to monitor"
          className="min-h-28 w-full resize-y rounded border border-zinc-700 bg-zinc-900 p-2 font-mono text-xs leading-relaxed text-zinc-100"
          value={text}
          placeholder="Paste a document. Each chunk of it becomes one guarded fast-weight write."
          onChange={(e) => setText(e.target.value)}
        />
      </label>
      <div className="flex flex-wrap items-end gap-3">
        <label className={label}>
          model
          <select aria-label="model" className={`${input} max-w-56 font-mono`} value={modelId}
            onChange={(e) => {
              const id = e.target.value
              if (backendOf(id) !== backendOf(modelId)) setForm((f) => withBackendDefaults(f, defaults, backendOf(id)))
              setModelId(id)
            }}
          >
            {models.map((mm) => (
              <option key={mm.model_id} value={mm.model_id}>
                {mm.model_id}
                {mm.model_id === defaultModel ? ' (default)' : ''}
              </option>
            ))}
          </select>
        </label>
        {num('chunk_tokens', 'chunk tokens', 'tokens per chunk: one write per chunk', 'w-16')}
        <label className={label}>
          objective
          <select aria-label="objective" className={input} value={form.objective} onChange={(e) => set('objective', e.target.value)}>
            {defaults.objectives.map((o) => (
              <option key={o} value={o}>{o === 'ar' ? 'ar · next token' : o === 'mlm' ? 'mlm · masked' : o}</option>
            ))}
          </select>
        </label>
        <label className={label}>
          safety
          <select aria-label="safety mode" className={input} value={form.safety} onChange={(e) => set('safety', e.target.value)} title={SAFETY_HELP[form.safety]}>
            {defaults.safety_modes.map((s) => (
              <option key={s} value={s}>{s}</option>
            ))}
          </select>
        </label>
        {num('lr', 'lr', 'Muon learning rate of the fast weights', 'w-20')}
        {num('canary_max_delta', 'canary max Δ', 'roll back when the canary loss rises by more than this (nats) in one write')}
        {num('canary_z', 'canary z', 'roll back when the canary delta is this many robust z above committed writes', 'w-16')}
        {num('spfw_slack', 'SPFW slack', 'first-order canary-loss rise each canary may take after projection', 'w-20')}
        <label className="flex items-center gap-1 pb-1.5 text-xs text-zinc-300">
          <input type="checkbox" checked={keepText} onChange={(e) => setKeepText(e.target.checked)} />
          keep text (store it, with per-token influence)
        </label>
        <Button type="submit" variant="primary" disabled={allProblems.length > 0 || m.isPending}>
          Run Sentry
        </Button>
      </div>
      <p className="text-[11px] text-zinc-400">safety “{form.safety}”: {SAFETY_HELP[form.safety] ?? form.safety}</p>
      <details className="rounded border border-zinc-800 px-2 py-1 text-xs" data-testid="sentry-advanced">
        <summary className="cursor-pointer select-none text-zinc-300">Advanced: grad-norm check, SPFW mode, gate thresholds</summary>
        <div className="mt-2 flex flex-wrap items-end gap-3">
          {num('grad_z', 'grad-norm z', 'roll back before the step when the grad norm is this many robust z above committed writes', 'w-16')}
          <label className={label}>
            SPFW mode
            <select aria-label="SPFW mode" className={input} value={form.spfw_mode} onChange={(e) => set('spfw_mode', e.target.value)}>
              {defaults.spfw_modes.map((s) => (
                <option key={s} value={s}>{s}</option>
              ))}
            </select>
          </label>
          <label className="flex items-center gap-1 pb-1.5 text-zinc-300" title="a gate hit reduces the write's lr instead of blocking it">
            <input type="checkbox" checked={form.throttle} onChange={(e) => set('throttle', e.target.checked)} />
            throttle instead of block
          </label>
        </div>
        <fieldset className="mt-2">
          <legend className="mb-1 text-[11px] text-zinc-400">gate thresholds (rule.field; changed values are sent as overrides)</legend>
          <div className="grid grid-cols-[repeat(auto-fill,minmax(230px,1fr))] gap-x-3 gap-y-1.5">
            {defaults.gate.map((g) => {
              const v = form.gate[g.key]
              const changed = typeof g.default === 'boolean' ? v !== g.default : String(v ?? '') !== String(g.default ?? '')
              return typeof g.default === 'boolean' ? (
                <label key={g.key} className="flex items-center gap-1.5 text-zinc-300" title={`${g.key} (default ${String(g.default)})${g.description ? ` — ${g.description}` : ''}`}>
                  <input type="checkbox" checked={!!v} onChange={(e) => setForm((f) => ({ ...f, gate: { ...f.gate, [g.key]: e.target.checked } }))} />
                  <span className={`font-mono text-[11px] ${changed ? 'text-amber-300' : ''}`}>{g.key}</span>
                </label>
              ) : (
                <label key={g.key} className="flex items-center justify-between gap-2 text-zinc-400" title={`${g.key} (default ${String(g.default)})${g.description ? ` — ${g.description}` : ''}`}>
                  <span className={`truncate font-mono text-[11px] ${changed ? 'text-amber-300' : ''}`}>{g.key}</span>
                  <input
                    aria-label={`gate ${g.key}`}
                    className={`${input} w-24 font-mono`}
                    value={String(v ?? '')}
                    placeholder={g.default === null ? 'off' : undefined}
                    onChange={(e) => setForm((f) => ({ ...f, gate: { ...f.gate, [g.key]: e.target.value } }))}
                  />
                </label>
              )
            })}
          </div>
        </fieldset>
        <Button onClick={() => setForm(formFromDefaults(defaults, backendOf(modelId)))}>Reset to defaults</Button>
      </details>
      {allProblems.length > 0 && text.length > 0 && <p className="text-xs text-amber-300">{allProblems.join('; ')}</p>}
      {m.error && <p role="alert" className="text-xs text-red-300">{errorMessage(m.error)}</p>}
    </form>
  )
}
