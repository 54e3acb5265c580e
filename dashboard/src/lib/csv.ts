/** CSV of named columns (RFC 4180 quoting); numbers written at full precision. */
export function toCsv(columns: Record<string, ArrayLike<number | string | null>>): string {
  const names = Object.keys(columns)
  const n = Math.max(0, ...names.map((k) => columns[k].length))
  const q = (v: number | string | null | undefined): string => {
    if (v === null || v === undefined) return ''
    if (typeof v === 'number') return Number.isFinite(v) ? String(v) : ''
    return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v
  }
  const lines = [names.map(q).join(',')]
  for (let i = 0; i < n; i++) lines.push(names.map((k) => q(columns[k][i])).join(','))
  return lines.join('\n') + '\n'
}
