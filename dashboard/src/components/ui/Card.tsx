import type { ReactNode } from 'react'

interface CardProps {
  title?: ReactNode
  subtitle?: ReactNode
  actions?: ReactNode
  children: ReactNode
  className?: string
  id?: string
  testId?: string
}

/** A titled panel. The title is an h2 so every panel is a landmark for screen readers. */
export function Card({ title, subtitle, actions, children, className = '', id, testId }: CardProps) {
  const hid = id ? `${id}-title` : undefined
  return (
    <section
      aria-labelledby={hid}
      data-testid={testId}
      className={`rounded-lg border border-zinc-800/80 bg-zinc-900/40 p-3 animate-fade-in ${className}`}
    >
      {(title || actions) && (
        <header className="mb-2 flex flex-wrap items-center gap-x-3 gap-y-1">
          {title && (
            <h2 id={hid} className="text-[13px] font-semibold tracking-wide text-zinc-200">
              {title}
            </h2>
          )}
          {subtitle && <p className="text-xs text-zinc-400">{subtitle}</p>}
          {actions && <div className="ml-auto flex flex-wrap items-center gap-1.5">{actions}</div>}
        </header>
      )}
      {children}
    </section>
  )
}
