import { describe, expect, it } from 'vitest'
import { SseParser } from './sseParse'

/** A whole body in one piece, through the parser the message stream uses. */
const parseSse = (text: string) => new SseParser().push(text)

const BODY = 'retry: 2000\n\nevent: token\ndata: {"text":"he"}\n\n: keepalive\n\nevent: token\ndata: {"text":"llo"}\n\nevent: turn\ndata: {"turn":0}\n\n'

describe('SSE parser', () => {
  it('parses named events and skips comments and retry lines', () => {
    expect(parseSse(BODY)).toEqual([
      { event: 'token', data: '{"text":"he"}' },
      { event: 'token', data: '{"text":"llo"}' },
      { event: 'turn', data: '{"turn":0}' },
    ])
  })
  it('gives the same events however the body is cut into pieces', () => {
    const whole = parseSse(BODY)
    for (let size = 1; size <= 7; size++) {
      const p = new SseParser()
      const got = []
      for (let i = 0; i < BODY.length; i += size) got.push(...p.push(BODY.slice(i, i + size)))
      expect(got).toEqual(whole)
    }
  })
  it('handles CRLF and CR line ends, split inside a CRLF', () => {
    const p = new SseParser()
    expect(p.push('event: a\r')).toEqual([])
    expect(p.push('\ndata: 1\r\n\r')).toEqual([])
    // the last CR may still become a CRLF: the blank line that ends "b" is not known yet
    expect(p.push('\nevent: b\rdata: 2\r\r')).toEqual([{ event: 'a', data: '1' }])
    expect(p.push('\n')).toEqual([{ event: 'b', data: '2' }])
  })
  it('joins multi-line data, defaults the name, and drops an unterminated last event', () => {
    expect(parseSse('data: x\ndata: y\n\nevent: cut\ndata: z\n')).toEqual([{ event: 'message', data: 'x\ny' }])
    expect(parseSse('event: lonely\n\n')).toEqual([])
  })
})
