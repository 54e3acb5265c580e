import { useRef, type KeyboardEvent } from 'react'

export interface TabItem {
  id: string
  label: string
}

/**
 * WAI-ARIA tabs with a roving tabindex: Tab reaches the selected tab, ←/→/Home/End move
 * between tabs and activate them (automatic activation), Enter/Space activate too.
 */
export function Tabs({
  items,
  selected,
  onSelect,
  label,
  idPrefix,
}: {
  items: TabItem[]
  selected: string
  onSelect: (id: string) => void
  label: string
  idPrefix: string
}) {
  const refs = useRef<Record<string, HTMLButtonElement | null>>({})
  const focusAt = (i: number) => {
    const it = items[(i + items.length) % items.length]
    refs.current[it.id]?.focus()
    onSelect(it.id)
  }
  const onKey = (e: KeyboardEvent<HTMLButtonElement>, i: number) => {
    const k = e.key
    if (k === 'ArrowRight') focusAt(i + 1)
    else if (k === 'ArrowLeft') focusAt(i - 1)
    else if (k === 'Home') focusAt(0)
    else if (k === 'End') focusAt(items.length - 1)
    else return
    e.preventDefault()
    e.stopPropagation()
  }
  return (
    <div role="tablist" aria-label={label} className="flex items-end gap-0.5 overflow-x-auto">
      {items.map((it, i) => {
        const on = it.id === selected
        return (
          <button
            key={it.id}
            ref={(el) => {
              refs.current[it.id] = el
            }}
            role="tab"
            type="button"
            id={`${idPrefix}-tab-${it.id}`}
            aria-selected={on}
            aria-controls={`${idPrefix}-panel`}
            tabIndex={on ? 0 : -1}
            onClick={() => onSelect(it.id)}
            onKeyDown={(e) => onKey(e, i)}
            className={`relative whitespace-nowrap px-3 pb-2 pt-1.5 text-[13px] transition-colors ${
              on ? 'text-zinc-50' : 'text-zinc-400 hover:text-zinc-200'
            }`}
          >
            {it.label}
            <span
              aria-hidden="true"
              className={`absolute inset-x-2 bottom-0 h-0.5 rounded-full transition-all ${on ? 'bg-cyan-400' : 'bg-transparent'}`}
            />
          </button>
        )
      })}
    </div>
  )
}
