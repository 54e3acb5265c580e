"""Text-model speed benchmark: prints one JSON object.

    python benchmarks/bench_text.py [--threads 1] [--quick]

* ``scan``: the chunked parallel scan vs the step-by-step reference on 2,048-token
  sequences (ms, forward + backward for the scan; max abs difference in float32 and float64).
* ``generation``: ms per token with the carried recurrent state vs recomputing the prefix.
* ``train``: training tokens/s of the demo and default models (random tokens, the real
  step), their FLOPs per token (forward + backward, counted by
  ``torch.utils.flop_counter.FlopCounterMode``: matmuls only, the element-wise scan is not
  counted) and the fraction of this machine's dense float32 matmul peak, measured in the
  same run with the same thread count, that this reaches.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

import torch
from torch.utils.flop_counter import FlopCounterMode

from ttt.models.tinylm import TinyLm, scan, scan_reference
from ttt.models.train import make_optimizers, preset_configs, train_step


def _time(fn, repeat: int) -> float:
    fn()  # warm-up
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    return 1000 * (time.perf_counter() - t0) / repeat


def bench_scan(T: int, E: int, repeat: int) -> dict[str, float]:
    g = torch.Generator().manual_seed(0)
    a = torch.rand(4, T, E, generator=g).requires_grad_(True)
    b = torch.randn(4, T, E, generator=g).requires_grad_(True)
    ref64 = scan_reference(a.detach().double(), b.detach().double())

    def vectorised() -> None:
        scan(a, b).sum().backward()

    def reference() -> None:
        scan_reference(a, b).sum().backward()

    with torch.no_grad():
        ms_scan_fwd = _time(lambda: scan(a, b), repeat)
        ms_ref_fwd = _time(lambda: scan_reference(a, b), max(1, repeat // 4))
        diff32 = float((scan(a, b).double() - ref64).abs().max())
        diff64 = float((scan(a.double(), b.double()) - ref64).abs().max())
    return {
        "seq_len": T,
        "channels": E,
        "ms_scan_forward": ms_scan_fwd,
        "ms_reference_forward": ms_ref_fwd,
        "ms_scan_forward_backward": _time(vectorised, repeat),
        "ms_reference_forward_backward": _time(reference, max(1, repeat // 4)),
        "max_abs_diff_float32": diff32,
        "max_abs_diff_float64": diff64,
        "max_abs_state": float(ref64.abs().max()),
    }


@torch.no_grad()
def bench_generation(model: TinyLm, prefix: int, new: int) -> dict[str, float]:
    tokens = torch.randint(0, model.cfg.vocab_size, (1, prefix + new))
    _, state = model(tokens[:, :prefix])
    t0 = time.perf_counter()
    for t in range(prefix, prefix + new):
        _, state = model.step(tokens[:, t], state)
    incremental = 1000 * (time.perf_counter() - t0) / new
    t0 = time.perf_counter()
    for t in range(prefix, prefix + new):
        model(tokens[:, : t + 1])
    recompute = 1000 * (time.perf_counter() - t0) / new
    return {
        "prefix_tokens": prefix,
        "ms_per_token_incremental": incremental,
        "ms_per_token_recompute": recompute,
    }


def matmul_peak_gflops(n: int = 1024, repeat: int = 10) -> float:
    """Dense float32 matmul throughput of this machine (same thread count), GFLOP/s."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g)
    b = torch.randn(n, n, generator=g)
    ms = _time(lambda: a @ b, repeat)
    return 2 * n**3 / (ms / 1000) / 1e9


def bench_train(preset: str, steps: int, peak_gflops: float) -> dict[str, float | str | int]:
    tcfg, mcfg = preset_configs(preset)
    mcfg = replace(mcfg, vocab_size=tcfg.vocab_size)  # as trained: the tokenizer's size
    model = TinyLm(mcfg, seed=0)
    opts = make_optimizers(model, tcfg)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, mcfg.vocab_size, (tcfg.batch_size, tcfg.seq_len + 1), generator=g)
    tokens_per_step = tcfg.batch_size * tcfg.seq_len
    with FlopCounterMode(display=False) as fc:
        train_step(model, opts, x[:, :-1], x[:, 1:], 0, tcfg)
    flops_per_token = fc.get_total_flops() / tokens_per_step
    t0 = time.perf_counter()
    for s in range(steps):
        train_step(model, opts, x[:, :-1], x[:, 1:], s + 1, tcfg)
    elapsed = time.perf_counter() - t0
    tps = steps * tokens_per_step / elapsed
    return {
        "config": preset,
        "n_params": model.num_params(),
        "vocab_size": mcfg.vocab_size,
        "tokens_per_step": tokens_per_step,
        "tokens_per_s": tps,
        "flops_per_token": flops_per_token,
        "achieved_gflops": tps * flops_per_token / 1e9,
        "fraction_of_matmul_peak": tps * flops_per_token / 1e9 / peak_gflops,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    repeat = 2 if args.quick else 10
    tcfg, mcfg = preset_configs("demo")
    model = TinyLm(replace(mcfg, vocab_size=2048), seed=0).eval()
    out = {
        "torch": torch.__version__,
        "threads": args.threads,
        "scan": bench_scan(2048, 256, repeat),
        "generation": bench_generation(model, 512, 16 if args.quick else 64),
    }
    peak = matmul_peak_gflops(repeat=3 if args.quick else 10)
    out["matmul_peak_gflops_float32"] = peak
    out["train"] = [
        bench_train("demo", 3 if args.quick else 20, peak),
        bench_train("default", 2 if args.quick else 5, peak),
    ]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
