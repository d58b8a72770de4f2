"""Train and encode byte-level BPE with fasttok and its peers, side by side, in one run.

    python benchmarks/bench_bpe.py ../shared/corpora/tinyshakespeare.txt --vocab-size 8192

Every (tool, task) runs in a fresh subprocess (so imports, caches and peak RSS are its own), `--runs`
times; the table shows the median seconds, MB/s, the peak RSS of the run, and fasttok's time divided
by the tool's (below 1: fasttok is faster). Tools that are not installed are listed as skipped.
Threads are pinned to `--threads` for every tool. Writes the table as JSON with `--json PATH`.
"""
import argparse
import json
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import tempfile
import time

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
SHARED = pathlib.Path(__file__).resolve().parents[1].parent / "shared"
GPT2_FILES = SHARED / "refs" / "gpt2"


def _lines(path):
    with open(path, encoding="utf-8") as f:
        yield from f


# -- workers: each returns (seconds, extra-info dict) ----------------------------------------------

def train_fasttok(corpus, vocab_size, threads):
    import fasttok
    start = time.perf_counter()
    tok = fasttok.train_bpe([pathlib.Path(corpus)], vocab_size=vocab_size, pattern="gpt2")
    return time.perf_counter() - start, {"version": fasttok.__version__, "vocab": tok.vocab_size}


def train_hf(corpus, vocab_size, threads):
    import tokenizers
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    start = time.perf_counter()
    tok.train([corpus], trainer)
    return time.perf_counter() - start, {"version": tokenizers.__version__, "vocab": tok.get_vocab_size()}


def train_sentencepiece(corpus, vocab_size, threads):
    import sentencepiece as spm
    with tempfile.TemporaryDirectory() as d:
        start = time.perf_counter()
        spm.SentencePieceTrainer.train(input=corpus, model_prefix=os.path.join(d, "m"), model_type="bpe",
                                       vocab_size=vocab_size, num_threads=threads, hard_vocab_limit=False,
                                       byte_fallback=True, minloglevel=2, max_sentence_length=1 << 20)
        seconds = time.perf_counter() - start
    return seconds, {"version": spm.__version__}


def train_rustbpe(corpus, vocab_size, threads):
    import rustbpe
    tok = rustbpe.Tokenizer()
    start = time.perf_counter()
    tok.train_from_iterator(_lines(corpus), vocab_size, pattern=GPT2_PATTERN)
    return time.perf_counter() - start, {"version": _version("rustbpe"), "vocab": tok.vocab_size}


def train_bpeasy(corpus, vocab_size, threads):
    import bpeasy
    start = time.perf_counter()
    vocab = bpeasy.train_bpe(_lines(corpus), GPT2_PATTERN, 128, vocab_size)
    return time.perf_counter() - start, {"version": _version("bpeasy"), "vocab": len(vocab)}


def train_youtokentome(corpus, vocab_size, threads):
    """youtokentome is character-level (no byte fallback); its vocab_size counts characters too."""
    import youtokentome as yttm
    with tempfile.TemporaryDirectory() as d:
        start = time.perf_counter()
        bpe = yttm.BPE.train(data=str(corpus), model=os.path.join(d, "m.yttm"), vocab_size=vocab_size,
                             n_threads=threads)
        seconds = time.perf_counter() - start
    return seconds, {"version": _version("youtokentome"), "vocab": bpe.vocab_size()}


def _gpt2_text(corpus):
    return pathlib.Path(corpus).read_text(encoding="utf-8")


def encode_fasttok(corpus, vocab_size, threads):
    import fasttok
    tok = fasttok.load_gpt2(GPT2_FILES / "encoder.json", GPT2_FILES / "vocab.bpe")
    text = _gpt2_text(corpus)
    start = time.perf_counter()
    ids = tok.encode_ordinary(text)
    return time.perf_counter() - start, {"version": fasttok.__version__, "tokens": len(ids)}


def gpt2_tiktoken():
    """tiktoken built from the same GPT-2 files as fasttok.load_gpt2, with the GPT-2 pattern."""
    import tiktoken
    from fasttok.tokenizer import CHAR_TO_BYTE
    encoder = json.loads((GPT2_FILES / "encoder.json").read_text(encoding="utf-8"))
    ranks = {bytes(CHAR_TO_BYTE[c] for c in t): i for t, i in encoder.items() if t != "<|endoftext|>"}
    return tiktoken.Encoding("gpt2-files", pat_str=GPT2_PATTERN, mergeable_ranks=ranks, special_tokens={})


def encode_tiktoken(corpus, vocab_size, threads):
    import tiktoken
    enc = gpt2_tiktoken()
    text = _gpt2_text(corpus)
    start = time.perf_counter()
    ids = enc.encode_ordinary(text)
    return time.perf_counter() - start, {"version": tiktoken.__version__, "tokens": len(ids)}


def encode_hf(corpus, vocab_size, threads):
    import tokenizers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    tok = Tokenizer(models.BPE.from_file(str(GPT2_FILES / "encoder.json"), str(GPT2_FILES / "vocab.bpe")))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    text = _gpt2_text(corpus)
    start = time.perf_counter()
    ids = tok.encode(text).ids
    return time.perf_counter() - start, {"version": tokenizers.__version__, "tokens": len(ids)}


def _version(dist):
    from importlib.metadata import version
    return version(dist)


WORKERS = {
    ("fasttok", "train"): train_fasttok,
    ("hf-tokenizers", "train"): train_hf,
    ("sentencepiece", "train"): train_sentencepiece,
    ("rustbpe", "train"): train_rustbpe,
    ("bpeasy", "train"): train_bpeasy,
    ("youtokentome", "train"): train_youtokentome,
    ("fasttok", "encode-gpt2"): encode_fasttok,
    ("tiktoken", "encode-gpt2"): encode_tiktoken,
    ("hf-tokenizers", "encode-gpt2"): encode_hf,
}


def run_worker(tool, task, corpus, vocab_size, threads):
    seconds, info = WORKERS[(tool, task)](corpus, vocab_size, threads)
    info["seconds"] = seconds
    info["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(info))


def thread_env(threads):
    env = dict(os.environ)
    for var in ("RAYON_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    env["TOKENIZERS_PARALLELISM"] = "true" if threads > 1 else "false"
    # Measure the fasttok of this checkout, not whatever copy is installed.
    root = str(pathlib.Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([root] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def measure(tool, task, corpus, vocab_size, threads, runs):
    samples = []
    for _ in range(runs):
        proc = subprocess.run([sys.executable, __file__, "--worker", tool, task, corpus, str(vocab_size), str(threads)],
                              capture_output=True, text=True, env=thread_env(threads))
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["?"])[-1]
            return {"tool": tool, "task": task, "skipped": last[:100]}
        samples.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    seconds = statistics.median(s["seconds"] for s in samples)
    return {"tool": tool, "task": task, "version": samples[0].get("version"), "seconds": seconds,
            "peak_mb": max(s["peak_mb"] for s in samples), "runs": runs,
            **{k: v for k, v in samples[0].items() if k in ("vocab", "tokens")}}


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        tool, task, corpus, vocab_size, threads = sys.argv[2:7]
        run_worker(tool, task, corpus, int(vocab_size), int(threads))
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("corpus")
    p.add_argument("--vocab-size", type=int, default=8192)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--tasks", default="train,encode-gpt2")
    p.add_argument("--json", default=None, help="also write the results here")
    args = p.parse_args()
    corpus = os.path.abspath(args.corpus)
    mb = os.path.getsize(corpus) / 1e6
    tasks = args.tasks.split(",")
    rows = []
    for tool, task in WORKERS:
        if task in tasks:
            rows.append(measure(tool, task, corpus, args.vocab_size, args.threads, args.runs))
            print(f"  done: {tool} {task}", file=sys.stderr, flush=True)
    ours = {r["task"]: r["seconds"] for r in rows if r["tool"] == "fasttok" and "seconds" in r}
    print(f"\ncorpus {os.path.basename(corpus)} ({mb:.2f} MB), vocab {args.vocab_size}, "
          f"{args.threads} thread(s), median of {args.runs}")
    print("| tool | version | task | seconds | MB/s | peak MB | fasttok / tool |")
    print("|---|---|---|---:|---:|---:|---:|")
    for r in rows:
        if "skipped" in r:
            print(f"| {r['tool']} | - | {r['task']} | skipped: {r['skipped']} | | | |")
            continue
        r["mb_per_s"] = mb / r["seconds"]
        r["ratio"] = ours[r["task"]] / r["seconds"] if r["task"] in ours else None
        ratio = f"{r['ratio']:.2f}" if r["ratio"] is not None else "-"
        print(f"| {r['tool']} | {r['version']} | {r['task']} | {r['seconds']:.3f} | {r['mb_per_s']:.2f} | "
              f"{r['peak_mb']:.0f} | {ratio} |")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps({"corpus": os.path.basename(corpus), "mb": mb,
                                                       "vocab_size": args.vocab_size, "threads": args.threads,
                                                       "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
