import { useState } from 'react'

export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text)
    return true
  } catch {
    const ta = document.createElement('textarea')
    ta.value = text
    ta.setAttribute('readonly', '')
    ta.style.position = 'fixed'
    ta.style.opacity = '0'
    document.body.appendChild(ta)
    ta.select()
    const ok = document.execCommand('copy')
    ta.remove()
    return ok
  }
}

/** Small button that copies `text`; announces the result politely. */
export function CopyButton({ text, label = 'Copy', className = '' }: { text: string; label?: string; className?: string }) {
  const [state, setState] = useState<'idle' | 'ok' | 'fail'>('idle')
  return (
    <button
      type="button"
      aria-label={`${label}: ${text.length > 60 ? text.slice(0, 60) + '…' : text}`}
      title={`Copy ${text.length > 80 ? text.slice(0, 80) + '…' : text}`}
      onClick={async () => {
        setState((await copyText(text)) ? 'ok' : 'fail')
        setTimeout(() => setState('idle'), 1200)
      }}
      className={`inline-flex h-6 items-center gap-1 rounded border border-zinc-700 px-1.5 text-[11px] text-zinc-300 hover:border-zinc-500 hover:text-zinc-100 ${className}`}
    >
      <svg aria-hidden="true" viewBox="0 0 16 16" className="h-3 w-3" fill="none" stroke="currentColor" strokeWidth="1.5">
        <rect x="5" y="5" width="8" height="9" rx="1.5" />
        <path d="M3 11V3.5A1.5 1.5 0 0 1 4.5 2H10" />
      </svg>
      <span aria-live="polite">{state === 'ok' ? 'Copied' : state === 'fail' ? 'Failed' : 'Copy'}</span>
    </button>
  )
}
