const WHAT: Record<string, string> = {
  Text: 'the Text world: the Sentry monitor that watches a small language model update itself on a token stream, with gate decisions, canary probes and per-token influence.',
  Train: 'training: pretraining Nano bases and text models from the UI, with progress, logs and checkpoints.',
  Chat: 'chat with a model whose fast weights change as you talk, with sleep (consolidation) and a trace of every update.',
}

/** Honest placeholder for areas that later releases add. No data is invented here. */
export function LaterRelease({ area }: { area: string }) {
  return (
    <main id="main" className="mx-auto max-w-2xl px-6 py-16">
      <h1 className="text-lg font-semibold text-zinc-100">{area}</h1>
      <p className="mt-3 text-sm leading-relaxed text-zinc-300">
        This area arrives in a later release. It will hold {WHAT[area] ?? 'more views.'}
      </p>
      <p className="mt-2 text-sm text-zinc-400">
        Nothing is shown here yet because nothing is implemented yet: the dashboard never displays
        made-up data.
      </p>
    </main>
  )
}
