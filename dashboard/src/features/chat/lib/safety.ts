/** Which defences a SentryConfig safety mode runs (mirrors `SentryConfig.gate_on`, `rollback_on`, `spfw_on`). */
export function defences(mode: string): { gate: boolean; rollback: boolean; spfw: boolean } {
  return {
    gate: mode === 'gate' || mode === 'all',
    rollback: mode === 'rollback' || mode === 'all',
    spfw: mode === 'spfw' || mode === 'all',
  }
}
