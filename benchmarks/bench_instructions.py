"""Instruction counts (valgrind's callgrind) of fasttok's calls, for before/after comparisons that a
loaded machine cannot spoil.

Wall time on a shared 2-core machine moves by tens of percent with the load; callgrind counts the
instructions one call executes, which is the same on every run of the same interpreter, inputs and
hash seed (PYTHONHASHSEED is fixed here). Each (interpreter, op) is one process: it loads the
tokenizer, runs the op once untimed (so caches and imports are warm), then counts exactly one more
run of the op, switched on and off around it through callgrind's client requests (a tiny C library
built on the fly from valgrind's own header, called through ctypes).

    python benchmarks/bench_instructions.py --python before=/path/to/old/venv/bin/python \\
        --python after=/path/to/new/venv/bin/python

Without --python, the interpreter running the script is measured alone. The columns give
instructions per unit (per call, per line, per byte) for each interpreter, and the ratio
first / last (above 1: the last one executes fewer instructions). Needs valgrind, a C compiler and
valgrind's headers (Debian: valgrind); a missing piece is said in one line.
"""
from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import _harness

# op: (what it counts, units) — the units divide the count into a per-unit figure.
OPS = {
    "gpt2_short": ("GPT-2 encode('Hello world'), 2000 calls", "call", 2000),
    "gpt2_lines": ("GPT-2 encode, one corpus line per call, 2000 lines", "line", 2000),
    "gpt2_doc": ("GPT-2 encode of 300,000 characters in one call", "char", 300_000),
    "gpt2_batch": ("GPT-2 encode_batch of 2000 lines, 1 thread", "line", 2000),
    "gpt2_decode": ("GPT-2 decode of 8 ids, 2000 calls", "call", 2000),
    "bert_short": ("BERT encode('Hello world'), 2000 calls", "call", 2000),
    "bert_lines": ("BERT encode, one corpus line per call, 2000 lines", "line", 2000),
    "bert_doc": ("BERT encode of 300,000 characters in one call", "char", 300_000),
    "bert_batch": ("BERT encode_batch of 2000 lines, 1 thread", "line", 2000),
    "train_bpe": ("train_bpe(300,000 characters, vocab_size=1000)", "char", 300_000),
    "train_wordpiece": ("train_wordpiece(300,000 characters, vocab_size=1000)", "char", 300_000),
}

TOGGLE_C = r"""
#include <valgrind/callgrind.h>
void cg_start(void) { CALLGRIND_ZERO_STATS; CALLGRIND_TOGGLE_COLLECT; }
void cg_stop(void) { CALLGRIND_TOGGLE_COLLECT; CALLGRIND_DUMP_STATS; }
"""


def child(op, n, corpus, gpt2_dir, bert_dir, toggle_lib):
    """Runs inside callgrind: set up, warm up, then count one run of `op`."""
    # _harness puts this checkout first on sys.path for its drivers; a child measures the fasttok its
    # own interpreter imports, or every column would measure this checkout.
    while str(_harness.ROOT) in sys.path:
        sys.path.remove(str(_harness.ROOT))
    import fasttok
    import warnings
    warnings.simplefilter("ignore")  # an early-stop TrainingWarning is not what is measured
    text = pathlib.Path(corpus).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip()][:n]
    if op.startswith("gpt2"):
        tok = fasttok.load_gpt2(pathlib.Path(gpt2_dir) / "encoder.json", pathlib.Path(gpt2_dir) / "vocab.bpe")
    elif op.startswith("bert"):
        tok = fasttok.load_bert_vocab(pathlib.Path(bert_dir) / "vocab.txt", lowercase=True)
    ops = {
        "short": lambda: [tok.encode("Hello world") for _ in range(n)],
        "lines": lambda: [tok.encode(line) for line in lines],
        "doc": lambda: tok.encode(text[:n]),
        "batch": lambda: tok.encode_batch(lines, num_threads=1),
        "decode": lambda: [tok.decode([15496, 11, 703, 389, 345, 1909, 30, 0]) for _ in range(n)],
        "train_bpe": lambda: fasttok.train_bpe(text[:n], vocab_size=1000),
        "train_wordpiece": lambda: fasttok.train_wordpiece(text[:n], vocab_size=1000),
    }
    run = ops[op] if op in ops else ops[op.split("_", 1)[1]]
    run()
    gc.collect()
    gc.disable()  # a collection inside the counted run would be the previous runs' garbage
    lib = ctypes.CDLL(toggle_lib)
    lib.cg_start()
    run()
    lib.cg_stop()


def build_toggle(directory) -> str | None:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None or shutil.which("valgrind") is None:
        return None
    src = pathlib.Path(directory) / "toggle.c"
    src.write_text(TOGGLE_C)
    lib = pathlib.Path(directory) / "libtoggle.so"
    done = subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", str(lib), str(src)], capture_output=True, text=True)
    return str(lib) if done.returncode == 0 else None


def count(python, op, args, lib, directory) -> int:
    """Instructions of one run of `op` under `python`."""
    out = pathlib.Path(directory) / f"cg.{os.getpid()}.{op}"
    env = dict(os.environ, PYTHONHASHSEED="0")
    for stale in pathlib.Path(directory).glob(out.name + "*"):
        stale.unlink()
    cmd = ["valgrind", "--tool=callgrind", "--collect-atstart=no", f"--callgrind-out-file={out}", python,
           __file__, "--child", json.dumps([op, OPS[op][2], args.corpus, str(args.gpt2_dir), str(args.bert_dir), lib])]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=directory)
    if done.returncode != 0:  # the child's own last line, not valgrind's summary ("==pid== ...")
        said = [line for line in done.stderr.splitlines() if line.strip() and not line.startswith("==")]
        raise RuntimeError(said[-1] if said else f"exit status {done.returncode}")
    total = 0
    for part in pathlib.Path(directory).glob(out.name + "*"):
        for line in part.read_text().splitlines():
            if line.startswith("summary:"):
                total += int(line.split()[1])
    return total


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(*json.loads(sys.argv[2]))
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--python", action="append", default=[], metavar="LABEL=PATH",
                   help="an interpreter to measure (its fasttok is the one it imports); repeatable")
    p.add_argument("--ops", nargs="*", choices=sorted(OPS), default=list(OPS))
    p.add_argument("--corpus", default=str(_harness.shared_corpus("tinyshakespeare.txt")))
    p.add_argument("--gpt2-dir", type=pathlib.Path, default=_harness.default_gpt2_dir())
    p.add_argument("--bert-dir", type=pathlib.Path, default=_harness.refs_dir("bert-uncased"))
    p.add_argument("--json", nargs="?", const="-", default=None, metavar="PATH")
    args = p.parse_args()
    pythons = [tuple(spec.split("=", 1)) for spec in args.python] or [("this", sys.executable)]
    sources = []
    for label, python in pythons:  # which fasttok each interpreter measures (imported as the child does)
        where = subprocess.run([python, "-c", "import fasttok; print(fasttok.__file__)"], capture_output=True,
                               text=True, cwd=tempfile.gettempdir())
        sources.append(f"{label}: {where.stdout.strip() or where.stderr.strip().splitlines()[-1]}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="fasttok-cg-") as directory:
        lib = build_toggle(directory)
        if lib is None:
            print("bench_instructions: needs valgrind, a C compiler and valgrind/callgrind.h", file=sys.stderr)
            return 1
        for op in args.ops:
            what, unit, n = OPS[op]
            row = {"op": op, "what": what, "unit": unit, "status": "ok"}
            try:
                for label, python in pythons:
                    row[label] = count(python, op, args, lib, directory) / n
            except RuntimeError as exc:
                row.update(status="failed", reason=str(exc))
            if len(pythons) > 1 and row["status"] == "ok":
                row["ratio"] = row[pythons[0][0]] / row[pythons[-1][0]]
            rows.append(row)
            print(f"{op}: " + ", ".join(f"{label} {row.get(label, float('nan')):,.1f}" for label, _ in pythons),
                  file=sys.stderr, flush=True)
    columns = [("op", "what", None), ("unit", "unit", None)]
    columns += [(f"{label}: instructions / unit", label, "{:,.1f}") for label, _ in pythons]
    if len(pythons) > 1:
        columns.append((f"{pythons[0][0]} / {pythons[-1][0]}", "ratio", "{:.3f}"))
    _harness.print_table(columns, rows, convention=False, notes=[f"({'; '.join(sources)})"],
                         title="instructions per unit (callgrind, PYTHONHASHSEED=0; the same on every run)")
    _harness.write_json(args.json, _harness.results(rows=rows, pythons=dict(pythons)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
