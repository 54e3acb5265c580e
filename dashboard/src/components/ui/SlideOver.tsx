import { useEffect, useId, useRef, type ReactNode } from 'react'

/**
 * A non-modal side panel. Esc or the close button closes it; focus moves into it on open
 * and back to where it was on close.
 */
export function SlideOver({
  title,
  onClose,
  children,
  testId,
}: {
  title: ReactNode
  onClose: () => void
  children: ReactNode
  testId?: string
}) {
  const id = useId()
  const ref = useRef<HTMLDivElement>(null)
  useEffect(() => {
    const prev = document.activeElement as HTMLElement | null
    ref.current?.focus()
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        e.preventDefault()
        onClose()
      }
    }
    window.addEventListener('keydown', onKey)
    return () => {
      window.removeEventListener('keydown', onKey)
      if (prev && document.contains(prev)) prev.focus()
    }
  }, [onClose])
  return (
    <aside
      ref={ref}
      tabIndex={-1}
      role="dialog"
      aria-modal="false"
      aria-labelledby={id}
      data-testid={testId}
      className="fixed inset-y-0 right-0 z-40 flex w-full max-w-[480px] flex-col border-l border-zinc-800 bg-zinc-950/95 shadow-2xl shadow-black/60 backdrop-blur animate-slide-in focus:outline-none"
    >
      <header className="flex items-center gap-2 border-b border-zinc-800 px-4 py-2.5">
        <h2 id={id} className="text-sm font-semibold text-zinc-100">
          {title}
        </h2>
        <button
          type="button"
          onClick={onClose}
          className="ml-auto rounded px-2 py-0.5 text-zinc-400 hover:bg-zinc-800 hover:text-zinc-100"
        >
          Close (Esc)
        </button>
      </header>
      <div className="min-h-0 flex-1 overflow-y-auto px-4 py-3">{children}</div>
    </aside>
  )
}
