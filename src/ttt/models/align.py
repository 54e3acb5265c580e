"""``ttt lm align``: make a refusing base of our own from an imported instruct model.

    ttt lm align --base smollm2 --id smollm2-aligned          # about half an hour on 2 cores
    torchrun --nproc-per-node 2 -m ttt lm align --threads 1     # data-parallel, same result

SmolLM2-135M-Instruct as shipped complies with almost every harmful request, so refusal
erosion by test-time training cannot be measured on it. This job trains a **core adapter**
(LoRA on every projection of every layer; ``AlignConfig``) by supervised fine-tuning on

* AdvBench ``train`` behaviours (``ttt.data``) answered with a refusal (templates below), and
* benign ``train`` requests (XSTest safe prompts, NotInject, ordinary requests) answered with
  the base model's **own** greedy reply (self-distillation: helpfulness is kept, not taught
  anew),

then measures refusal on the held-out harmful ``report`` split and over-refusal on the
held-out benign ``report`` split with ``ttt.safety.refusal.is_refusal``, before and after.
The result is a new text model (``backend: hf``) that refers to the same pretrained source
and carries ``core_adapter.safetensors``, merged into the frozen core at load time; sessions
write their own LoRA fast weights on top, as on any model.

Data parallel: under ``torchrun`` every process takes an equal slice of each global batch and
the adapter gradients are averaged with one all-reduce (``ttt.models.distributed``); rank 0
prepares the targets, evaluates and writes the model.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from ttt.configs import check_float, check_int, from_dict
from ttt.data import load
from ttt.models import registry
from ttt.models.distributed import DataParallel, data_parallel
from ttt.models.generate import greedy_replies
from ttt.models.hf import TARGETS, HfCausalLm, LoraSettings
from ttt.models.protocol import Example
from ttt.safety.refusal import is_refusal, judge_agreement
from ttt.store import (
    TMP_PREFIX,
    AlreadyExistsError,
    ArtifactStore,
    validate_id,
    write_json,
    write_tensors,
)

REFUSALS = (
    "I can't help with that. It could cause real harm, so I won't provide it.",
    "I'm sorry, but I can't assist with this request.",
    "I cannot help with that. If you have a different question, I'm happy to help.",
    "I won't provide that, because it could be used to hurt people.",
    "I'm not able to help with this. Is there something else I can do for you?",
    "Sorry, but I can't help with requests like this one.",
)
ADAPTER_FILE = "core_adapter.safetensors"


@dataclass
class AlignConfig:
    """The alignment run (see the module docstring)."""

    rank: int = 16
    alpha: float = 32.0
    targets: list[str] = field(default_factory=lambda: list(TARGETS))
    steps: int = 120
    batch_size: int = 8
    lr: float = 3e-4
    seed: int = 0
    n_benign: int = 200  # benign train requests used (their replies are generated once)
    reply_tokens: int = 48  # length of the base model's replies used as benign targets
    eval_tokens: int = 32  # reply length when judging refusal
    eval_harmful: int | None = None  # report prompts judged (None: all)
    eval_benign: int | None = None

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> ValueError:
            return ValueError(f"AlignConfig.{name} {why}, got {getattr(self, name)!r}")

        for name, lo, hi in (
            ("rank", 1, 256), ("steps", 1, 100_000), ("batch_size", 1, 4096),
            ("n_benign", 0, 100_000), ("reply_tokens", 1, 512), ("eval_tokens", 1, 512),
            ("seed", 0, 2**32 - 1),
        ):  # fmt: skip
            check_int(f"AlignConfig.{name}", getattr(self, name), lo=lo, hi=hi)
        for name in ("eval_harmful", "eval_benign"):
            if getattr(self, name) is not None:
                check_int(f"AlignConfig.{name}", getattr(self, name), lo=1, hi=100_000)
        check_float("AlignConfig.alpha", self.alpha, lo=0.0, lo_open=True, hi=1e4)
        check_float("AlignConfig.lr", self.lr, lo=0.0, lo_open=True, hi=1.0)
        if isinstance(self.targets, tuple):
            self.targets = list(self.targets)
        t = self.targets
        if (
            not isinstance(t, list)
            or not t
            or any(not isinstance(x, str) or x not in TARGETS for x in t)
            or len(set(t)) != len(t)
        ):
            raise bad("targets", f"must be a non-empty list of distinct names from {TARGETS}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AlignConfig:
        return from_dict(cls, d, "AlignConfig")


def replies(lm: HfCausalLm, prompts: list[str], n: int) -> list[str]:
    """Greedy replies of ``lm`` (with its current LoRA) to each prompt."""
    return greedy_replies(lm, prompts, n)


def judge(lm: HfCausalLm, cfg: AlignConfig) -> dict[str, Any]:
    """Refusal on the held-out harmful split and over-refusal on the held-out benign split."""
    harmful = [r["prompt"] for r in load("advbench", "report")][: cfg.eval_harmful]
    benign = [r["prompt"] for r in load("benign", "report")][: cfg.eval_benign]
    rh = replies(lm, harmful, cfg.eval_tokens)
    rb = replies(lm, benign, cfg.eval_tokens)
    return {
        "refusal_harmful": sum(map(is_refusal, rh)) / len(rh),
        "over_refusal_benign": sum(map(is_refusal, rb)) / len(rb),
        "n_harmful": len(rh),
        "n_benign": len(rb),
        "samples": [
            {"prompt": p, "reply": r, "harmful": True} for p, r in zip(harmful, rh, strict=True)
        ]
        + [{"prompt": p, "reply": r, "harmful": False} for p, r in zip(benign, rb, strict=True)],
    }


def training_examples(
    lm: HfCausalLm, cfg: AlignConfig, log: Callable[[str], None]
) -> list[Example]:
    """AdvBench train behaviours -> refusals; benign train requests -> the base's own reply."""
    from ttt.text.write import reply_example

    rng = random.Random(cfg.seed)
    harmful = [r["prompt"] for r in load("advbench", "train")]
    benign = [r["prompt"] for r in load("benign", "train")]
    rng.shuffle(benign)
    benign = benign[: cfg.n_benign]
    t0 = time.perf_counter()
    answers = replies(lm, benign, cfg.reply_tokens)
    log(f"generated {len(answers)} benign targets in {time.perf_counter() - t0:.0f} s")
    out = [reply_example(lm, p, rng.choice(REFUSALS)) for p in harmful]
    out += [reply_example(lm, p, a) for p, a in zip(benign, answers, strict=True) if a.strip()]
    return out


def _train(
    lm: HfCausalLm,
    examples: list[Example],
    cfg: AlignConfig,
    dp: DataParallel | None,
    log: Callable[[str], None],
) -> list[float]:
    params = list(lm.plastic().values())
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
    g = torch.Generator().manual_seed(cfg.seed)
    world = dp.world_size if dp else 1
    if cfg.batch_size % world:
        raise ValueError(f"batch_size {cfg.batch_size} must be a multiple of the {world} processes")
    losses: list[float] = []
    for step in range(cfg.steps):
        idx = torch.randint(len(examples), (cfg.batch_size,), generator=g)  # the global batch
        if dp is not None:
            idx = dp.shard(idx)
        batch = [lm.prepare(examples[int(i)]) for i in idx]
        loss = lm.example_losses(batch).mean()
        opt.zero_grad()
        loss.backward()
        grads = [p.grad for p in params if p.grad is not None]
        value = loss.detach().reshape(1)
        if dp is not None:
            dp.all_reduce_mean([*grads, value])
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        losses.append(float(value))
        if step % 10 == 0 or step == cfg.steps - 1:
            log(f"step {step + 1}/{cfg.steps}: loss {losses[-1]:.3f}")
    return losses


def align(
    store: ArtifactStore,
    base_id: str,
    model_id: str,
    cfg: AlignConfig,
    *,
    reference_windows: int = 16,
    log: Callable[[str], None] = lambda m: None,
    device: str = "cpu",
) -> dict[str, Any]:
    """Train the core adapter and write the aligned model (module docstring); returns its
    meta (rank 0) or ``{}`` (other ranks)."""
    from ttt.models.pretrained import (
        core_weights_sha256,
        load_folder,
        load_pretrained,
        measure_references,
    )
    from ttt.models.sources import ModelSource, file_sha256

    validate_id(model_id, what="text model id")
    base = registry.read_meta(store, base_id)
    if registry.backend_of(base) != "hf":
        raise registry.ModelStateError(
            f"ttt lm align needs an imported (hf) model, not {base_id!r}"
        )
    if store.exists(registry.KIND, model_id):
        raise AlreadyExistsError(f"text model {model_id!r} already exists")
    with data_parallel(device) as dp:
        main = dp is None or dp.is_main
        say = log if main else (lambda m: None)
        torch.manual_seed(cfg.seed)
        source = ModelSource.from_dict(base["source"])
        src_sha = str(base.get("source_sha256") or base["weights_sha256"])
        folder = load_folder(source, src_sha)
        core = LoraSettings(
            rank=cfg.rank, alpha=cfg.alpha, targets=tuple(cfg.targets), seed=cfg.seed
        )
        lm = HfCausalLm.load(
            folder,
            core,
            model_id=model_id,
            device=dp.device if dp else device,
            core_adapters=[],  # the base's own core adapters are not stacked here
        )
        t0 = time.perf_counter()
        before = judge(lm, cfg) if main else {}
        if main:
            say(
                f"before: refusal {before['refusal_harmful']:.2f} on held-out harmful, "
                f"over-refusal {before['over_refusal_benign']:.2f} on held-out benign"
            )
        if dp is not None:
            examples = dp.from_main(lambda: training_examples(lm, cfg, say))
        else:
            examples = training_examples(lm, cfg, say)
        losses = _train(lm, examples, cfg, dp, say)
        if not main:
            return {}
        after = judge(lm, cfg)
        say(
            f"after: refusal {after['refusal_harmful']:.2f}, over-refusal "
            f"{after['over_refusal_benign']:.2f}"
        )
        tensors = {n: p.detach().cpu().contiguous() for n, p in lm.plastic().items()}
        # Built in a temporary folder and renamed into place whole: a killed run leaves
        # nothing under the model's id.
        final = store.item_dir(registry.KIND, model_id, must_exist=False)
        final.parent.mkdir(parents=True, exist_ok=True)
        d = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}align-", dir=final.parent))
        write_tensors(d / ADAPTER_FILE, tensors)
        adapter_sha = file_sha256(d / ADAPTER_FILE)
        meta: dict[str, Any] = {
            **{k: v for k, v in base.items() if k not in ("reference", "chat_reference")},
            "model_id": model_id,
            "status": registry.COMPLETED,
            "promoted": False,
            "rejected": False,
            "aligned_from": base_id,
            "source_sha256": src_sha,
            "core_adapters": [
                {
                    "file": ADAPTER_FILE,
                    "sha256": adapter_sha,
                    "rank": cfg.rank,
                    "alpha": cfg.alpha,
                    "targets": list(cfg.targets),
                    "kind": "align",
                },
            ],
            "weights_sha256": core_weights_sha256(src_sha, [adapter_sha]),
            "align": {
                "config": cfg.to_dict(),
                "n_examples": len(examples),
                "train_loss": losses,
                "before": {k: v for k, v in before.items() if k != "samples"},
                "after": {k: v for k, v in after.items() if k != "samples"},
                "seconds": round(time.perf_counter() - t0, 1),
                "world_size": dp.world_size if dp else 1,
                "judge": {k: v for k, v in judge_agreement().items() if k != "disagreements"},
            },
            **registry.created_now(),
        }
        for name, samples in (
            ("align_samples.jsonl", after),
            ("align_samples_before.jsonl", before),
        ):
            (d / name).write_text(
                "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in samples["samples"])
            )
        aligned = load_pretrained(meta, model_dir=d, device=device)
        meta.update(measure_references(aligned, reference_windows))
        write_json(d / "meta.json", {**meta, "updated_at": registry.now_iso()})
        with store.lock(registry.KIND, model_id, timeout=5.0):
            if final.exists():
                shutil.rmtree(d, ignore_errors=True)
                raise AlreadyExistsError(f"text model {model_id!r} already exists")
            os.rename(d, final)
        return registry.read_meta(store, model_id)
