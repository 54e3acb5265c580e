/**
 * Merges `incoming` records into `old` by a numeric key, keeping key order; a record whose
 * key is already present replaces it (a reconnecting stream replays from the start).
 * Returns `old` itself when nothing changed (no re-render).
 */
export function mergeByKey<T>(old: T[], incoming: T[], key: (x: T) => number): T[] {
  if (!incoming.length) return old
  const lastKey = old.length ? key(old[old.length - 1]) : -Infinity
  // fast path: strictly newer records appended in order
  if (incoming.every((x, i) => key(x) > (i === 0 ? lastKey : key(incoming[i - 1])))) return [...old, ...incoming]
  const byKey = new Map<number, T>()
  for (const x of old) byKey.set(key(x), x)
  let changed = false
  for (const x of incoming) {
    const k = key(x)
    if (!byKey.has(k)) changed = true
    else if (JSON.stringify(byKey.get(k)) !== JSON.stringify(x)) changed = true
    byKey.set(k, x)
  }
  if (!changed) return old
  return [...byKey.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v)
}
