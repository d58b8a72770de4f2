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
threads  fasttok training and counting (`num_workers=`, when this fasttok's train_bpe / count_words
         have it) and encode_batch (`num_threads=`) with 1 and 2 threads.
peers    the training comparison of bench_bpe.py plus youtokentome (when it is installed).

As in bench_bpe.py (whose workers and helpers this reuses), every (tool, config) runs in a fresh
subprocess, --runs times, and the tables show medians; peak MB is the largest peak RSS of the runs.
Workers import fasttok from this checkout (PYTHONPATH is set to it), not from an installed copy.
"""
import argparse
import hashlib
import inspect
import json
import os
import pathlib
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from bench_bpe import GPT2_FILES, SHARED, gpt2_tiktoken, thread_env  # noqa: E402
from bench_bpe import WORKERS as BPE_WORKERS  # noqa: E402
from make_corpus import write_atomic  # noqa: E402

TINY_SHAKESPEARE = SHARED / "corpora" / "tinyshakespeare.txt"


# -- workers: each runs in its own subprocess and returns a dict with "seconds" ------------------

def _cpu_seconds():
    """User + system CPU of this process and its finished children (num_workers= processes)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


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


def train_fasttok(corpus, vocab_size, num_workers=None, save=None):
    fasttok, setup = _warm_up_fasttok()
    options = {} if num_workers is None else {"num_workers": num_workers}
    start, cpu = time.perf_counter(), _cpu_seconds()
    tok = fasttok.train_bpe(pathlib.Path(corpus), vocab_size=vocab_size, pattern="gpt2", **options)
    seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    if save:
        tok.save(save)
    return {"seconds": seconds, "cpu_seconds": cpu, "setup_seconds": setup, "version": fasttok.__version__,
            "vocab": tok.vocab_size, "merges": _digest(tok.merges)}


def count_fasttok(corpus, num_workers=None):
    """fasttok.count_words alone: the part of training that reads the whole corpus."""
    fasttok, setup = _warm_up_fasttok()
    options = {} if num_workers is None else {"num_workers": num_workers}
    start, cpu = time.perf_counter(), _cpu_seconds()
    counts = fasttok.count_words(pathlib.Path(corpus), pattern="gpt2", **options)
    seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    return {"seconds": seconds, "cpu_seconds": cpu, "setup_seconds": setup, "version": fasttok.__version__,
            "distinct": len(counts), "total": counts.total()}


def train_peer(tool, corpus, vocab_size, threads):
    fn = BPE_WORKERS[(tool, "train")]
    seconds, info = fn(corpus, vocab_size, threads)
    return {"seconds": seconds, **info}


def make_long_text(kind, n):
    """n characters of one long piece: "repeat" is "a" * n, "letters" is n random a-z (seed 0), no spaces."""
    if kind == "repeat":
        return "a" * n
    import numpy as np
    rng = np.random.default_rng(0)
    return rng.integers(ord("a"), ord("z") + 1, size=n, dtype=np.uint8).tobytes().decode("ascii")  # (n,)


def encode_long(tool, kind, n, model=None, min_seconds=0.3):
    """Seconds per encode_ordinary call on one long piece; small inputs are repeated for a stable figure."""
    if tool == "tiktoken-gpt2":
        import tiktoken
        encode, version = gpt2_tiktoken().encode_ordinary, tiktoken.__version__
    else:
        import fasttok
        tok = fasttok.load(model) if tool == "fasttok-trained" else fasttok.load_gpt2(
            GPT2_FILES / "encoder.json", GPT2_FILES / "vocab.bpe")
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


def encode_batch_fasttok(corpus, threads):
    import fasttok
    tok = fasttok.load_gpt2(GPT2_FILES / "encoder.json", GPT2_FILES / "vocab.bpe")
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


WORKERS = {f.__name__: f for f in (train_fasttok, count_fasttok, train_peer, encode_long, encode_batch_fasttok,
                                   api_parameters)}


def run_worker(name, kwargs):
    cpu = _cpu_seconds()
    info = WORKERS[name](**kwargs)
    # The machine may be shared: CPU seconds are less disturbed by other jobs than wall seconds.
    # This covers the whole worker call (with its loading and warm-up) unless the worker measured it.
    info.setdefault("cpu_seconds", _cpu_seconds() - cpu)
    info["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # worker processes (num_workers=) are not in RUSAGE_SELF: report the largest of them too
    info["children_peak_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps(info))


# -- the driver ------------------------------------------------------------------------------------

def worker_env(threads):
    env = thread_env(threads)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def measure(name, kwargs, *, runs, threads=1, timeout=None):
    """Median over `runs` fresh subprocesses. A failure gives {"skipped": reason}, a timeout {"timeout": s}."""
    samples = []
    for _ in range(runs):
        cmd = [sys.executable, __file__, "--worker", name, json.dumps(kwargs)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, env=worker_env(threads), timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"timeout": timeout}
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["?"])[-1]
            return {"skipped": last[:120]}
        samples.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    out = {k: v for k, v in samples[0].items() if k not in ("seconds", "cpu_seconds", "peak_mb", "children_peak_mb")}
    out.update(seconds=statistics.median(s["seconds"] for s in samples), runs=runs,
               cpu_seconds=statistics.median(s["cpu_seconds"] for s in samples),
               samples=[s["seconds"] for s in samples], peak_mb=max(s["peak_mb"] for s in samples),
               children_peak_mb=max(s["children_peak_mb"] for s in samples))
    return out


def progress(*words):
    print("  done:", *words, file=sys.stderr, flush=True)


def cell(row, fmt, key="seconds"):
    if "timeout" in row:
        return f"> {row['timeout']:g} s (stopped)"
    if "skipped" in row:
        return row["skipped"] if row["skipped"].startswith("not ") else f"skipped: {row['skipped']}"
    return fmt.format(row[key])


def concatenate(src, dst, copies):
    with open(dst, "wb") as out:
        for _ in range(copies):
            with open(src, "rb") as f:
                shutil.copyfileobj(f, out, 1 << 22)


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
                if task == "train_bpe":
                    r = measure("train_fasttok", {"corpus": path, "vocab_size": args.vocab_size}, runs=args.runs)
                else:
                    r = measure("count_fasttok", {"corpus": path}, runs=args.runs)
                rows.append({"tool": "fasttok", "task": task, "copies": copies, "mb": mb * copies, **r})
                progress("fasttok", task, f"x{copies}")
    print(f"\nfasttok train_bpe(Path, vocab_size={args.vocab_size}, pattern='gpt2') and count_words(Path), "
          f"1 thread, median of {args.runs}; corpus {os.path.basename(corpus)} ({mb:.2f} MB)")
    print("| task | corpus | MB | seconds | MB/s | CPU s | peak MB | time / x1 | CPU / x1 | peak / x1 | result |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        base = next(t for t in rows if t["task"] == r["task"] and t["copies"] == 1)
        if "seconds" not in r:
            print(f"| {r['task']} | x{r['copies']} | {r['mb']:.1f} | {cell(r, '')} | | | | | | | |")
            continue
        if "seconds" not in base:
            ratios, same = "| - | - | - |", "-"
        else:
            r["time_ratio"] = r["seconds"] / base["seconds"]
            r["cpu_ratio"] = r["cpu_seconds"] / base["cpu_seconds"]
            r["peak_ratio"] = r["peak_mb"] / base["peak_mb"]
            ratios = f"| {r['time_ratio']:.2f} | {r['cpu_ratio']:.2f} | {r['peak_ratio']:.2f} |"
            if r["task"] == "count_words":
                same = f"{r['distinct']:,} distinct of {r['total']:,}"
            else:
                same = "-" if r is base else ("same merges as x1" if r["merges"] == base["merges"] else "DIFFERENT")
        print(f"| {r['task']} | x{r['copies']} | {r['mb']:.1f} | {r['seconds']:.2f} | {r['mb'] / r['seconds']:.2f} | "
              f"{r['cpu_seconds']:.2f} | {r['peak_mb']:.0f} {ratios} {same} |")
    return {"corpus": os.path.basename(corpus), "mb": mb, "vocab_size": args.vocab_size, "rows": rows}


LINEAR_TOOLS = ("fasttok-gpt2", "fasttok-trained", "tiktoken-gpt2")


def cmd_linear(args):
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(dir=args.tmpdir) as d:
        model = os.path.join(d, "trained.fasttok")
        r = measure("train_fasttok", {"corpus": str(args.train_corpus), "vocab_size": args.vocab_size,
                                      "save": model}, runs=1)
        if "seconds" not in r:
            raise SystemExit(f"training the fasttok tokenizer failed: {r}")
        progress("trained", os.path.basename(str(args.train_corpus)))
        for kind in ("repeat", "letters"):
            for tool in LINEAR_TOOLS:
                stopped = False
                for n in sizes:
                    if stopped:
                        r = {"skipped": "not run: a smaller n was stopped"}
                    else:
                        r = measure("encode_long", {"tool": tool, "kind": kind, "n": n, "model": model},
                                    runs=args.runs, timeout=args.timeout)
                        stopped = "timeout" in r
                    rows.append({"kind": kind, "tool": tool, "n": n, **r})
                    progress(kind, tool, n)
    print(f"\nencode_ordinary on one long piece, 1 thread, median of {args.runs} (a call under "
          f"0.3 s is repeated and averaged within the run); fasttok-trained: vocab {args.vocab_size} from "
          f"{os.path.basename(str(args.train_corpus))}; stopped after {args.timeout:g} s per run")
    print("| input | tool | n bytes | seconds | ns/byte | CPU ns/byte | per-byte / smallest n | tokens "
          "| ids = tiktoken |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    first = {}
    for r in rows:
        label = '"a" * n' if r["kind"] == "repeat" else "random a-z"
        if "seconds" not in r:
            print(f"| {label} | {r['tool']} | {r['n']:,} | {cell(r, '')} | | | | | |")
            continue
        r["ns_per_byte"] = r["seconds"] / r["n"] * 1e9
        first.setdefault((r["kind"], r["tool"]), r["ns_per_byte"])
        r["vs_smallest"] = r["ns_per_byte"] / first[(r["kind"], r["tool"])]
        ref = next((t for t in rows if t["tool"] == "tiktoken-gpt2" and t["kind"] == r["kind"]
                    and t["n"] == r["n"] and "ids" in t), None)
        same = "-" if r["tool"] != "fasttok-gpt2" or ref is None else ("yes" if ref["ids"] == r["ids"] else "NO")
        print(f"| {label} | {r['tool']} | {r['n']:,} | {r['seconds']:.4g} | {r['ns_per_byte']:.1f} | "
              f"{r['cpu_seconds'] / r['n'] * 1e9:.1f} | "
              f"{r['vs_smallest']:.2f} | {r['tokens']:,} | {same} |")
    return {"sizes": sizes, "vocab_size": args.vocab_size, "train_corpus": os.path.basename(str(args.train_corpus)),
            "timeout": args.timeout, "rows": rows}


def cmd_threads(args):
    corpus = os.path.abspath(args.corpus)
    mb = os.path.getsize(corpus) / 1e6
    params = measure("api_parameters", {}, runs=1)
    rows = []
    for task, worker, options in (("train_bpe", "train_fasttok", {"vocab_size": args.vocab_size}),
                                  ("count_words", "count_fasttok", {})):
        for threads in (1, 2):
            if "num_workers" in params.get(task, ()):
                r = measure(worker, {"corpus": corpus, "num_workers": threads, **options}, runs=args.runs,
                            threads=threads)
            else:
                r = {"skipped": f"not available: this fasttok's {task} has no num_workers="}
            rows.append({"task": task, "option": f"num_workers={threads}", "threads": threads, **r})
            progress(task, threads)
    for threads in (1, 2):
        r = measure("encode_batch_fasttok", {"corpus": corpus, "threads": threads}, runs=args.runs, threads=threads)
        rows.append({"task": "encode_batch (GPT-2 files)", "option": f"num_threads={threads}", "threads": threads, **r})
        progress("encode_batch", threads)
    print(f"\nfasttok with 1 and 2 threads, corpus {os.path.basename(corpus)} ({mb:.2f} MB), "
          f"vocab {args.vocab_size}, median of {args.runs}; encode_batch on documents of ~4 KB")
    print("| task | option | seconds | MB/s | CPU s | peak MB | speed-up vs 1 | same output |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for r in rows:
        if "seconds" not in r:
            print(f"| {r['task']} | {r['option']} | {cell(r, '')} | | | | | |")
            continue
        one = next(t for t in rows if t["task"] == r["task"] and t["threads"] == 1)
        r["speedup"] = one["seconds"] / r["seconds"] if "seconds" in one else None
        key = next(k for k in ("merges", "ids", "distinct") if k in r)
        same = "-" if r is one else ("yes" if one.get(key) == r[key] else "NO")
        peak = max(r["peak_mb"], r["children_peak_mb"])
        speedup = f"{r['speedup']:.2f}" if r["speedup"] is not None else "-"
        print(f"| {r['task']} | {r['option']} | {r['seconds']:.2f} | {mb / r['seconds']:.2f} | "
              f"{r['cpu_seconds']:.2f} | {peak:.0f} | "
              f"{speedup} | {same} |")
    return {"corpus": os.path.basename(corpus), "mb": mb, "vocab_size": args.vocab_size,
            "parameters": params, "rows": rows}


def cmd_peers(args):
    corpus = os.path.abspath(args.corpus)
    mb = os.path.getsize(corpus) / 1e6
    tools = [tool for tool, task in BPE_WORKERS if task == "train"]
    rows = []
    for tool in tools:
        r = measure("train_peer", {"tool": tool, "corpus": corpus, "vocab_size": args.vocab_size,
                                   "threads": args.threads}, runs=args.runs, threads=args.threads)
        rows.append({"tool": tool, **r})
        progress(tool)
    ours, ours_cpu = rows[0].get("seconds"), rows[0].get("cpu_seconds")
    print(f"\ntraining, corpus {os.path.basename(corpus)} ({mb:.2f} MB), vocab {args.vocab_size}, "
          f"{args.threads} thread(s), median of {args.runs}")
    print("| tool | version | seconds | MB/s | CPU s | peak MB | fasttok / tool | (by CPU s) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        if "seconds" not in r:
            print(f"| {r['tool']} | - | {cell(r, '')} | | | | | |")
            continue
        r["ratio"] = ours / r["seconds"] if ours else None
        r["cpu_ratio"] = ours_cpu / r["cpu_seconds"] if ours_cpu else None
        ratio = f"{r['ratio']:.2f}" if r["ratio"] is not None else "-"
        cpu_ratio = f"{r['cpu_ratio']:.2f}" if r["cpu_ratio"] is not None else "-"
        print(f"| {r['tool']} | {r.get('version')} | {r['seconds']:.2f} | {mb / r['seconds']:.2f} | "
              f"{r['cpu_seconds']:.2f} | {r['peak_mb']:.0f} | {ratio} | {cpu_ratio} |")
    return {"corpus": os.path.basename(corpus), "mb": mb, "vocab_size": args.vocab_size,
            "threads": args.threads, "rows": rows}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        run_worker(argv[1], json.loads(argv[2]))
        return 0
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--runs", type=int, default=3, help="fresh subprocesses per config (median; default 3)")
    common.add_argument("--vocab-size", type=int, default=8192)
    common.add_argument("--json", default=None, help="also write the results here")
    common.add_argument("--tmpdir", default=None, help="where temporary corpora and models go")
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
    s.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    if args.runs < 1:
        p.error("--runs must be at least 1")
    result = {"cmd_stream": cmd_stream, "cmd_linear": cmd_linear, "cmd_threads": cmd_threads,
              "cmd_peers": cmd_peers}["cmd_" + args.command](args)
    if args.json:
        result.update(command=args.command, argv=argv)
        write_atomic(args.json, (json.dumps(result, indent=2) + "\n").encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
