"""One GPT training step (forward + backward + clip + AdamW): lm's numpy GPT vs torch CPU.

    python benchmarks/bench_gpt.py [--steps 30] [--warmup 5] [--rounds 2] [--threads 1 2] [--json [PATH]]

Tiny GPT: 2 layers, d_model 128, 4 heads, context 64, vocab 512, batch 32, float32, same initial weights
and batches on both sides. Each (implementation, thread count) runs in a fresh subprocess
(benchmarks/_harness.py) whose thread variables are set before numpy/torch load (threadpoolctl is used
too when installed). The subprocess environment drops OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, which can
pin OpenBLAS to a slow kernel; the BLAS kernel that actually ran is printed. numpy and torch
subprocesses alternate for ``--rounds`` (= --runs) rounds, so a change in machine load hits both sides
alike; the median is over the timed steps of all rounds. Prints medians and the speed-up, torch's
time / numpy's (above 1: lm's numpy GPT is faster); torch not installed: its rows are skipped. With a
bare --json the last line is the JSON, {"results": [{"impl", "threads", "median_ms"}, ...], ...};
--json PATH writes it to PATH.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness  # noqa: E402

ROOT = _harness.ROOT
CFG = dict(vocab_size=512, block_size=64, n_layer=2, n_head=4, d_model=128)
BATCH = 32
LR, WD, CLIP = 3e-4, 0.1, 1.0


def blas_info() -> str:
    try:
        import threadpoolctl

        infos = threadpoolctl.threadpool_info()
        return "; ".join(f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')} "
                         f"threads={i.get('num_threads')}" for i in infos)
    except ImportError:
        pass
    import ctypes

    import numpy as np

    cfg = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    name = f"{cfg.get('name')} {cfg.get('version')}"
    # ask the loaded OpenBLAS which core kernel it picked (what threadpoolctl would report)
    with open("/proc/self/maps") as f:
        libs = {line.split()[-1] for line in f if "openblas" in line.lower() and line.strip().endswith(".so")}
    for lib in sorted(libs):
        handle = ctypes.CDLL(lib)
        for sym in ("scipy_openblas_get_corename64_", "openblas_get_corename64_", "openblas_get_corename"):
            fn = getattr(handle, sym, None)
            if fn is not None:
                fn.restype = ctypes.c_char_p
                return f"{name} core={fn().decode()}"
    return name


def batches(n: int):
    import numpy as np

    rng = np.random.default_rng(0)
    return [(rng.integers(0, CFG["vocab_size"], (BATCH, CFG["block_size"])),
             rng.integers(0, CFG["vocab_size"], (BATCH, CFG["block_size"]))) for _ in range(n)]


def numpy_steps(n: int, data):
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from lm.nn.gpt import GPT, GPTConfig
    from lm.optim import AdamW, clip_grad_norm

    model = GPT(GPTConfig(**CFG), rng=np.random.default_rng(0))
    params = model.parameters()
    opt = AdamW(params, lr=LR, weight_decay=WD)
    times = []
    for i in range(n):
        x, y = data[i % len(data)]
        t0 = time.perf_counter()
        model.zero_grad()
        _, loss = model.forward(x, y)
        model.backward()
        clip_grad_norm(params, CLIP)
        opt.step()
        times.append(time.perf_counter() - t0)
    return times, model


def torch_steps(n: int, data):
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as TF

    sys.path.insert(0, str(ROOT))
    from lm.nn.gpt import GPT, GPTConfig

    ours = GPT(GPTConfig(**CFG), rng=np.random.default_rng(0))
    c, h = CFG["d_model"], CFG["n_head"]

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(c), nn.LayerNorm(c)
            self.qkv, self.proj = nn.Linear(c, 3 * c), nn.Linear(c, c)
            self.fc, self.fc_proj = nn.Linear(c, 4 * c), nn.Linear(4 * c, c)

        def forward(self, x):
            b, t, _ = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
            q, k, v = (z.view(b, t, h, c // h).transpose(1, 2) for z in (q, k, v))
            y = TF.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(b, t, c)
            x = x + self.proj(y)
            return x + self.fc_proj(TF.gelu(self.fc(self.ln2(x)), approximate="tanh"))

    class TorchGPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(CFG["vocab_size"], c)
            self.wpe = nn.Embedding(CFG["block_size"], c)
            self.blocks = nn.ModuleList([Block() for _ in range(CFG["n_layer"])])
            self.ln_f = nn.LayerNorm(c)

        def forward(self, idx, targets):
            x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
            for blk in self.blocks:
                x = blk(x)
            logits = self.ln_f(x) @ self.wte.weight.T
            return TF.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))

    model = TorchGPT()
    names = {"mlp.fc": "fc", "mlp.proj": "fc_proj", "attn.qkv": "qkv", "attn.proj": "proj"}
    with torch.no_grad():
        tp = dict(model.named_parameters())
        for name, p in ours.named_parameters():
            tname = name
            for a, b in names.items():
                tname = tname.replace(a, b)
            value = torch.from_numpy(p.data.T.copy() if p.data.ndim == 2 and "wte" not in name
                                     and "wpe" not in name else p.data.copy())
            tp[tname].copy_(value)
    decay = [p for n, p in model.named_parameters() if p.ndim == 2 and "wte" not in n and "wpe" not in n]
    rest = [p for n, p in model.named_parameters() if not (p.ndim == 2 and "wte" not in n and "wpe" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WD}, {"params": rest, "weight_decay": 0.0}],
                            lr=LR, foreach=True)
    tdata = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in data]
    times = []
    for i in range(n):
        x, y = tdata[i % len(tdata)]
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        opt.step()
        times.append(time.perf_counter() - t0)
    return times, model


def worker(impl: str, threads: int, steps: int, warmup: int) -> dict:
    """Run in a fresh process by _harness: warmup + steps training steps, the per-step times of the last."""
    try:
        import threadpoolctl

        threadpoolctl.threadpool_limits(threads)
    except ImportError:
        pass  # the harness already set the thread variables for this subprocess
    data = batches(8)
    if impl == "torch":
        import torch

        torch.set_num_threads(threads)
        times, _ = torch_steps(warmup + steps, data)
        blas = f"torch {torch.__version__} threads={torch.get_num_threads()}"
    else:
        times, _ = numpy_steps(warmup + steps, data)
        blas = blas_info()
    timed = times[warmup:]
    return {"seconds": _harness.median(timed), "times_ms": [t * 1e3 for t in timed], "blas": blas}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=30, help="timed steps per configuration (median)")
    ap.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    ap.add_argument("--impl", nargs="+", default=["numpy", "torch"], choices=["numpy", "torch"])
    _harness.add_common_arguments(ap, runs=2, threads=[1, 2], many_threads=True)
    ap.add_argument("--rounds", dest="runs", type=int, default=argparse.SUPPRESS,
                    help="alternating numpy/torch rounds per thread count (the same as --runs)")
    args = ap.parse_args(argv)
    _harness.check_common_arguments(ap, args)

    print(f"{_harness.load_note()} at start", flush=True)
    rows = []
    for threads in args.threads:
        jobs = [{"script": __file__, "worker": "worker", "threads": threads, "row": {"impl": impl, "threads": threads},
                 "kwargs": {"impl": impl, "threads": threads, "steps": args.steps, "warmup": args.warmup}}
                for impl in args.impl]
        for r in _harness.measure_interleaved(jobs, runs=args.runs):
            if _harness.ok(r):
                steps = [t for sample in r["samples"] for t in sample["times_ms"]]
                r["median_ms"] = _harness.median(steps)  # over the timed steps of all rounds
                print(f"{r['impl']:6s} threads={threads}  median {r['median_ms']:7.1f} ms over {len(steps)} steps  "
                      f"[{r['blas']}]", flush=True)
            rows.append(r)
    table = []
    for threads in args.threads:
        pair = {r["impl"]: r for r in rows if r["threads"] == threads}
        row = {"threads": threads, "status": "ok"}
        for impl in ("numpy", "torch"):
            r = pair.get(impl, _harness.not_run({}, "not asked for (--impl)"))
            row[f"{impl}_ms"] = r.get("median_ms")
            if not _harness.ok(r):
                row["note"] = f"{impl} {r['status']}: {r['reason']}"
        row["speedup"] = _harness.speedup(row["numpy_ms"], row["torch_ms"])  # torch's time / numpy's
        table.append(row)
    _harness.print_table([("threads", "threads", None), ("numpy ms", "numpy_ms", "{:.1f}"),
                          ("torch ms", "torch_ms", "{:.1f}"), ("speed-up (torch / numpy)", "speedup", "{:.2f}"),
                          ("note", "note", None)], table,
                         notes=[f"(median step time over {args.runs} alternating rounds of {args.steps} steps)"])
    results = [{"impl": r["impl"], "threads": r["threads"], "median_ms": r["median_ms"]} for r in rows
               if _harness.ok(r)]
    _harness.write_json(args.json, _harness.results(results=results, table=table, rows=rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
