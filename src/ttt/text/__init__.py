"""The text world: TinyLm (recurrent LM, no attention), byte-level BPE, corpora, training.

    ttt lm train --preset demo          # built-in corpus, about a minute on 2 CPU cores
    ttt lm generate "The list type"     # newest completed, promoted model

Modules: ``tokenizer`` (BPE), ``model`` (TinyLm, SSM scan, context net), ``corpus`` (sources,
split, memory-mapped tokens), ``train`` (trainer, checkpoints, resume), ``registry`` (models in
the store: status, promotion, loading), ``generate`` (sampling, evaluation).
"""
