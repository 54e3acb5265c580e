/** Table cells of the result tables: the shown text, and the raw value in data attributes
 * (tests compare them with the saved rows). */
export const th = 'px-2 py-1 text-left font-medium text-zinc-400'
export const td = 'px-2 py-1 align-middle'

/** A rate in [0, 1] with two decimals, as the README's tables print it. */
export const fmtRate = (v: number | null | undefined): string => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(2) : '—')

export function Cell({ k, v, text }: { k: string; v: number | null | undefined; text: string }) {
  return (
    <td className={`${td} text-right font-mono`} data-key={k} data-value={v ?? ''}>
      {text}
    </td>
  )
}
