/**
 * The Sentry form's state ⇄ a SentryConfig dict for POST /api/text_runs. Defaults come from
 * the server (`/text_runs/_defaults`), so the form never carries its own copy of them; the
 * server validates again and names any field it refuses.
 */

export type GateValue = number | boolean | string | null

export interface GateThresholdDef {
  key: string
  default?: GateValue
}

export interface SentryDefaultsLike {
  config: Record<string, unknown>
  /** per model backend, the fields whose stream default differs from `config` */
  backend_defaults?: Record<string, Record<string, unknown>>
  gate: GateThresholdDef[]
}

export interface SentryForm {
  chunk_tokens: string
  objective: string
  safety: string
  lr: string
  canary_max_delta: string
  canary_z: string
  grad_z: string
  spfw_mode: string
  spfw_slack: string
  throttle: boolean
  /** gate threshold overrides by "rule.field" key: strings for numbers/text, booleans as is */
  gate: Record<string, string | boolean>
}

const str = (v: unknown) => (v === null || v === undefined ? '' : String(v))

/** The defaults a run on a model of `backend` starts from: `config` under that backend's. */
export function configFor(d: SentryDefaultsLike, backend?: string | null): Record<string, unknown> {
  return { ...d.config, ...((backend && d.backend_defaults?.[backend]) || {}) }
}

export function formFromDefaults(d: SentryDefaultsLike, backend?: string | null): SentryForm {
  const c = configFor(d, backend)
  const gate: Record<string, string | boolean> = {}
  for (const g of d.gate) gate[g.key] = typeof g.default === 'boolean' ? g.default : str(g.default)
  return {
    chunk_tokens: str(c.chunk_tokens),
    objective: str(c.objective),
    safety: str(c.safety),
    lr: str(c.lr),
    canary_max_delta: str(c.canary_max_delta),
    canary_z: str(c.canary_z),
    grad_z: str(c.grad_z),
    spfw_mode: str(c.spfw_mode),
    spfw_slack: str(c.spfw_slack),
    throttle: !!c.throttle,
    gate,
  }
}

const NUM_FIELDS: [keyof SentryForm, string, (v: number) => boolean, string][] = [
  ['chunk_tokens', 'chunk tokens', (v) => Number.isInteger(v) && v >= 2 && v <= 4096, 'a whole number from 2 to 4096'],
  ['lr', 'lr', (v) => v > 0, 'a number > 0'],
  ['canary_max_delta', 'canary max Δ', (v) => v > 0, 'a number > 0'],
  ['canary_z', 'canary z', (v) => v > 0, 'a number > 0'],
  ['grad_z', 'grad-norm z', (v) => v > 0, 'a number > 0'],
  ['spfw_slack', 'SPFW slack', (v) => v >= 0, 'a number ≥ 0'],
]

/**
 * The config to send: every main field, and only the gate thresholds that differ from their
 * defaults. `problems` lists what the form can tell is wrong before asking the server.
 */
export function buildConfig(form: SentryForm, d: SentryDefaultsLike): { config: Record<string, unknown>; problems: string[] } {
  const problems: string[] = []
  const config: Record<string, unknown> = {
    objective: form.objective,
    safety: form.safety,
    spfw_mode: form.spfw_mode,
    throttle: form.throttle,
  }
  for (const [key, label, ok, want] of NUM_FIELDS) {
    const raw = String(form[key]).trim()
    const v = Number(raw)
    if (raw === '' || !Number.isFinite(v) || !ok(v)) problems.push(`${label}: ${want}`)
    else config[key] = v
  }
  const gate: Record<string, GateValue> = {}
  for (const g of d.gate) {
    const cur = form.gate[g.key]
    if (cur === undefined) continue
    if (typeof g.default === 'boolean') {
      if (cur !== g.default) gate[g.key] = !!cur
      continue
    }
    if (typeof g.default === 'number' || g.default === null) {
      const raw = String(cur).trim()
      if (raw === '' && g.default === null) continue
      const v = Number(raw)
      if (raw === '' || !Number.isFinite(v)) {
        problems.push(`gate ${g.key}: a number`)
        continue
      }
      if (v !== g.default) gate[g.key] = v
      continue
    }
    if (String(cur) !== str(g.default)) gate[g.key] = String(cur)
  }
  if (Object.keys(gate).length) config.gate = gate
  return { config, problems }
}

/**
 * The form after the model changes to one of `backend`: every field some backend sets its own
 * default for takes the new backend's default (or the general one); the rest stay as edited.
 */
export function withBackendDefaults(form: SentryForm, d: SentryDefaultsLike, backend?: string | null): SentryForm {
  const c = configFor(d, backend)
  const next: SentryForm = { ...form }
  const keys = new Set(Object.values(d.backend_defaults ?? {}).flatMap((o) => Object.keys(o)))
  for (const k of keys) {
    if (!(k in form) || k === 'gate') continue
    const key = k as keyof SentryForm
    if (typeof form[key] === 'boolean') (next as unknown as Record<string, unknown>)[k] = !!c[k]
    else (next as unknown as Record<string, unknown>)[k] = str(c[k])
  }
  return next
}
