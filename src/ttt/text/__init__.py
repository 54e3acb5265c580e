"""Text applications on the model protocol (``ttt.models``): the Sentry monitor, chat
sessions with per-session fast weights, sleep (offline consolidation) and the poisoning
benchmark. They use models only through ``ttt.models.protocol``, so every application runs
on every backend (TinyLm, HF causal LM + LoRA)."""
