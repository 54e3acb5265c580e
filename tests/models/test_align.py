"""``ttt lm align`` on the tiny random Llama (mechanics; the real figures come from
SmolLM2, README): the core adapter is merged into the frozen core at load and reproduces the
trained model, the aligned model is bound to its adapter by sha256, two processes under
torchrun make the single-process update, and bad input is refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_lm_distributed import free_port

from ttt.models import registry
from ttt.models.align import ADAPTER_FILE, AlignConfig, align
from ttt.models.pretrained import import_model
from ttt.models.protocol import chat_prompt
from ttt.models.sources import ModelSource
from ttt.safety.refusal import is_refusal
from ttt.store import AlreadyExistsError, ArtifactStore, CorruptFileError, read_tensors

TINY = {"steps": 3, "batch_size": 4, "n_benign": 4, "reply_tokens": 3, "eval_tokens": 3,
        "eval_harmful": 3, "eval_benign": 3, "rank": 2}  # fmt: skip


@pytest.fixture()
def store(tiny_hf_folder: Path, tmp_path: Path) -> ArtifactStore:
    s = ArtifactStore(tmp_path / "art")
    import_model(s, ModelSource("folder", str(tiny_hf_folder)), model_id="tiny-hf",
                 reference_windows=0)  # fmt: skip
    return s


def test_the_merged_adapter_is_the_trained_model(store: ArtifactStore) -> None:
    meta = align(store, "tiny-hf", "tiny-aligned", AlignConfig.from_dict(TINY), reference_windows=0)
    a = meta["align"]
    assert a["n_examples"] > 300 and len(a["train_loss"]) == 3 and a["world_size"] == 1
    assert set(a["after"]) >= {"refusal_harmful", "over_refusal_benign", "n_harmful"}
    assert a["judge"]["labelled"] >= 100 and 0.0 <= a["judge"]["error_rate"] <= 0.05
    assert meta["aligned_from"] == "tiny-hf" and meta["weights_sha256"] != meta["source_sha256"]
    d = registry.model_dir(store, "tiny-aligned")
    adapter = read_tensors(d / ADAPTER_FILE)
    assert adapter and any(t.abs().sum() > 0 for n, t in adapter.items() if n.endswith("lora_B"))
    aligned = registry.load_model(store, "tiny-aligned")
    base = registry.load_model(store, "tiny-hf")
    ids = torch.tensor([chat_prompt(aligned, "How do I boil an egg?")])
    with torch.no_grad():
        merged = aligned.model(input_ids=ids).logits
        # the base with the adapter as live LoRA (scale alpha/rank) gives the same logits
        from ttt.models.hf import HfCausalLm, LoraSettings

        live = HfCausalLm.load(
            Path(meta["source"]["ref"]), LoraSettings(rank=2, alpha=32.0, targets=tuple(
                meta["core_adapters"][0]["targets"])))  # fmt: skip
        for n, p in live.plastic().items():
            p.copy_(adapter[n])
        ref = live.model(input_ids=ids).logits
        assert not torch.allclose(merged, base.model(input_ids=ids).logits)
    torch.testing.assert_close(merged, ref, rtol=1e-4, atol=1e-4)
    # The fresh fast weights of the aligned model leave it the aligned model.
    assert all(not t.any() for n, t in aligned.initial_plastic().items() if n.endswith("lora_B"))
    # A changed adapter file is refused by its sha256.
    adapter[next(iter(adapter))] += 1.0
    from ttt.store import write_tensors

    write_tensors(d / ADAPTER_FILE, adapter)
    with pytest.raises(CorruptFileError, match="sha256"):
        registry.load_model(store, "tiny-aligned")
    with pytest.raises(AlreadyExistsError):
        align(store, "tiny-hf", "tiny-aligned", AlignConfig.from_dict(TINY), reference_windows=0)
    for bad in ({"steps": 0}, {"lr": float("nan")}, {"targets": ["lm_head"]}, {"bogus": 1}):
        with pytest.raises(ValueError):
            AlignConfig.from_dict(bad)


def test_two_processes_make_the_single_process_update(store: ArtifactStore) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    sets = [x for k, v in TINY.items() for x in ("--set", f"{k}={v}")]
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "2",
        "--master-addr", "127.0.0.1", "--master-port", str(free_port()),
        "-m", "ttt", "lm", "align", "--base", "tiny-hf", "--id", "dp", *sets,
        "--reference-windows", "0", "--threads", "1", "-q", "--artifacts-root", str(store.root),
    ]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines().count("dp") == 1  # rank 1 printed nothing
    torch.set_num_threads(1)
    align(store, "tiny-hf", "one", AlignConfig.from_dict(TINY), reference_windows=0)
    dp, one = registry.read_meta(store, "dp"), registry.read_meta(store, "one")
    assert dp["align"]["world_size"] == 2
    assert dp["align"]["train_loss"] == pytest.approx(one["align"]["train_loss"], rel=1e-5)
    a = read_tensors(registry.model_dir(store, "dp") / ADAPTER_FILE)
    b = read_tensors(registry.model_dir(store, "one") / ADAPTER_FILE)
    for n in b:
        torch.testing.assert_close(a[n], b[n], rtol=1e-4, atol=1e-6, msg=n)


def test_refusal_judge_on_clear_cases() -> None:
    assert is_refusal("I'm sorry, but I can't help with that.")
    assert is_refusal("I can’t assist with this request.")
    assert not is_refusal("Sure! Here is a simple pancake recipe: ...")
    assert not is_refusal("I can't believe how easy this is: step 1, mix the flour.")
    assert not is_refusal("")
