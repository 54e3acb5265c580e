/**
 * View state of the Text area ⇄ URL query: sub-tab, selected run, compare run, event-log
 * status filter, selected red-team run. Invalid values fall back to defaults.
 */
import { ID_RE } from '@/lib/urlState'
import { SENTRY_STATUSES } from './sentryStatus'

export const TEXT_TABS = ['monitor', 'compare', 'redteam'] as const
export type TextTab = (typeof TEXT_TABS)[number]

export interface TextView {
  tab: TextTab
  /** the Sentry run shown (and the first run of a comparison) */
  run: string | null
  /** the run compared with `run` */
  vs: string | null
  /** event-log status filter; empty = all */
  status: string[]
  /** the red-team run shown */
  rt: string | null
}

export const DEFAULT_TEXT_VIEW: TextView = { tab: 'monitor', run: null, vs: null, status: [], rt: null }

const id = (v: string | null) => (v !== null && ID_RE.test(v) ? v : null)

export function parseTextView(search: string | URLSearchParams): TextView {
  const p = typeof search === 'string' ? new URLSearchParams(search) : search
  const tab = p.get('tab')
  const known = SENTRY_STATUSES as readonly string[]
  return {
    tab: (TEXT_TABS as readonly string[]).includes(tab ?? '') ? (tab as TextTab) : 'monitor',
    run: id(p.get('run')),
    vs: id(p.get('vs')),
    status: [...new Set((p.get('status') ?? '').split(',').filter((s) => known.includes(s)))],
    rt: id(p.get('rt')),
  }
}

const ORDER: (keyof TextView)[] = ['tab', 'run', 'vs', 'status', 'rt']

/** Non-default fields of `v` in a stable order, after which unrelated params of `base` are kept. */
export function serializeTextView(v: TextView, base?: string | URLSearchParams): URLSearchParams {
  const out = new URLSearchParams()
  if (v.tab !== 'monitor') out.set('tab', v.tab)
  if (v.run) out.set('run', v.run)
  if (v.vs) out.set('vs', v.vs)
  if (v.status.length) out.set('status', v.status.join(','))
  if (v.rt) out.set('rt', v.rt)
  for (const [k, val] of new URLSearchParams(base ?? '')) if (!(ORDER as string[]).includes(k)) out.append(k, val)
  return out
}
