import type { ReactNode } from 'react'

/** PNG / SVG / CSV export buttons for a chart, plus optional extra links. */
export function ExportMenu({
  onPng,
  onSvg,
  onCsv,
  extra,
  label,
}: {
  onPng?: () => void
  onSvg?: () => void
  onCsv?: () => void
  extra?: ReactNode
  label: string
}) {
  const cls =
    'h-6 rounded border border-zinc-800 px-1.5 text-[11px] text-zinc-400 hover:border-zinc-600 hover:text-zinc-100'
  return (
    <div role="group" aria-label={`Export ${label}`} className="flex items-center gap-1">
      {onPng && (
        <button type="button" className={cls} onClick={onPng} title="Download PNG">
          PNG
        </button>
      )}
      {onSvg && (
        <button type="button" className={cls} onClick={onSvg} title="Download SVG">
          SVG
        </button>
      )}
      {onCsv && (
        <button type="button" className={cls} onClick={onCsv} title="Download the plotted data as CSV">
          CSV
        </button>
      )}
      {extra}
    </div>
  )
}
