"""WordPiece: fasttok against HF `tokenizers` for encoding and training, plus what the score buys.

    python benchmarks/bench_wordpiece.py ../shared/corpora/tinyshakespeare.txt --big-corpus

1. Encoding with the BERT uncased vocabulary (../shared/refs/bert-uncased), one thread each,
   the corpus as a batch of lines: MB/s and HF's time / fasttok's (above 1: fasttok is faster).
2. Linear time: fasttok on "a" * n for growing n, with BERT's 100-character word limit and with
   no limit (the full failure-link walk over one n-character word).
3. Training at each --vocab-size with fasttok (score="pmi" and "likelihood") and HF's
   WordPieceTrainer, BERT normaliser and pre-tokenizer on both sides, min_frequency 2:
   seconds and fasttok's time / HF's (below 1: fasttok is faster).
4. Quality: vocabularies trained on the first 90% of the corpus, measured on the last 10%:
   tokens per word, and the unigram log-likelihood of the held-out text in nats per word (the
   unigram model fitted on the training part's encoding, add-one smoothed).
--big-corpus adds training on a ~50 MB file made of CPython's standard library sources.
Every timed (tool, task) runs in a fresh subprocess, --runs times; the tables show medians.
"""
import argparse
import json
import math
import os
import pathlib
import statistics
import subprocess
import sys
import sysconfig
import time
from collections import Counter

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's fasttok, not another installed one
SHARED = ROOT.parent / "shared"
BERT = SHARED / "refs" / "bert-uncased"
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
MIN_FREQUENCY = 2


# -- workers: each prints {"seconds": ..., ...} as JSON --------------------------------------------

def _texts(corpus, unit):
    """The corpus as a batch of lines, or of documents of 200 lines."""
    lines = pathlib.Path(corpus).read_text(encoding="utf-8").split("\n")
    if unit == "lines":
        return lines
    return ["\n".join(lines[i:i + 200]) for i in range(0, len(lines), 200)]


def encode_fasttok(corpus, unit):
    from fasttok.wordpiece import load_bert_vocab
    tok = load_bert_vocab(BERT / "vocab.txt")
    lines = _texts(corpus, unit)
    tok.encode_batch(lines[:100], num_threads=1)  # warm up (imports, tables)
    start = time.perf_counter()
    ids = tok.encode_batch(lines, num_threads=1)
    return {"seconds": time.perf_counter() - start, "n_ids": sum(map(len, ids))}


def encode_hf(corpus, unit):
    import tokenizers
    tok = tokenizers.Tokenizer.from_file(str(BERT / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    lines = _texts(corpus, unit)
    tok.encode_batch(lines[:100], add_special_tokens=False)
    start = time.perf_counter()
    ids = [e.ids for e in tok.encode_batch(lines, add_special_tokens=False)]
    return {"seconds": time.perf_counter() - start, "n_ids": sum(map(len, ids))}


def train_fasttok(corpus, vocab_size, score):
    from fasttok.wordpiece import train_wordpiece
    import warnings
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tok = train_wordpiece([pathlib.Path(corpus)], vocab_size=vocab_size, score=score,
                              min_frequency=MIN_FREQUENCY)
    return {"seconds": time.perf_counter() - start, "vocab": tok.vocab_size}


def train_hf(corpus, vocab_size, score=None):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=SPECIALS,
                                        min_frequency=MIN_FREQUENCY, show_progress=False)
    start = time.perf_counter()
    tok.train([str(corpus)], trainer)
    return {"seconds": time.perf_counter() - start, "vocab": tok.get_vocab_size()}


WORKERS = {"encode-fasttok": encode_fasttok, "encode-hf": encode_hf,
           "train-fasttok": train_fasttok, "train-hf": train_hf}


def single_thread_env():
    env = dict(os.environ)
    for var in ("RAYON_NUM_THREADS", "RAYON_RS_NUM_CPUS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = "1"
    env["TOKENIZERS_PARALLELISM"] = "false"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def measure(worker, runs, *args):
    results = []
    for _ in range(runs):
        proc = subprocess.run([sys.executable, __file__, "--worker", worker, *map(str, args)],
                              capture_output=True, text=True, env=single_thread_env())
        if proc.returncode:
            raise RuntimeError(f"{worker} {args} failed:\n{proc.stderr}")
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    out = dict(results[0])
    out["seconds"] = statistics.median(r["seconds"] for r in results)
    return out


# -- in-process parts --------------------------------------------------------------------------------

def linear_time_table():
    from fasttok.wordpiece import WordPieceTokenizer, load_bert_vocab
    bert = load_bert_vocab(BERT / "vocab.txt")
    unlimited = WordPieceTokenizer(bert._id_to_token, special_tokens=SPECIALS,
                                   max_input_chars_per_word=10**9)
    rows = []
    for n in (250_000, 500_000, 1_000_000, 2_000_000):
        text = "a" * n
        row = [n]
        for tok in (bert, unlimited):
            times = []
            for _ in range(3):
                start = time.perf_counter()
                ids = tok.encode(text)
                times.append(time.perf_counter() - start)
            row += [statistics.median(times), len(ids)]
        rows.append(row)
    return rows


def quality_table(corpus, vocab_size):
    """Tokens per word and held-out unigram log-likelihood for each trainer's vocabulary."""
    import warnings
    import tempfile
    from fasttok.normalize import bert_normalize
    from fasttok.wordpiece import WordPieceTokenizer, bert_pre_tokenize, train_wordpiece
    text = pathlib.Path(corpus).read_text(encoding="utf-8")
    cut = text.rfind("\n", 0, int(len(text) * 0.9)) + 1
    train_text, held_out = text[:cut], text[cut:]
    n_words = len(bert_pre_tokenize(bert_normalize(held_out)))
    vocabs = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for score in ("pmi", "likelihood"):
            vocabs[f"fasttok {score}"] = train_wordpiece([train_text], vocab_size=vocab_size, score=score,
                                                         min_frequency=MIN_FREQUENCY)
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    hf = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    hf.normalizer = normalizers.BertNormalizer(lowercase=True)
    hf.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    with tempfile.TemporaryDirectory() as d:
        path = pathlib.Path(d) / "train.txt"
        path.write_text(train_text, encoding="utf-8")
        hf.train([str(path)], trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=SPECIALS,
                                                        min_frequency=MIN_FREQUENCY, show_progress=False))
    hf_vocab = sorted(hf.get_vocab().items(), key=lambda kv: kv[1])
    # HF's vocabulary, encoded by fasttok: the encoding rules are identical (see the parity tests)
    vocabs["HF WordPieceTrainer"] = WordPieceTokenizer([t for t, _ in hf_vocab], special_tokens=SPECIALS)
    rows = []
    for name, tok in vocabs.items():
        train_ids = [i for ids in tok.encode_batch(train_text.split("\n")) for i in ids]
        test_ids = [i for ids in tok.encode_batch(held_out.split("\n")) for i in ids]
        counts = Counter(train_ids)
        total = len(train_ids) + tok.vocab_size
        loglik = sum(math.log((counts[i] + 1) / total) for i in test_ids)
        rows.append((name, tok.vocab_size, len(test_ids) / n_words, loglik / n_words,
                     sum(i == tok.token_to_id("[UNK]") for i in test_ids)))
    return rows


def make_big_corpus(path, size=50_000_000):
    """~50 MB of CPython's standard library sources (UTF-8 .py files in sorted order)."""
    if path.exists() and path.stat().st_size >= size:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    stdlib = pathlib.Path(sysconfig.get_paths()["stdlib"])
    written = 0
    with open(path, "w", encoding="utf-8") as out:
        for source in sorted(stdlib.rglob("*.py")):
            try:
                text = source.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            out.write(text)
            out.write("\n")
            written += len(text.encode("utf-8")) + 1
            if written >= size:
                break
    return path


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker, *args = sys.argv[2:]
        args = [int(a) if a.isdigit() else a for a in args]
        print(json.dumps(WORKERS[worker](*args)))
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("corpus")
    p.add_argument("--vocab-size", type=int, nargs="+", default=[8192, 30000])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--big-corpus", action="store_true", help="also train on ~50 MB of stdlib sources")
    p.add_argument("--skip", nargs="*", default=[], choices=["encode", "linear", "train", "quality"])
    args = p.parse_args()
    corpus = pathlib.Path(args.corpus)
    size_mb = corpus.stat().st_size / 1e6

    if "encode" not in args.skip:
        print(f"\n## Encoding {corpus.name} ({size_mb:.2f} MB) with the BERT vocab, 1 thread, "
              f"median of {args.runs}\n")
        print("| batch of | tool | seconds | MB/s | HF time / fasttok time |\n|---|---|---|---|---|")
        for unit in ("lines", "200-line documents"):
            ours = measure("encode-fasttok", args.runs, corpus, unit.split()[0])
            theirs = measure("encode-hf", args.runs, corpus, unit.split()[0])
            assert ours["n_ids"] == theirs["n_ids"]
            for name, r in (("fasttok", ours), ("HF tokenizers", theirs)):
                print(f"| {unit} | {name} | {r['seconds']:.3f} | {size_mb / r['seconds']:.1f} | "
                      f"{theirs['seconds'] / r['seconds']:.2f} |", flush=True)

    if "linear" not in args.skip:
        print("\n## Linear time: fasttok encoding \"a\" * n (median of 3)\n")
        print("| n | seconds, 100-char limit | ids | seconds, no limit | ids | µs per 1000 chars (no limit) |")
        print("|---|---|---|---|---|---|")
        for n, t1, k1, t2, k2 in linear_time_table():
            print(f"| {n:,} | {t1:.4f} | {k1} | {t2:.4f} | {k2} | {t2 / n * 1e9:.1f} |")

    if "train" not in args.skip:
        corpora = [corpus]
        if args.big_corpus:
            corpora.append(make_big_corpus(ROOT / "benchmarks" / "out" / "stdlib50.txt"))
        print(f"\n## Training (min_frequency {MIN_FREQUENCY}, 1 thread, median of {args.runs})\n")
        print("| corpus | vocab_size | tool | seconds | vocab reached | fasttok / HF time |\n|---|---|---|---|---|---|")
        for c in corpora:
            for vs in args.vocab_size:
                hf = measure("train-hf", args.runs, c, vs)
                rows = [(f"fasttok {s}", measure("train-fasttok", args.runs, c, vs, s)) for s in ("pmi", "likelihood")]
                for name, r in rows + [("HF WordPieceTrainer", hf)]:
                    print(f"| {c.name} ({c.stat().st_size / 1e6:.0f} MB) | {vs} | {name} | {r['seconds']:.2f} | "
                          f"{r['vocab']} | {r['seconds'] / hf['seconds']:.2f} |", flush=True)

    if "quality" not in args.skip:
        for vs in args.vocab_size:
            print(f"\n## Quality at vocab_size {vs}: train on the first 90% of {corpus.name}, "
                  "measure on the last 10%\n")
            print("| vocabulary | size | tokens per word | unigram log-likelihood (nats/word) | [UNK] |")
            print("|---|---|---|---|---|")
            for name, size, tpw, ll, unk in quality_table(corpus, vs):
                print(f"| {name} | {size} | {tpw:.3f} | {ll:.3f} | {unk} |")


if __name__ == "__main__":
    main()
