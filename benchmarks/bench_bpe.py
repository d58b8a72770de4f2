"""Train and encode byte-level BPE with fasttok and its peers, side by side, in one run.

    python benchmarks/bench_bpe.py ../shared/corpora/tinyshakespeare.txt --vocab-size 8192

Every (tool, task) runs in a fresh subprocess (benchmarks/_harness.py: imports, caches and peak RSS
are its own), `--runs` times; the table shows the median seconds, MB/s, the largest peak RSS of the
runs, and the speed-up: the tool's time / fasttok's (above 1: fasttok is faster). Tools that are not
installed are listed as skipped. Threads are pinned to `--threads` for every tool. The encode-gpt2
rows read GPT-2's encoder.json and vocab.bpe from `--gpt2-dir` (default $FASTTOK_REFS/gpt2, else
../shared/refs/gpt2 beside the clone) and are skipped when those are absent. `--json PATH` writes the
rows as JSON.
"""
import argparse
import json
import os
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _harness  # noqa: E402

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def _lines(path):
    with open(path, encoding="utf-8") as f:
        yield from f


def _version(dist):
    from importlib.metadata import version
    return version(dist)


# -- workers: each runs in a fresh process (see _harness) and returns {"seconds": ..., ...} -----------

def train_fasttok(corpus, vocab_size, threads):
    import fasttok
    start = time.perf_counter()
    tok = fasttok.train_bpe([pathlib.Path(corpus)], vocab_size=vocab_size, pattern="gpt2")
    return {"seconds": time.perf_counter() - start, "version": fasttok.__version__, "vocab": tok.vocab_size}


def train_hf(corpus, vocab_size, threads):
    import tokenizers
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    start = time.perf_counter()
    tok.train([corpus], trainer)
    return {"seconds": time.perf_counter() - start, "version": tokenizers.__version__,
            "vocab": tok.get_vocab_size()}


def train_sentencepiece(corpus, vocab_size, threads):
    import sentencepiece as spm
    with tempfile.TemporaryDirectory() as d:
        start = time.perf_counter()
        spm.SentencePieceTrainer.train(input=corpus, model_prefix=os.path.join(d, "m"), model_type="bpe",
                                       vocab_size=vocab_size, num_threads=threads, hard_vocab_limit=False,
                                       byte_fallback=True, minloglevel=2, max_sentence_length=1 << 20)
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "version": spm.__version__}


def train_rustbpe(corpus, vocab_size, threads):
    import rustbpe
    tok = rustbpe.Tokenizer()
    start = time.perf_counter()
    tok.train_from_iterator(_lines(corpus), vocab_size, pattern=GPT2_PATTERN)
    return {"seconds": time.perf_counter() - start, "version": _version("rustbpe"), "vocab": tok.vocab_size}


def train_bpeasy(corpus, vocab_size, threads):
    import bpeasy
    start = time.perf_counter()
    vocab = bpeasy.train_bpe(_lines(corpus), GPT2_PATTERN, 128, vocab_size)
    return {"seconds": time.perf_counter() - start, "version": _version("bpeasy"), "vocab": len(vocab)}


def train_youtokentome(corpus, vocab_size, threads):
    """youtokentome is character-level (no byte fallback); its vocab_size counts characters too."""
    import youtokentome as yttm
    with tempfile.TemporaryDirectory() as d:
        start = time.perf_counter()
        bpe = yttm.BPE.train(data=str(corpus), model=os.path.join(d, "m.yttm"), vocab_size=vocab_size,
                             n_threads=threads)
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "version": _version("youtokentome"), "vocab": bpe.vocab_size()}


def _text(corpus):
    return pathlib.Path(corpus).read_text(encoding="utf-8")


def encode_fasttok(corpus, gpt2_dir):
    import fasttok
    gpt2_dir = pathlib.Path(gpt2_dir)
    tok = fasttok.load_gpt2(gpt2_dir / "encoder.json", gpt2_dir / "vocab.bpe")
    text = _text(corpus)
    start = time.perf_counter()
    ids = tok.encode_ordinary(text)
    return {"seconds": time.perf_counter() - start, "version": fasttok.__version__, "tokens": len(ids)}


def gpt2_tiktoken(gpt2_dir):
    """tiktoken built from the same GPT-2 files as fasttok.load_gpt2, with the GPT-2 pattern."""
    import tiktoken
    from fasttok.bpe import CHAR_TO_BYTE
    encoder = json.loads((pathlib.Path(gpt2_dir) / "encoder.json").read_text(encoding="utf-8"))
    ranks = {bytes(CHAR_TO_BYTE[c] for c in t): i for t, i in encoder.items() if t != "<|endoftext|>"}
    return tiktoken.Encoding("gpt2-files", pat_str=GPT2_PATTERN, mergeable_ranks=ranks, special_tokens={})


def encode_tiktoken(corpus, gpt2_dir):
    import tiktoken
    enc = gpt2_tiktoken(gpt2_dir)
    text = _text(corpus)
    start = time.perf_counter()
    ids = enc.encode_ordinary(text)
    return {"seconds": time.perf_counter() - start, "version": tiktoken.__version__, "tokens": len(ids)}


def encode_hf(corpus, gpt2_dir):
    import tokenizers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    gpt2_dir = pathlib.Path(gpt2_dir)
    tok = Tokenizer(models.BPE.from_file(str(gpt2_dir / "encoder.json"), str(gpt2_dir / "vocab.bpe")))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    text = _text(corpus)
    start = time.perf_counter()
    ids = tok.encode(text).ids
    return {"seconds": time.perf_counter() - start, "version": tokenizers.__version__, "tokens": len(ids)}


# (tool, task) -> worker name; the order is the table's
WORKERS = {
    ("fasttok", "train"): "train_fasttok",
    ("hf-tokenizers", "train"): "train_hf",
    ("sentencepiece", "train"): "train_sentencepiece",
    ("rustbpe", "train"): "train_rustbpe",
    ("bpeasy", "train"): "train_bpeasy",
    ("youtokentome", "train"): "train_youtokentome",
    ("fasttok", "encode-gpt2"): "encode_fasttok",
    ("tiktoken", "encode-gpt2"): "encode_tiktoken",
    ("hf-tokenizers", "encode-gpt2"): "encode_hf",
}

COLUMNS = [("tool", "tool", None), ("version", "version", None), ("task", "task", None),
           ("seconds", "seconds", "{:.3f}"), ("MB/s", "mb_per_s", "{:.2f}"), ("peak MB", "peak_mb", "{:.0f}"),
           ("speed-up", "speedup", "{:.2f}")]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("corpus")
    p.add_argument("--vocab-size", type=int, default=8192)
    p.add_argument("--tasks", default="train,encode-gpt2")
    _harness.add_common_arguments(p, gpt2=True)
    args = p.parse_args(argv)
    _harness.check_common_arguments(p, args)
    corpus = os.path.abspath(args.corpus)
    mb = os.path.getsize(corpus) / 1e6
    tasks = args.tasks.split(",")
    no_gpt2 = _harness.gpt2_missing(args.gpt2_dir)
    rows = []
    for (tool, task), worker in WORKERS.items():
        if task not in tasks:
            continue
        row = {"tool": tool, "task": task}
        if task == "train":
            kwargs = {"corpus": corpus, "vocab_size": args.vocab_size, "threads": args.threads}
        elif no_gpt2:
            rows.append(_harness.not_run(row, no_gpt2))
            continue
        else:
            kwargs = {"corpus": corpus, "gpt2_dir": str(args.gpt2_dir)}
        rows.append(_harness.measure(__file__, worker, kwargs, runs=args.runs, threads=args.threads, row=row))
    _harness.add_speedups(rows, lambda r: r["tool"] == "fasttok", by=("task",))
    for r in rows:
        if _harness.ok(r):
            r["mb_per_s"] = mb / r["seconds"]
    _harness.print_table(COLUMNS, rows, title=f"corpus {os.path.basename(corpus)} ({mb:.2f} MB), vocab "
                         f"{args.vocab_size}, {args.threads} thread(s), median of {args.runs}")
    _harness.write_json(args.json, _harness.results(corpus=os.path.basename(corpus), mb=mb,
                                                    vocab_size=args.vocab_size, threads=args.threads, rows=rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
