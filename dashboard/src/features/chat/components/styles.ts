/** Shared class names of the chat forms. */
export const input = 'h-7 rounded border border-zinc-700 bg-zinc-900 px-1.5 text-xs text-zinc-100'
export const field = 'flex flex-col gap-1 text-[11px] text-zinc-400'
