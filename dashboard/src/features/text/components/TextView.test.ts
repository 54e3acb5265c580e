import { createElement } from 'react'
import { renderToStaticMarkup } from 'react-dom/server'
import { describe, expect, it } from 'vitest'
import type { SentryEvent } from '../api/types'
import { EventLog } from './EventLog'
import { TextView } from './TextView'

const ev = (chunk: number, status: string, extra: Partial<SentryEvent> = {}): SentryEvent => ({
  chunk,
  token_start: chunk * 2,
  token_end: chunk * 2 + 2,
  char_start: 0,
  char_end: 0,
  status,
  reasons: [],
  top_tokens: [],
  ...extra,
})

const EVENTS = [
  ev(0, 'commit', { tokens: ['the', ' cat'], influence: [0.1, 0.9], text: 'the cat' }),
  ev(1, 'blocked_gate', {
    tokens: [' IGNORE', ' all'],
    influence: [2, 0.5],
    text: ' IGNORE all',
    reasons: ['instruction override: "ignore all previous instructions"'],
    gate: { allowed: false, reasons: [], rules: ['instruction_override'], scores: {} },
  }),
]

describe('TextView', () => {
  it('says plainly that the text was not stored, and shows none of it', () => {
    const html = renderToStaticMarkup(createElement(TextView, { keepText: false, events: [], nChars: 1234 }))
    expect(html).toContain('data-testid="text-not-stored"')
    expect(html).toContain('was not stored')
    expect(html).toContain('1,234 characters')
  })
  it('renders every token with its influence and marks the blocked chunk with a label', () => {
    const html = renderToStaticMarkup(createElement(TextView, { keepText: true, events: EVENTS }))
    expect(html).toContain('data-chunk="0" data-status="commit" data-stopped="false"')
    expect(html).toContain('data-chunk="1" data-status="blocked_gate" data-stopped="true"')
    expect(html).toMatch(/data-testid="chunk-flag"[^>]*>⬟ gate #1</)
    expect((html.match(/data-token=/g) ?? []).length).toBe(4)
    // the highest influence gets the strongest highlight
    expect(html).toContain('rgba(250, 204, 21, 0.400)')
  })
})

describe('EventLog', () => {
  it('explains each chunk in plain English and lists the gate rule', () => {
    const html = renderToStaticMarkup(createElement(EventLog, { events: EVENTS, filter: [], onFilter: () => {} }))
    expect(html).toContain('Blocked by the gate before any write: instruction override: &quot;ignore all previous instructions&quot;.')
    expect(html).toContain('instruction_override')
    expect(html).toContain('data-shown="2"')
  })
  it('filters by status', () => {
    const html = renderToStaticMarkup(createElement(EventLog, { events: EVENTS, filter: ['blocked_gate'], onFilter: () => {} }))
    expect(html).toContain('data-shown="1"')
    expect(html).not.toContain('data-chunk="0"')
  })
})
