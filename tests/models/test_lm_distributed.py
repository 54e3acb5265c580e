"""Data-parallel training: 2 processes under torchrun (gloo, this machine) make the same
updates as one process on the same global batch; only rank 0 writes or prints."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
import torch

from ttt.models import registry
from ttt.models.corpus import Corpus
from ttt.models.distributed import DataParallel, DistributedError, data_parallel
from ttt.models.train import read_train_log, train_model
from ttt.store import ArtifactStore, read_tensors


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_two_processes_make_the_single_process_update(tmp_path, tiny_corpus):
    root = tmp_path / "a"
    steps = 4
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "2",
        "--master-addr", "127.0.0.1", "--master-port", str(free_port()),
        "-m", "ttt", "lm", "train", "--corpus", str(tiny_corpus), "--preset", "tiny",
        "--steps", str(steps), "--set", "log_every=1", "--threads", "1", "--id", "dp", "-q",
        "--artifacts-root", str(root),
    ]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines().count("dp") == 1  # rank 1 printed nothing

    torch.set_num_threads(1)
    store = ArtifactStore(root)
    single = train_model(
        store,
        corpus=Corpus.from_paths([tiny_corpus]),
        preset="tiny",
        overrides={"steps": steps, "log_every": 1},
        model_id="single",
    )
    assert single.status == "completed"
    dp_meta, one_meta = registry.read_meta(store, "dp"), registry.read_meta(store, "single")
    assert dp_meta["status"] == "completed" and dp_meta["world_size"] == 2
    assert dp_meta["tokenizer"] == one_meta["tokenizer"]

    # Same global batch and the same averaged gradient: the (all-reduced) loss and the
    # pre-clipping gradient norm of every step agree up to float reduction order.
    dp_log, one_log = read_train_log(store, "dp"), read_train_log(store, "single")
    assert [r["step"] for r in dp_log] == list(range(1, steps + 1))  # written once, by rank 0
    for a, b in zip(dp_log, one_log, strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5)
        assert a["grad_norm"] == pytest.approx(b["grad_norm"], rel=1e-5)
        assert a["lr"] == b["lr"]
        assert a["tokens"] == b["tokens"]  # the global token count
    assert dp_meta["metrics"]["tokens_per_s"] > 0

    # Same weights. torch.optim.Muon orthogonalises in bfloat16, which magnifies the 1e-7
    # reduction-order differences of the gradients to about 1e-4 in the Muon matrices; the
    # AdamW parameters (embedding, head, norms, vectors) agree to rtol 1e-5.
    wd = read_tensors(registry.model_dir(store, "dp") / "model.safetensors")
    w1 = read_tensors(registry.model_dir(store, "single") / "model.safetensors")
    assert wd.keys() == w1.keys()
    for name, b in w1.items():
        a = wd[name]
        if b.ndim == 2 and name.startswith("backbone."):  # Muon
            assert float((a - b).norm()) <= 1e-3 * float(b.norm()) + 1e-7, name
        else:
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)


def test_shard_takes_this_ranks_equal_slice():
    batch = torch.arange(8)
    parts = [DataParallel(r, 4, r, "cpu").shard(batch) for r in range(4)]
    assert torch.equal(torch.cat(parts), batch)
    assert parts[1].tolist() == [2, 3]
    with pytest.raises(ValueError, match="not divisible"):
        DataParallel(0, 3, 0, "cpu").shard(batch)


def test_single_process_and_misconfigured_launch(monkeypatch):
    for var in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(var, raising=False)
    with data_parallel("cpu") as dp:
        assert dp is None  # not under torchrun: plain single-process training
    with pytest.raises(DistributedError, match="torchrun"), data_parallel("cpu", enabled=True):
        pass
