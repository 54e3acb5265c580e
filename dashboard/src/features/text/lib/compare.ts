/** Aligning two runs' per-chunk series on one x axis (chunk index), and summary rows. */

export function alignByChunk(
  a: { chunk: number[]; values: (number | null)[] },
  b: { chunk: number[]; values: (number | null)[] },
): { x: number[]; a: (number | null)[]; b: (number | null)[] } {
  const max = Math.max(a.chunk.length ? Math.max(...a.chunk) : -1, b.chunk.length ? Math.max(...b.chunk) : -1)
  const x = Array.from({ length: max + 1 }, (_, i) => i)
  const place = (s: { chunk: number[]; values: (number | null)[] }) => {
    const out = new Array<number | null>(x.length).fill(null)
    s.chunk.forEach((c, i) => {
      if (c >= 0 && c < out.length) out[c] = s.values[i] ?? null
    })
    return out
  }
  return { x, a: place(a), b: place(b) }
}

/** B − A for two numbers, else null. */
export function diff(a: unknown, b: unknown): number | null {
  return typeof a === 'number' && typeof b === 'number' && Number.isFinite(a) && Number.isFinite(b) ? b - a : null
}
