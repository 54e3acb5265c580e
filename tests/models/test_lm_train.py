"""Training: val loss goes down, resume is bit-exact, statuses and the default-model rule,
checkpoints are safetensors and bad files give clear errors."""

from __future__ import annotations

import math
import shutil

import pytest
import torch

from ttt.models import registry
from ttt.models.corpus import Corpus
from ttt.models.registry import ModelStateError
from ttt.models.train import (
    TrainConfig,
    lr_factor,
    preset_configs,
    read_train_log,
    resume_training,
    train_model,
)
from ttt.store import ArtifactStore, CorruptFileError, NotFoundError, read_json, read_tensors
from ttt.store import write_tensors as store_write_tensors


@pytest.fixture()
def lm_store(tiny_lm_root, tmp_path) -> ArtifactStore:
    root = tmp_path / "artifacts"
    shutil.copytree(tiny_lm_root, root)
    return ArtifactStore(root)


def _weights(store: ArtifactStore, mid: str) -> dict[str, torch.Tensor]:
    return read_tensors(registry.model_dir(store, mid) / "model.safetensors")


def test_training_lowers_validation_loss(lm_store):
    meta = registry.read_meta(lm_store, "tiny-lm")
    assert meta["status"] == "completed" and meta["promoted"] is True
    log = read_train_log(lm_store, "tiny-lm")
    vals = [r["val_loss"] for r in log if r["val_loss"] is not None]
    assert len(vals) >= 3
    vocab = meta["model_cfg"]["vocab_size"]
    assert vals[0] < math.log(vocab)  # learned something by the first evaluation
    assert vals[-1] < vals[0] - 0.3
    assert meta["metrics"]["val_loss"] == pytest.approx(vals[-1])
    assert meta["metrics"]["val_ppl"] == pytest.approx(math.exp(vals[-1]))
    for rec in log:
        assert {"step", "train_loss", "val_loss", "lr", "tokens_per_s"} <= set(rec)
    for key in ("torch_version", "package_version", "python_version", "weights_sha256"):
        assert meta[key]
    assert meta["corpus"]["sha256"] and meta["tokenizer"]["vocab_size"] == vocab


def test_resume_is_bit_exact(tmp_path, tiny_corpus):
    store = ArtifactStore(tmp_path / "a")
    corpus = lambda: Corpus.from_paths([tiny_corpus])  # noqa: E731
    ov = {"steps": 12, "checkpoint_every": 100, "eval_every": 4, "log_every": 2}
    full = train_model(store, corpus=corpus(), preset="tiny", overrides=ov, model_id="full")
    assert full.status == "completed" and full.step == 12

    calls = {"n": 0}

    def stop_after_5() -> bool:
        calls["n"] += 1
        return calls["n"] > 5  # polled before each step: 5 steps run, then it cancels

    part = train_model(
        store, corpus=corpus(), preset="tiny", overrides=ov, model_id="part", cancel=stop_after_5
    )
    assert part.status == "cancelled" and part.step == 5
    meta = registry.read_meta(store, "part")
    assert meta["status"] == "cancelled" and not meta["promoted"]
    with pytest.raises(ModelStateError, match="no final weights"):
        registry.load_model(store, "part")
    done = resume_training(store, "part")
    assert done.status == "completed" and done.step == 12

    a, b = _weights(store, "full"), _weights(store, "part")
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    ck = registry.model_dir(store, "part") / "checkpoints"
    opt_full = read_tensors(
        registry.model_dir(store, "full") / "checkpoints" / "optim-00000012.safetensors"
    )
    opt_part = read_tensors(ck / "optim-00000012.safetensors")
    for name in opt_full:
        assert torch.equal(opt_full[name], opt_part[name]), name
    # The log has each step once, as if never interrupted.
    steps_full = [r["step"] for r in read_train_log(store, "full")]
    steps_part = [r["step"] for r in read_train_log(store, "part")]
    assert steps_full == steps_part
    vals = lambda mid: [r["val_loss"] for r in read_train_log(store, mid)]  # noqa: E731
    assert vals("full") == vals("part")
    with pytest.raises(ModelStateError, match="completed"):
        resume_training(store, "part")


def test_checkpoints_are_safetensors_with_json_scalars(lm_store):
    d = registry.model_dir(lm_store, "tiny-lm")
    info = read_json(d / "checkpoints" / "checkpoint.json")
    assert info["step"] == 30
    opt = read_tensors(d / "checkpoints" / info["optim"])
    assert any(k.startswith("muon.") and k.endswith("momentum_buffer") for k in opt)
    assert any(k.startswith("adamw.") and k.endswith("exp_avg_sq") for k in opt)
    assert not list(d.rglob("*.pt")) and not list(d.rglob("*.pkl"))
    assert (d / "tokenizer.json").is_file() and (d / "corpus.json").is_file()


def test_default_model_is_newest_completed_and_promoted(lm_store, tiny_corpus):
    assert registry.default_model_id(lm_store) == "tiny-lm"
    # A newer model trained without promotion is not picked.
    train_model(
        lm_store, corpus=Corpus.from_paths([tiny_corpus]), preset="tiny",
        overrides={"steps": 3}, model_id="newer", promote=False,
    )  # fmt: skip
    assert registry.default_model_id(lm_store) == "tiny-lm"
    assert registry.load_model(lm_store).model_id == "tiny-lm"
    registry.promote(lm_store, "newer")
    assert registry.default_model_id(lm_store) == "newer"
    registry.reject(lm_store, "newer")
    assert registry.default_model_id(lm_store) == "tiny-lm"
    assert registry.read_meta(lm_store, "newer")["rejected"] is True
    # A sleep candidate is never used until promoted; a failed model never.
    registry.update_meta(lm_store, "newer", status="sleep_candidate", promoted=False)
    assert registry.default_model_id(lm_store) == "tiny-lm"
    registry.update_meta(lm_store, "tiny-lm", status="failed")
    assert registry.default_model_id(lm_store) is None
    with pytest.raises(NotFoundError, match="no completed, promoted text model"):
        registry.load_model(lm_store)
    with pytest.raises(ModelStateError, match="failed"):
        registry.promote(lm_store, "tiny-lm")
    registry.promote(lm_store, "newer")
    assert registry.default_model_id(lm_store) == "newer"


def test_unknown_model_and_nan_checkpoint_are_clear_errors(lm_store):
    with pytest.raises(NotFoundError, match="nope"):
        registry.load_model(lm_store, "nope")
    d = registry.model_dir(lm_store, "tiny-lm")
    weights = read_tensors(d / "model.safetensors")
    weights["head.weight"][0, 0] = float("nan")
    store_write_tensors(d / "model.safetensors", weights)
    with pytest.raises(CorruptFileError, match=r"model\.safetensors.*head\.weight.*NaN"):
        registry.load_model(lm_store, "tiny-lm")


def test_tampered_weights_fail_the_hash(lm_store):
    d = registry.model_dir(lm_store, "tiny-lm")
    weights = read_tensors(d / "model.safetensors")
    weights["head.weight"][0, 0] += 1.0
    store_write_tensors(d / "model.safetensors", weights)
    with pytest.raises(CorruptFileError, match="weights_sha256"):
        registry.load_model(lm_store, "tiny-lm")


def test_bad_corpus_fails_before_anything_is_written(tmp_path):
    store = ArtifactStore(tmp_path / "a")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ValueError, match=r"bad\.txt: not UTF-8"):
        train_model(store, corpus=Corpus.from_paths([bad]), preset="tiny", model_id="m")
    assert not store.exists("text_models", "m")


def test_gru_backbone_trains(tmp_path, tiny_corpus):
    store = ArtifactStore(tmp_path / "a")
    res = train_model(
        store, corpus=Corpus.from_paths([tiny_corpus]), preset="tiny",
        overrides={"steps": 6, "eval_every": 3}, model_overrides={"backbone": "gru"},
    )  # fmt: skip
    assert res.status == "completed"
    lm = registry.load_model(store, res.model_id)
    assert lm.model.cfg.backbone == "gru"


def test_schedule_and_config_validation():
    cfg = TrainConfig(steps=100, warmup_steps=10, min_lr_frac=0.1)
    assert lr_factor(0, cfg) == pytest.approx(0.1)
    assert lr_factor(9, cfg) == pytest.approx(1.0)
    assert lr_factor(99, cfg) == pytest.approx(0.1, abs=1e-3)
    lin = TrainConfig(steps=100, warmup_steps=0, decay="linear", min_lr_frac=0.0)
    assert lr_factor(50, lin) == pytest.approx(0.5)
    for bad, match in [
        ({"steps": 0}, "steps"),
        ({"lr": float("nan")}, "lr"),
        ({"decay": "step"}, "decay"),
        ({"val_fraction": 1.0}, "val_fraction"),
    ]:
        with pytest.raises(ValueError, match=match):
            TrainConfig(**bad)
    with pytest.raises(ValueError, match="unknown preset"):
        preset_configs("huge")
    with pytest.raises(ValueError, match="unknown field"):
        TrainConfig.from_dict({"stepz": 3})
