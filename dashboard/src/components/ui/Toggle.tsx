import type { ReactNode } from 'react'

/** A pressed/unpressed toggle button (aria-pressed). */
export function Toggle({
  pressed,
  onChange,
  children,
  title,
}: {
  pressed: boolean
  onChange: (v: boolean) => void
  children: ReactNode
  title?: string
}) {
  return (
    <button
      type="button"
      aria-pressed={pressed}
      title={title}
      onClick={() => onChange(!pressed)}
      className={`h-6 rounded border px-2 text-[11px] transition-colors ${
        pressed
          ? 'border-cyan-500/60 bg-cyan-500/10 text-cyan-200'
          : 'border-zinc-700 text-zinc-400 hover:border-zinc-500 hover:text-zinc-200'
      }`}
    >
      {children}
    </button>
  )
}

export function Button({
  children,
  onClick,
  disabled,
  variant = 'default',
  type = 'button',
  title,
  ariaLabel,
}: {
  children: ReactNode
  onClick?: () => void
  disabled?: boolean
  variant?: 'default' | 'primary' | 'danger'
  type?: 'button' | 'submit'
  title?: string
  ariaLabel?: string
}) {
  const cls = {
    default: 'border-zinc-700 text-zinc-200 hover:border-zinc-500 hover:bg-zinc-800/60',
    primary: 'border-cyan-600 bg-cyan-600/20 text-cyan-100 hover:bg-cyan-600/30',
    danger: 'border-red-800 text-red-200 hover:bg-red-900/30',
  }[variant]
  return (
    <button
      type={type}
      onClick={onClick}
      disabled={disabled}
      title={title}
      aria-label={ariaLabel}
      className={`inline-flex h-7 items-center gap-1.5 rounded border px-2.5 text-xs font-medium transition-colors disabled:cursor-not-allowed disabled:opacity-50 ${cls}`}
    >
      {children}
    </button>
  )
}
