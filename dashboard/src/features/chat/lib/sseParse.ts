/**
 * Incremental parser of a `text/event-stream` body (the chat message stream is a POST, so
 * EventSource cannot read it; fetch hands over the body in arbitrary pieces). Follows the
 * WHATWG rules that matter here: events end at a blank line, `event:` names them (default
 * "message"), `data:` lines join with "\n", comments (`:`) and `retry:`/`id:` are ignored,
 * CRLF, CR and LF all end lines, and a piece may end anywhere, even inside a CRLF.
 */

export interface SseMessage {
  event: string
  data: string
}

export class SseParser {
  private buf = ''
  private event = ''
  private data: string[] = []

  /** Feeds a piece of the body; returns the events it completed. */
  push(chunk: string): SseMessage[] {
    this.buf += chunk
    const out: SseMessage[] = []
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buf)
      if (!m) break
      // a lone CR at the very end may be the first half of a CRLF: wait for the next piece
      if (m[0] === '\r' && m.index === this.buf.length - 1) break
      const line = this.buf.slice(0, m.index)
      this.buf = this.buf.slice(m.index + m[0].length)
      const msg = this.line(line)
      if (msg) out.push(msg)
    }
    return out
  }

  private line(line: string): SseMessage | null {
    if (line === '') {
      if (!this.data.length) {
        this.event = ''
        return null
      }
      const msg = { event: this.event || 'message', data: this.data.join('\n') }
      this.event = ''
      this.data = []
      return msg
    }
    if (line.startsWith(':')) return null
    const colon = line.indexOf(':')
    const field = colon < 0 ? line : line.slice(0, colon)
    let value = colon < 0 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'event') this.event = value
    else if (field === 'data') this.data.push(value)
    return null
  }
}
