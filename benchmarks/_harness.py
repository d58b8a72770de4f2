"""The one runner every benchmark script uses: fresh subprocesses, pinned threads, peak RSS, medians,
one table format, one ratio convention, JSON output.

A benchmark script defines *workers*: module-level functions that take JSON-able keyword arguments,
do their untimed setup, time the part being measured themselves and return a dict with at least
"seconds" (plus anything else worth reporting: "version", "tokens", ...). The driver asks for a row:

    row = measure(__file__, "train_hf", {"corpus": path}, runs=3, threads=1,
                  row={"tool": "hf-tokenizers", "task": "train"})

which runs `python _harness.py --child SCRIPT WORKER KWARGS OUT` `runs` times, each a fresh process, so
imports, caches, thread pools and the peak RSS belong to that one run. The row is `row` plus
"status" ("ok", "skipped", "failed", "timeout"), the median of every float the worker returned
(so "seconds" is the median), "peak_mb" (the largest peak of the runs), "runs" and "samples" (each
run's own result). An ImportError anywhere in the child (the tool is not installed) gives a
"skipped" row with the reason; any other exception, a crash or a non-zero exit gives a "failed" row:
a benchmark run always finishes with a table.

The ratio convention, the same in every table: speed-up = their time / our time, so above 1 means
fasttok (or lm) is faster; a memory ratio, where one is shown, is their peak / our peak.

This module imports only the standard library: the child's peak RSS and import time are the tool's.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
# The drivers import fasttok/lm from this checkout too (correctness checks, model training), not
# whatever copy happens to be installed; the children get the same through PYTHONPATH.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CONVENTION = ("speed-up = their time / our time (above 1: fasttok/lm is faster); "
              "peak MB = peak RSS of the run's own process, interpreter included")

# Every thread-count knob of the libraries the benchmarks load (BLAS, OpenMP, Rust's rayon, numexpr,
# Apple's Accelerate, HF tokenizers): a tool must not use more cores than the --threads it is given.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "RAYON_NUM_THREADS", "RAYON_RS_NUM_CPUS")
# These pin OpenBLAS to a given kernel or cache size; when left over from another job they can make
# it pick a slow kernel, so the children never inherit them.
DROPPED_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

REFS_VARIABLE = "FASTTOK_REFS"  # the same variable the test suite reads (tests/conftest.py)
GPT2_FILES = ("encoder.json", "vocab.bpe")


# -- paths to the reference files ------------------------------------------------------------------

def refs_dir(name: str) -> pathlib.Path:
    """A folder of published reference files: $FASTTOK_REFS/name, else ../shared/refs/name beside the clone."""
    base = os.environ.get(REFS_VARIABLE)
    return pathlib.Path(base) / name if base else ROOT.parent / "shared" / "refs" / name


def default_gpt2_dir() -> pathlib.Path:
    return refs_dir("gpt2")


def gpt2_missing(gpt2_dir) -> str | None:
    """Why the GPT-2 files cannot be used from gpt2_dir, or None when both are there."""
    absent = [f for f in GPT2_FILES if not (pathlib.Path(gpt2_dir) / f).is_file()]
    if not absent:
        return None
    return (f"GPT-2 files not found: {', '.join(absent)} in {gpt2_dir} "
            f"(give --gpt2-dir, or set ${REFS_VARIABLE})")


def shared_corpus(name: str) -> pathlib.Path:
    """A corpus from ../shared/corpora beside the clone (tinyshakespeare.txt)."""
    return ROOT.parent / "shared" / "corpora" / name


# -- command-line options every script shares ------------------------------------------------------

def add_common_arguments(parser, *, runs=3, threads=1, many_threads=False, gpt2=False):
    """--runs, --threads (one count, or several with many_threads), --json [PATH], and --gpt2-dir."""
    parser.add_argument("--runs", type=int, default=runs,
                        help=f"fresh subprocesses per (tool, task); the table shows the median (default {runs})")
    if many_threads:
        parser.add_argument("--threads", type=int, nargs="+", default=threads,
                            help="thread counts to run, each pinned for every tool")
    else:
        parser.add_argument("--threads", type=int, default=threads,
                            help=f"threads every tool may use (pinned through the environment; default {threads})")
    # nargs="?": a bare --json prints the JSON as the last line of the output, as bench_gpt.py always did
    parser.add_argument("--json", nargs="?", const="-", default=None, metavar="PATH",
                        help="also write the results as JSON to PATH (bare --json or '-': the last line printed)")
    if gpt2:
        parser.add_argument("--gpt2-dir", type=pathlib.Path, default=default_gpt2_dir(),
                            help=f"folder with GPT-2's encoder.json and vocab.bpe "
                                 f"(default ${REFS_VARIABLE}/gpt2, else ../shared/refs/gpt2 beside the clone)")
    return parser


def check_common_arguments(parser, args):
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    threads = args.threads if isinstance(args.threads, list) else [args.threads]
    if any(t < 1 for t in threads):
        parser.error("--threads must be at least 1")


# -- the child side --------------------------------------------------------------------------------

def cpu_seconds():
    """User + system CPU of this process and of its finished children (worker processes of num_workers=)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _maxrss_mb(usage) -> float:
    # Linux reports kilobytes, macOS bytes
    return usage.ru_maxrss / (1 << 20 if sys.platform == "darwin" else 1 << 10)


def _load_script(path):
    spec = importlib.util.spec_from_file_location("_bench_script", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _child(script, worker, kwargs_json, out_path):
    """Run one worker once and write {"status": ..., ...} to out_path."""
    cpu = cpu_seconds()
    try:
        fn = getattr(_load_script(script), worker)
        result = fn(**json.loads(kwargs_json))
        if not isinstance(result, dict) or not isinstance(result.get("seconds"), (int, float)):
            raise TypeError(f"worker {worker} returned {type(result).__name__}, not a dict with 'seconds'")
        payload = {"status": "ok", **result}
        payload["seconds"] = float(payload["seconds"])
        # CPU seconds are less disturbed than wall seconds on a shared machine; this covers the whole
        # worker call (imports and setup included) unless the worker measured its own.
        payload.setdefault("cpu_seconds", cpu_seconds() - cpu)
        payload["self_peak_mb"] = _maxrss_mb(resource.getrusage(resource.RUSAGE_SELF))
    except ImportError as e:  # the tool (or something it needs) is not installed
        payload = {"status": "skipped", "reason": f"{type(e).__name__}: {e}"}
    except Exception as e:
        payload = {"status": "failed", "reason": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(payload, f)


# -- the parent side -------------------------------------------------------------------------------

def thread_env(threads: int, base=None) -> dict:
    """The environment of a child: thread counts pinned, this checkout first on PYTHONPATH."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if k not in DROPPED_VARIABLES}
    for var in THREAD_VARIABLES:
        env[var] = str(threads)
    env["TOKENIZERS_PARALLELISM"] = "true" if threads > 1 else "false"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def _tail(text, n=300):
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][-n:] if lines else ""


def run_once(script, worker, kwargs=None, *, threads=1, timeout=None) -> dict:
    """One fresh child running worker(**kwargs): its result, with "peak_mb" measured by the parent.

    The peak comes from wait4() on this very child, so it is the child's own (Linux takes the larger
    of the child's and its reaped descendants'), whatever earlier children did; RUSAGE_CHILDREN would
    only ever report the largest child so far.
    """
    with tempfile.TemporaryDirectory(prefix="bench-") as d:
        out, log = os.path.join(d, "result.json"), os.path.join(d, "output.txt")
        cmd = [sys.executable, str(HERE / "_harness.py"), "--child", str(script), worker,
               json.dumps(kwargs or {}), out]
        with open(log, "w+", encoding="utf-8", errors="replace") as log_file:
            start = time.perf_counter()
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                                    env=thread_env(threads))
            killed = threading.Event()

            def kill():
                killed.set()
                proc.kill()

            timer = threading.Timer(timeout, kill) if timeout else None
            if timer:
                timer.start()
            try:
                _, status, usage = os.wait4(proc.pid, 0)
            finally:
                if timer:
                    timer.cancel()
            proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait again
            wall = time.perf_counter() - start
            log_file.seek(0)
            output = log_file.read()
        if killed.is_set():
            return {"status": "timeout", "reason": f"stopped after {timeout:g} s"}
        result = None
        if os.path.exists(out):
            with open(out, encoding="utf-8") as f:
                result = json.load(f)
    if result is None:
        why = f"exit code {proc.returncode}" if proc.returncode >= 0 else f"killed by signal {-proc.returncode}"
        return {"status": "failed", "reason": f"{why}: {_tail(output)}".rstrip(": "), "output": output[-4000:]}
    if result["status"] == "ok" and proc.returncode != 0:
        return {"status": "failed", "reason": f"exit code {proc.returncode} after the worker returned"}
    if result["status"] == "ok":
        result["peak_mb"] = _maxrss_mb(usage)
        result["process_seconds"] = wall
    return result


def median(values):
    """The median of a non-empty sequence of numbers (the middle one, or the mean of the middle two)."""
    values = list(values)
    if not values:
        raise ValueError("median of no values")
    return statistics.median(values)


def summarize(samples: list[dict]) -> dict:
    """One row from the runs' results: medians of the floats, the largest peak, the rest from run 1."""
    out = {k: v for k, v in samples[0].items() if k != "status"}
    for key, value in samples[0].items():
        if isinstance(value, float) and all(isinstance(s.get(key), float) for s in samples):
            out[key] = median(s[key] for s in samples)
    for key in ("peak_mb", "self_peak_mb"):
        if key in out:
            out[key] = max(s[key] for s in samples)  # a peak is a worst case, not a typical value
    return {"status": "ok", **out}


def measure(script, worker, kwargs=None, *, runs=3, threads=1, timeout=None, row=None, quiet=False) -> dict:
    """`runs` fresh children of worker(**kwargs) summed up as one table row (see the module docstring).

    The first run that does not succeed ends the row: a missing tool is missing every time."""
    samples = []
    for _ in range(runs):
        result = run_once(script, worker, kwargs, threads=threads, timeout=timeout)
        if result["status"] != "ok":
            out = {**(row or {}), **result, "runs": len(samples) + 1}
            break
        samples.append(result)
    else:
        out = {**(row or {}), **summarize(samples), "runs": runs, "samples": samples}
    out.setdefault("threads", threads)
    if not quiet:
        label = " ".join(str(v) for v in (row or {}).values()) or worker
        note = "" if out["status"] == "ok" else f" ({out['status']}: {out['reason']})"
        print(f"  done: {label}{note}", file=sys.stderr, flush=True)
    return out


def measure_interleaved(jobs, *, runs=3, quiet=False) -> list[dict]:
    """Like measure() for several jobs, but run in turns (job 1, job 2, ..., job 1, job 2, ...), so that a
    change in the machine's load hits every job alike. A job is a dict of measure()'s arguments:
    script, worker, and optionally kwargs, threads, timeout, row."""
    samples = [[] for _ in jobs]
    failed = [None] * len(jobs)
    for _ in range(runs):
        for i, job in enumerate(jobs):
            if failed[i] is None:
                result = run_once(job["script"], job["worker"], job.get("kwargs"), threads=job.get("threads", 1),
                                  timeout=job.get("timeout"))
                if result["status"] == "ok":
                    samples[i].append(result)
                else:
                    failed[i] = {**result, "runs": len(samples[i]) + 1}
    out = []
    for job, done, bad in zip(jobs, samples, failed):
        row = {**job.get("row", {}), **(bad or {**summarize(done), "runs": runs, "samples": done})}
        row.setdefault("threads", job.get("threads", 1))
        if not quiet:
            label = " ".join(str(v) for v in job.get("row", {}).values()) or job["worker"]
            note = "" if row["status"] == "ok" else f" ({row['status']}: {row['reason']})"
            print(f"  done: {label}{note}", file=sys.stderr, flush=True)
        out.append(row)
    return out


def not_run(row: dict, reason: str, status="skipped") -> dict:
    """A row that was never run (its reference files are absent, a smaller size timed out, ...)."""
    return {**row, "status": status, "reason": reason, "runs": 0}


def ok(row) -> bool:
    return row.get("status") == "ok"


# -- the ratio convention --------------------------------------------------------------------------

def speedup(our_seconds, their_seconds):
    """their time / our time: above 1, ours is faster. None when either is missing or zero."""
    if not our_seconds or not their_seconds:
        return None
    return their_seconds / our_seconds


def memory_ratio(our_peak, their_peak):
    """their peak / our peak: above 1, ours needs less memory."""
    if not our_peak or not their_peak:
        return None
    return their_peak / our_peak


def add_speedups(rows, is_ours, by=("task",), key="seconds"):
    """Set "speedup" (and "memory_ratio") on every measured row against our row of the same group.

    is_ours(row) says which row is ours; `by` names the keys that make a group (same task, corpus...)."""
    groups = {}
    for r in rows:
        if ok(r) and is_ours(r):
            groups[tuple(r.get(k) for k in by)] = r
    for r in rows:
        ours = groups.get(tuple(r.get(k) for k in by))
        if ok(r) and ours is not None:
            r["speedup"] = speedup(ours.get(key), r.get(key))
            r["memory_ratio"] = memory_ratio(ours.get("peak_mb"), r.get("peak_mb"))
    return rows


# -- printing --------------------------------------------------------------------------------------

def load_note() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (5 min: {five:.1f}) on {os.cpu_count()} CPUs"


def _cell(value, fmt):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if callable(fmt):
        return fmt(value)
    return fmt.format(value) if fmt else str(value)


def _unmeasured(row) -> str:
    return f"{row.get('status')}: {row.get('reason', '')}"


def format_table(columns, rows, *, title=None, convention=True, notes=(), unmeasured=_unmeasured) -> str:
    """A markdown table. columns: (header, key or function of the row, format) with format None for
    the row's identity columns (tool, task, ...) and a format string or function for measured values.
    A row that was not measured shows unmeasured(row), by default its status and reason, in the first
    measured column."""
    lines = []
    if title:
        lines.append(title)
    if convention:
        lines.append(f"({CONVENTION}; {load_note()})")
    lines.extend(notes)
    lines.append("| " + " | ".join(c[0] for c in columns) + " |")
    lines.append("|" + "|".join("---" if c[2] is None else "---:" for c in columns) + "|")
    for r in rows:
        cells, said = [], ok(r)
        for header, key, fmt in columns:
            if fmt is None or ok(r):
                value = key(r) if callable(key) else r.get(key)
                cells.append(_cell(value, fmt))
            elif not said:
                cells.append(unmeasured(r).replace("|", "/"))
                said = True
            else:
                cells.append("")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def print_table(columns, rows, **kwargs):
    print("\n" + format_table(columns, rows, **kwargs), flush=True)


# -- JSON ------------------------------------------------------------------------------------------

def write_atomic(path, data: bytes):
    """Write a file whole or not at all (a temporary file beside it, then a rename)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; results are plain shared files
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def results(**data) -> dict:
    """The JSON document of a run: the convention, the command, the machine, then the script's data."""
    return {"convention": CONVENTION, "argv": sys.argv, "python": sys.version.split()[0],
            "cpus": os.cpu_count(), "load_average": list(os.getloadavg()), **data}


def write_json(path, payload: dict):
    """PATH: write there; '-': print as one line (the last line of the output)."""
    if path is None:
        return
    text = json.dumps(payload, default=str)
    if str(path) == "-":
        print(text, flush=True)
    else:
        write_atomic(path, (json.dumps(payload, indent=2, default=str) + "\n").encode("utf-8"))


def read_json(path) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"] and len(sys.argv) == 6:
        _child(*sys.argv[2:6])
    else:
        sys.exit(argparse.ArgumentParser(description=__doc__.split("\n")[0]).format_usage().strip()
                 + "\n(_harness.py is run by the benchmark scripts as `--child SCRIPT WORKER KWARGS OUT`)")
