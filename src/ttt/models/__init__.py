"""The model layer: causal LMs whose plastic tensors the engine may write.

Backends: TinyLm (``tinylm``: our recurrent LM, trained by ``train`` on ``corpus`` with the
byte-level BPE of ``tokenizer``) and HF causal LMs with LoRA fast weights (``hf``). The
``registry`` keeps text models in the artifact store (status, promotion, imports, loading);
``generate`` samples and evaluates. Applications (``ttt.text``: Sentry, chat, sleep, poison)
use models only through the protocol in ``protocol``.
"""
