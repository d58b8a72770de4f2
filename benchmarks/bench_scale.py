"""How fasttok scales: with corpus size (memory), with input length (linearity), with threads.

    python benchmarks/make_corpus.py                                   # benchmarks/out/corpus50.txt
    python benchmarks/bench_scale.py stream benchmarks/out/corpus50.txt --json benchmarks/out/stream.json
    python benchmarks/bench_scale.py linear --json benchmarks/out/linear.json
    python benchmarks/bench_scale.py threads benchmarks/out/corpus50.txt --json benchmarks/out/threads.json
    python benchmarks/bench_scale.py peers benchmarks/out/corpus50.txt --json benchmarks/out/peers.json

stream   trains fasttok (vocab 8192, from a file Path) on CORPUS and on CORPUS concatenated --copies
         times (a temp file), and times count_words alone on both: peak RSS should stay nearly flat,
         counting time should grow about --copies times (merge learning depends on the distinct
         pre-tokens, not on the corpus size), and the merges must be the same (every count is
         scaled by the same factor). One-off setup (import, Unicode tables) is kept out of the time.
linear   encodes one long piece -- "a" * n, and n random letters without spaces -- for n from 10 KB
         to 10 MB with the GPT-2 files and with a fasttok-trained tokenizer; tiktoken (GPT-2 ranks)
         runs on the same inputs for reference. Time per byte should be flat. A config that takes
         longer than --timeout seconds is stopped and the larger sizes of that row are not tried.
threads  fasttok training and counting (`num_threads=`, or `num_workers=` in older fasttoks, when train_bpe / count_words
         have it) and encode_batch (`num_threads=`) with 1 and 2 threads.
peers    the training comparison of bench_bpe.py (youtokentome included, when it is installed), with
         the speed-up by wall and by CPU seconds: the tool's time / fasttok's (above 1: fasttok is faster).

As in bench_bpe.py (whose workers this reuses), every (tool, config) runs in a fresh subprocess
(benchmarks/_harness.py), --runs times, and the tables show medians; peak MB is the largest peak RSS of
the runs (of the worker process and of any processes it started). Workers import fasttok from this
checkout (PYTHONPATH is set to it), not from an installed copy. The GPT-2 files (linear, threads) come
from --gpt2-dir (default $FASTTOK_REFS/gpt2, else ../shared/refs/gpt2); rows that need them are skipped
when they are absent. The "time / x1", "per-byte / smallest n" and "speed-up vs 1" columns compare
fasttok with itself.
"""
import argparse
import hashlib
import inspect
import json
import os
import pathlib
import shutil
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _harness  # noqa: E402
from bench_bpe import WORKERS as BPE_WORKERS  # noqa: E402
from bench_bpe import gpt2_tiktoken  # noqa: E402

TINY_SHAKESPEARE = _harness.shared_corpus("tinyshakespeare.txt")
BENCH_BPE = HERE / "bench_bpe.py"


# -- workers: each runs in its own subprocess and returns a dict with "seconds" ------------------

_cpu_seconds = _harness.cpu_seconds  # user + system CPU of the process and its finished children


def _digest(ids):
    """A short fingerprint of an id sequence (or of merges), to check two runs agree without shipping them."""
    import numpy as np
    return hashlib.sha256(np.asarray(ids, dtype=np.int64).tobytes()).hexdigest()[:16]


def _warm_up_fasttok():
    """Import fasttok and build its one-off tables (Unicode classes) so the timed call scales with the data."""
    import fasttok
    start = time.perf_counter()
    if hasattr(fasttok, "count_words"):
        fasttok.count_words("warm up: 1 table")
    return fasttok, time.perf_counter() - start


def train_fasttok(corpus, vocab_size, threads=None, keyword="num_threads", save=None):
    fasttok, setup = _warm_up_fasttok()
    options = {} if threads is None else {keyword: threads}
    start, cpu = time.perf_counter(), _cpu_seconds()
    tok = fasttok.train_bpe(pathlib.Path(corpus), vocab_size=vocab_size, pattern="gpt2", **options)
    seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    if save:
        tok.save(save)
    return {"seconds": seconds, "cpu_seconds": cpu, "setup_seconds": setup, "version": fasttok.__version__,
            "vocab": tok.vocab_size, "merges": _digest(tok.merges)}


def count_fasttok(corpus, threads=None, keyword="num_threads"):
    """fasttok.count_words alone: the part of training that reads the whole corpus."""
    fasttok, setup = _warm_up_fasttok()
    options = {} if threads is None else {keyword: threads}
    start, cpu = time.perf_counter(), _cpu_seconds()
    counts = fasttok.count_words(pathlib.Path(corpus), pattern="gpt2", **options)
    seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    return {"seconds": seconds, "cpu_seconds": cpu, "setup_seconds": setup, "version": fasttok.__version__,
            "distinct": len(counts), "total": counts.total()}


def make_long_text(kind, n):
    """n characters of one long piece: "repeat" is "a" * n, "letters" is n random a-z (seed 0), no spaces."""
    if kind == "repeat":
        return "a" * n
    import numpy as np
    rng = np.random.default_rng(0)
    return rng.integers(ord("a"), ord("z") + 1, size=n, dtype=np.uint8).tobytes().decode("ascii")  # (n,)


def encode_long(tool, kind, n, gpt2_dir, model=None, min_seconds=0.3):
    """Seconds per encode_ordinary call on one long piece; small inputs are repeated for a stable figure."""
    if tool == "tiktoken-gpt2":
        import tiktoken
        encode, version = gpt2_tiktoken(gpt2_dir).encode_ordinary, tiktoken.__version__
    else:
        import fasttok
        gpt2_dir = pathlib.Path(gpt2_dir)
        tok = fasttok.load(model) if tool == "fasttok-trained" else fasttok.load_gpt2(
            gpt2_dir / "encoder.json", gpt2_dir / "vocab.bpe")
        encode, version = tok.encode_ordinary, fasttok.__version__
    text = make_long_text(kind, n)
    encode("warm up: tables and caches built on first use")
    calls, start, cpu = 0, time.perf_counter(), time.process_time()
    while True:
        ids = encode(text)
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            break
    cpu = time.process_time() - cpu  # all threads of this process
    return {"seconds": elapsed / calls, "cpu_seconds": cpu / calls, "calls": calls, "version": version,
            "tokens": len(ids), "ids": _digest(ids)}


def _documents(corpus, size=4096):
    """The corpus cut at line ends into documents of about `size` characters."""
    docs, current, length = [], [], 0
    with open(corpus, encoding="utf-8") as f:
        for line in f:
            current.append(line)
            length += len(line)
            if length >= size:
                docs.append("".join(current))
                current, length = [], 0
    if current:
        docs.append("".join(current))
    return docs


def encode_batch_fasttok(corpus, threads, gpt2_dir):
    import fasttok
    gpt2_dir = pathlib.Path(gpt2_dir)
    tok = fasttok.load_gpt2(gpt2_dir / "encoder.json", gpt2_dir / "vocab.bpe")
    docs = _documents(corpus)
    tok.encode_batch(docs[:8], num_threads=threads)
    start, cpu = time.perf_counter(), _cpu_seconds()
    out = tok.encode_batch(docs, num_threads=threads)
    seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    digest = hashlib.sha256()
    for ids in out:  # one document at a time: a flat copy of all ids would inflate the peak RSS
        digest.update(json.dumps(ids).encode("ascii"))
    return {"seconds": seconds, "cpu_seconds": cpu, "version": fasttok.__version__, "docs": len(docs),
            "tokens": sum(map(len, out)), "ids": digest.hexdigest()[:16]}


def api_parameters():
    """The keyword names of this fasttok's train_bpe and count_words (absent: count_words is missing)."""
    import fasttok
    out = {"seconds": 0.0, "train_bpe": list(inspect.signature(fasttok.train_bpe).parameters)}
    if hasattr(fasttok, "count_words"):
        out["count_words"] = list(inspect.signature(fasttok.count_words).parameters)
    return out


# -- the driver ------------------------------------------------------------------------------------

def measure(worker, kwargs, *, runs, threads=1, timeout=None, script=__file__, row=None):
    """Median over `runs` fresh subprocesses (benchmarks/_harness.py); status "ok", "skipped", "failed"
    or "timeout" (stopped after `timeout` seconds)."""
    return _harness.measure(script, worker, kwargs, runs=runs, threads=threads, timeout=timeout, row=row,
                            quiet=True)


def progress(*words):
    print("  done:", *words, file=sys.stderr, flush=True)


def cell(row):
    """The text for a row that was not measured."""
    if row["status"] == "timeout":
        return f"> {row['reason'].split()[-2]} s (stopped)"
    if row["status"] == "skipped" and row["reason"].startswith("not "):
        return row["reason"]
    return f"{row['status']}: {row['reason']}".replace("|", "/")


def ok(row):
    return _harness.ok(row)


def concatenate(src, dst, copies):
    with open(dst, "wb") as out:
        for _ in range(copies):
            with open(src, "rb") as f:
                shutil.copyfileobj(f, out, 1 << 22)


def table(columns, rows, title, **kwargs):
    _harness.print_table(columns, rows, title=title, unmeasured=cell, **kwargs)


def cmd_stream(args):
    corpus = os.path.abspath(args.corpus)
    mb = os.path.getsize(corpus) / 1e6
    rows = []
    with tempfile.TemporaryDirectory(dir=args.tmpdir) as d:
        big = os.path.join(d, f"x{args.copies}-{os.path.basename(corpus)}")
        concatenate(corpus, big, args.copies)
        has_count = "count_words" in measure("api_parameters", {}, runs=1)
        for task in ("train_bpe", "count_words") if has_count else ("train_bpe",):
            for copies, path in ((1, corpus), (args.copies, big)):
                row = {"tool": "fasttok", "task": task, "copies": copies, "mb": mb * copies,
                       "label": f"x{copies}", "mb_label": f"{mb * copies:.1f}"}
                if task == "train_bpe":
                    r = measure("train_fasttok", {"corpus": path, "vocab_size": args.vocab_size}, runs=args.runs,
                                threads=args.threads, row=row)
                else:
                    r = measure("count_fasttok", {"corpus": path}, runs=args.runs, threads=args.threads, row=row)
                rows.append(r)
                progress("fasttok", task, f"x{copies}")
    for r in rows:
        base = next(t for t in rows if t["task"] == r["task"] and t["copies"] == 1)
        if not ok(r):
            continue
        r["mb_per_s"] = r["mb"] / r["seconds"]
        if not ok(base):
            continue
        # growth against the x1 corpus: fasttok against itself, not a speed-up
        r["time_ratio"] = r["seconds"] / base["seconds"]
        r["cpu_ratio"] = r["cpu_seconds"] / base["cpu_seconds"]
        r["peak_ratio"] = r["peak_mb"] / base["peak_mb"]
        if r["task"] == "count_words":
            r["result"] = f"{r['distinct']:,} distinct of {r['total']:,}"
        else:
            r["result"] = "-" if r is base else ("same merges as x1" if r["merges"] == base["merges"] else "DIFFERENT")
    table([("task", "task", None), ("corpus", "label", None), ("MB", "mb_label", None),
           ("seconds", "seconds", "{:.2f}"), ("MB/s", "mb_per_s", "{:.2f}"), ("CPU s", "cpu_seconds", "{:.2f}"),
           ("peak MB", "peak_mb", "{:.0f}"), ("time / x1", "time_ratio", "{:.2f}"), ("CPU / x1", "cpu_ratio", "{:.2f}"),
           ("peak / x1", "peak_ratio", "{:.2f}"), ("result", "result", "{}")], rows,
          f"\nfasttok train_bpe(Path, vocab_size={args.vocab_size}, pattern='gpt2') and count_words(Path), "
          f"{args.threads} thread(s), median of {args.runs}; corpus {os.path.basename(corpus)} ({mb:.2f} MB)",
          notes=["(time / x1, CPU / x1, peak / x1: the xN corpus against the x1 corpus, fasttok against itself)"])
    return {"corpus": os.path.basename(corpus), "mb": mb, "vocab_size": args.vocab_size, "rows": rows}


LINEAR_TOOLS = ("fasttok-gpt2", "fasttok-trained", "tiktoken-gpt2")


def cmd_linear(args):
    sizes = [int(s) for s in args.sizes.split(",")]
    no_gpt2 = _harness.gpt2_missing(args.gpt2_dir)
    rows = []
    with tempfile.TemporaryDirectory(dir=args.tmpdir) as d:
        model = os.path.join(d, "trained.fasttok")
        r = measure("train_fasttok", {"corpus": str(args.train_corpus), "vocab_size": args.vocab_size,
                                      "save": model}, runs=1)
        if not ok(r):
            raise SystemExit(f"training the fasttok tokenizer failed: {r}")
        progress("trained", os.path.basename(str(args.train_corpus)))
        for kind in ("repeat", "letters"):
            for tool in LINEAR_TOOLS:
                stopped = False
                for n in sizes:
                    row = {"kind": kind, "tool": tool, "n": n,
                           "label": '"a" * n' if kind == "repeat" else "random a-z", "n_label": f"{n:,}"}
                    if no_gpt2 and tool != "fasttok-trained":
                        r = _harness.not_run(row, no_gpt2)
                    elif stopped:
                        r = _harness.not_run(row, "not run: a smaller n was stopped")
                    else:
                        r = measure("encode_long", {"tool": tool, "kind": kind, "n": n, "model": model,
                                                    "gpt2_dir": str(args.gpt2_dir)},
                                    runs=args.runs, threads=args.threads, timeout=args.timeout, row=row)
                        stopped = r["status"] == "timeout"
                    rows.append(r)
                    progress(kind, tool, n)
    first = {}
    for r in rows:
        if not ok(r):
            continue
        r["ns_per_byte"] = r["seconds"] / r["n"] * 1e9
        r["cpu_ns_per_byte"] = r["cpu_seconds"] / r["n"] * 1e9
        first.setdefault((r["kind"], r["tool"]), r["ns_per_byte"])
        r["vs_smallest"] = r["ns_per_byte"] / first[(r["kind"], r["tool"])]
        ref = next((t for t in rows if t["tool"] == "tiktoken-gpt2" and t["kind"] == r["kind"]
                    and t["n"] == r["n"] and ok(t)), None)
        r["same"] = "-" if r["tool"] != "fasttok-gpt2" or ref is None else ("yes" if ref["ids"] == r["ids"] else "NO")
    table([("input", "label", None), ("tool", "tool", None), ("n bytes", "n_label", None),
           ("seconds", "seconds", "{:.4g}"), ("ns/byte", "ns_per_byte", "{:.1f}"),
           ("CPU ns/byte", "cpu_ns_per_byte", "{:.1f}"), ("per-byte / smallest n", "vs_smallest", "{:.2f}"),
           ("tokens", "tokens", "{:,}"), ("ids = tiktoken", "same", "{}")], rows,
          f"\nencode_ordinary on one long piece, {args.threads} thread(s), median of {args.runs} (a call under "
          f"0.3 s is repeated and averaged within the run); fasttok-trained: vocab {args.vocab_size} from "
          f"{os.path.basename(str(args.train_corpus))}; stopped after {args.timeout:g} s per run",
          notes=["(per-byte / smallest n: each tool against itself at the smallest n; above 1: slower per byte)"])
    return {"sizes": sizes, "vocab_size": args.vocab_size, "train_corpus": os.path.basename(str(args.train_corpus)),
            "timeout": args.timeout, "rows": rows}


def cmd_threads(args):
    corpus = os.path.abspath(args.corpus)
    mb = os.path.getsize(corpus) / 1e6
    params = measure("api_parameters", {}, runs=1)
    no_gpt2 = _harness.gpt2_missing(args.gpt2_dir)
    rows = []
    for task, worker, options in (("train_bpe", "train_fasttok", {"vocab_size": args.vocab_size}),
                                  ("count_words", "count_fasttok", {})):
        for threads in (1, 2):
            # num_threads, or num_workers in a fasttok from before the rename
            keyword = next((k for k in ("num_threads", "num_workers") if k in params.get(task, ())), None)
            row = {"task": task, "option": f"{keyword or 'num_threads'}={threads}", "threads": threads}
            if keyword:
                r = measure(worker, {"corpus": corpus, "threads": threads, "keyword": keyword, **options},
                            runs=args.runs, threads=threads, row=row)
            else:
                r = _harness.not_run(row, f"not available: this fasttok's {task} has no num_threads=")
            rows.append(r)
            progress(task, threads)
    for threads in (1, 2):
        row = {"task": "encode_batch (GPT-2 files)", "option": f"num_threads={threads}", "threads": threads}
        if no_gpt2:
            r = _harness.not_run(row, no_gpt2)
        else:
            r = measure("encode_batch_fasttok", {"corpus": corpus, "threads": threads, "gpt2_dir": str(args.gpt2_dir)},
                        runs=args.runs, threads=threads, row=row)
        rows.append(r)
        progress("encode_batch", threads)
    for r in rows:
        if not ok(r):
            continue
        one = next(t for t in rows if t["task"] == r["task"] and t["threads"] == 1)
        r["mb_per_s"] = mb / r["seconds"]
        # the 1-thread run's time / this run's: the same direction as every speed-up (above 1: faster)
        r["speedup"] = _harness.speedup(r["seconds"], one["seconds"]) if ok(one) else None
        key = next(k for k in ("merges", "ids", "distinct") if k in r)
        r["same"] = "-" if r is one else ("yes" if one.get(key) == r[key] else "NO")
    table([("task", "task", None), ("option", "option", None), ("seconds", "seconds", "{:.2f}"),
           ("MB/s", "mb_per_s", "{:.2f}"), ("CPU s", "cpu_seconds", "{:.2f}"), ("peak MB", "peak_mb", "{:.0f}"),
           ("speed-up vs 1", "speedup", "{:.2f}"), ("same output", "same", "{}")], rows,
          f"\nfasttok with 1 and 2 threads, corpus {os.path.basename(corpus)} ({mb:.2f} MB), "
          f"vocab {args.vocab_size}, median of {args.runs}; encode_batch on documents of ~4 KB",
          notes=["(speed-up vs 1 = the 1-thread time / this time; peak MB includes the worker processes)"])
    return {"corpus": os.path.basename(corpus), "mb": mb, "vocab_size": args.vocab_size,
            "parameters": params, "rows": rows}


def cmd_peers(args):
    corpus = os.path.abspath(args.corpus)
    mb = os.path.getsize(corpus) / 1e6
    rows = []
    for (tool, task), worker in BPE_WORKERS.items():
        if task != "train":
            continue
        rows.append(measure(worker, {"corpus": corpus, "vocab_size": args.vocab_size, "threads": args.threads},
                            runs=args.runs, threads=args.threads, script=BENCH_BPE, row={"tool": tool}))
        progress(tool)
    _harness.add_speedups(rows, lambda r: r["tool"] == "fasttok", by=(), key="cpu_seconds")
    for r in rows:
        if ok(r):
            r["cpu_speedup"] = r.pop("speedup")
    _harness.add_speedups(rows, lambda r: r["tool"] == "fasttok", by=())
    for r in rows:
        if ok(r):
            r["mb_per_s"] = mb / r["seconds"]
    table([("tool", "tool", None), ("version", "version", None), ("seconds", "seconds", "{:.2f}"),
           ("MB/s", "mb_per_s", "{:.2f}"), ("CPU s", "cpu_seconds", "{:.2f}"), ("peak MB", "peak_mb", "{:.0f}"),
           ("speed-up", "speedup", "{:.2f}"), ("(by CPU s)", "cpu_speedup", "{:.2f}")], rows,
          f"\ntraining, corpus {os.path.basename(corpus)} ({mb:.2f} MB), vocab {args.vocab_size}, "
          f"{args.threads} thread(s), median of {args.runs}")
    return {"corpus": os.path.basename(corpus), "mb": mb, "vocab_size": args.vocab_size,
            "threads": args.threads, "rows": rows}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--vocab-size", type=int, default=8192)
    common.add_argument("--tmpdir", default=None, help="where temporary corpora and models go")
    _harness.add_common_arguments(common, gpt2=True)
    s = sub.add_parser("stream", parents=[common], help="peak RSS and time: corpus vs corpus x --copies")
    s.add_argument("corpus")
    s.add_argument("--copies", type=int, default=10)
    s = sub.add_parser("linear", parents=[common], help="encoding time per byte of one long piece")
    s.add_argument("--sizes", default="10000,100000,1000000,10000000")
    s.add_argument("--timeout", type=float, default=60.0, help="seconds per run before a config is stopped")
    s.add_argument("--train-corpus", default=str(TINY_SHAKESPEARE), help="corpus for the fasttok-trained tokenizer")
    s = sub.add_parser("threads", parents=[common], help="training and encode_batch with 1 and 2 threads")
    s.add_argument("corpus")
    s = sub.add_parser("peers", parents=[common], help="bench_bpe.py's training comparison plus youtokentome")
    s.add_argument("corpus")
    args = p.parse_args(argv)
    _harness.check_common_arguments(p, args)
    result = {"cmd_stream": cmd_stream, "cmd_linear": cmd_linear, "cmd_threads": cmd_threads,
              "cmd_peers": cmd_peers}["cmd_" + args.command](args)
    _harness.write_json(args.json, _harness.results(command=args.command, **result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
