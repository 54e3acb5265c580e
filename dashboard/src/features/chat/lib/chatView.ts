/**
 * View state of the Chat area ⇄ URL query: sub-view (chat or sleep), the selected session,
 * the turn open in the detail panel, and the selected sleep candidate. Invalid values fall
 * back to defaults.
 */
import { ID_RE } from '@/lib/urlState'

export const CHAT_TABS = ['chat', 'sleep'] as const
export type ChatTab = (typeof CHAT_TABS)[number]

export interface ChatView {
  tab: ChatTab
  session: string | null
  turn: number | null
  candidate: string | null
}

export const DEFAULT_CHAT_VIEW: ChatView = { tab: 'chat', session: null, turn: null, candidate: null }

const id = (v: string | null) => (v !== null && ID_RE.test(v) ? v : null)

function int(v: string | null): number | null {
  if (v === null || !/^\d{1,9}$/.test(v)) return null
  return Number(v)
}

export function parseChatView(search: string | URLSearchParams): ChatView {
  const p = typeof search === 'string' ? new URLSearchParams(search) : search
  const tab = p.get('tab')
  return {
    tab: (CHAT_TABS as readonly string[]).includes(tab ?? '') ? (tab as ChatTab) : 'chat',
    session: id(p.get('session')),
    turn: int(p.get('turn')),
    candidate: id(p.get('candidate')),
  }
}

const KEYS = ['tab', 'session', 'turn', 'candidate']

/** Non-default fields of `v` in a stable order, after which unrelated params of `base` are kept. */
export function serializeChatView(v: ChatView, base?: string | URLSearchParams): URLSearchParams {
  const out = new URLSearchParams()
  if (v.tab !== 'chat') out.set('tab', v.tab)
  if (v.session) out.set('session', v.session)
  if (v.turn !== null) out.set('turn', String(v.turn))
  if (v.candidate) out.set('candidate', v.candidate)
  for (const [k, val] of new URLSearchParams(base ?? '')) if (!KEYS.includes(k)) out.append(k, val)
  return out
}
