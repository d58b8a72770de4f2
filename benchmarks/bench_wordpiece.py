"""WordPiece: fasttok against HF `tokenizers` for encoding and training, plus what the score buys.

    python benchmarks/bench_wordpiece.py ../shared/corpora/tinyshakespeare.txt --big-corpus

1. Encoding with the BERT uncased vocabulary (../shared/refs/bert-uncased), one thread each,
   the corpus as a batch of lines: MB/s and the speed-up, HF's time / fasttok's (above 1: fasttok is
   faster).
2. Linear time: fasttok on "a" * n for growing n, with BERT's 100-character word limit and with
   no limit (the full failure-link walk over one n-character word).
3. Training at each --vocab-size with fasttok (score="pmi" and "likelihood") and HF's
   WordPieceTrainer, BERT normaliser and pre-tokenizer on both sides, min_frequency 2:
   seconds and the speed-up, HF's time / fasttok's (above 1: fasttok is faster).
4. Quality: vocabularies trained on the first 90% of the corpus, measured on the last 10%:
   tokens per word, and the unigram log-likelihood of the held-out text in nats per word (the
   unigram model fitted on the training part's encoding, add-one smoothed).
--big-corpus adds training on a ~50 MB file made of CPython's standard library sources.
Every timed (tool, task) runs in a fresh subprocess (benchmarks/_harness.py), --runs times, one thread
(--threads); the tables show medians and the largest peak RSS of the runs. Tools that are not installed
are listed as skipped. The BERT files come from $FASTTOK_REFS/bert-uncased, else
../shared/refs/bert-uncased beside the clone. `--json PATH` writes every table's rows as JSON.
"""

import argparse
import math
import pathlib
import sys
import sysconfig
import time
from collections import Counter

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _harness  # noqa: E402

ROOT = _harness.ROOT
BERT = _harness.refs_dir("bert-uncased")
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
MIN_FREQUENCY = 2


# -- workers: each runs in a fresh process (see _harness) and returns {"seconds": ..., ...} -----------

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


def train_hf(corpus, vocab_size):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=SPECIALS,
                                        min_frequency=MIN_FREQUENCY, show_progress=False)
    start = time.perf_counter()
    tok.train([str(corpus)], trainer)
    return {"seconds": time.perf_counter() - start, "vocab": tok.get_vocab_size()}


def encode_long(n, limit):
    """fasttok on "a" * n with BERT's 100-character word limit ("bert") or none ("none")."""
    from fasttok.wordpiece import WordPieceTokenizer, load_bert_vocab
    tok = load_bert_vocab(BERT / "vocab.txt")
    if limit == "none":
        vocab = [tok.id_to_token(i) for i in range(tok.vocab_size)]
        tok = WordPieceTokenizer(vocab, special_tokens=SPECIALS, max_input_chars_per_word=10**9)
    text = "a" * n
    tok.encode("warm up")
    start = time.perf_counter()
    ids = tok.encode(text)
    return {"seconds": time.perf_counter() - start, "ids": len(ids)}


def quality(corpus, vocab_size):
    """Tokens per word and held-out unigram log-likelihood for each trainer's vocabulary (not timed)."""
    import warnings
    import tempfile
    from fasttok.normalize import bert_normalize
    from fasttok.pretokenize import bert_pre_tokenize
    from fasttok.wordpiece import WordPieceTokenizer, train_wordpiece
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
        rows.append({"vocabulary": name, "size": tok.vocab_size, "tokens_per_word": len(test_ids) / n_words,
                     "nats_per_word": loglik / n_words,
                     "unk": sum(i == tok.token_to_id("[UNK]") for i in test_ids)})
    return {"seconds": 0.0, "rows": rows}


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


# -- the driver ------------------------------------------------------------------------------------

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("corpus")
    p.add_argument("--vocab-size", type=int, nargs="+", default=[8192, 30000])
    p.add_argument("--big-corpus", action="store_true", help="also train on ~50 MB of stdlib sources")
    p.add_argument("--skip", nargs="*", default=[], choices=["encode", "linear", "train", "quality"])
    _harness.add_common_arguments(p)
    args = p.parse_args(argv)
    _harness.check_common_arguments(p, args)
    corpus = pathlib.Path(args.corpus).resolve()
    size_mb = corpus.stat().st_size / 1e6
    out = {}

    def measure(worker, row, **kwargs):
        return _harness.measure(__file__, worker, kwargs, runs=args.runs, threads=args.threads, row=row)

    if "encode" not in args.skip:
        rows = []
        for unit in ("lines", "200-line documents"):
            pair = [measure("encode_fasttok", {"unit": unit, "tool": "fasttok"}, corpus=str(corpus),
                            unit=unit.split()[0]),
                    measure("encode_hf", {"unit": unit, "tool": "HF tokenizers"}, corpus=str(corpus),
                            unit=unit.split()[0])]
            if all(map(_harness.ok, pair)):
                same = pair[0]["n_ids"] == pair[1]["n_ids"]
                for r in pair:
                    r["same_ids"] = "yes" if same else "NO"
            rows += pair
        _harness.add_speedups(rows, lambda r: r["tool"] == "fasttok", by=("unit",))
        for r in rows:
            if _harness.ok(r):
                r["mb_per_s"] = size_mb / r["seconds"]
        _harness.print_table([("batch of", "unit", None), ("tool", "tool", None), ("seconds", "seconds", "{:.3f}"),
                              ("MB/s", "mb_per_s", "{:.1f}"), ("peak MB", "peak_mb", "{:.0f}"),
                              ("speed-up", "speedup", "{:.2f}"), ("id count = HF", "same_ids", None)], rows,
                             title=f"\n## Encoding {corpus.name} ({size_mb:.2f} MB) with the BERT vocab, "
                                   f"{args.threads} thread(s), median of {args.runs}\n")
        out["encode"] = rows

    if "linear" not in args.skip:
        rows = []
        for n in (250_000, 500_000, 1_000_000, 2_000_000):
            r = {"n": n, "n_label": f"{n:,}"}
            for limit in ("bert", "none"):
                m = measure("encode_long", {"n": n, "limit": limit}, n=n, limit=limit)
                r[limit] = m
                r[f"{limit}_seconds"], r[f"{limit}_ids"] = m.get("seconds"), m.get("ids")
            r["status"] = "ok" if all(_harness.ok(r[k]) for k in ("bert", "none")) else r["none"]["status"]
            r["reason"] = r["bert"].get("reason") or r["none"].get("reason")
            if _harness.ok(r):
                r["us_per_1000"] = r["none_seconds"] / n * 1e9
            rows.append(r)
        _harness.print_table([("n", "n_label", None), ("seconds, 100-char limit", "bert_seconds", "{:.4f}"),
                              ("ids", "bert_ids", "{}"), ("seconds, no limit", "none_seconds", "{:.4f}"),
                              ("ids", "none_ids", "{}"), ("µs per 1000 chars (no limit)", "us_per_1000", "{:.1f}")],
                             rows, title=f'\n## Linear time: fasttok encoding "a" * n (median of {args.runs})\n',
                             notes=["(no peer: this table shows how fasttok's time grows with n)"])
        out["linear"] = rows

    if "train" not in args.skip:
        corpora = [corpus]
        if args.big_corpus:
            corpora.append(make_big_corpus(ROOT / "benchmarks" / "out" / "stdlib50.txt"))
        rows = []
        for c in corpora:
            label = f"{c.name} ({c.stat().st_size / 1e6:.0f} MB)"
            for vs in args.vocab_size:
                hf = measure("train_hf", {"corpus": label, "vocab_size": vs, "tool": "HF WordPieceTrainer"},
                             corpus=str(c), vocab_size=vs)
                group = [measure("train_fasttok", {"corpus": label, "vocab_size": vs, "tool": f"fasttok {s}"},
                                 corpus=str(c), vocab_size=vs, score=s) for s in ("pmi", "likelihood")]
                for r in group:  # each fasttok score against HF: their time / ours
                    if _harness.ok(r) and _harness.ok(hf):
                        r["speedup"] = _harness.speedup(r["seconds"], hf["seconds"])
                rows += group + [hf]
        _harness.print_table([("corpus", "corpus", None), ("vocab_size", "vocab_size", None), ("tool", "tool", None),
                              ("seconds", "seconds", "{:.2f}"), ("vocab reached", "vocab", "{}"),
                              ("peak MB", "peak_mb", "{:.0f}"), ("speed-up vs HF", "speedup", "{:.2f}")], rows,
                             title=f"\n## Training (min_frequency {MIN_FREQUENCY}, {args.threads} thread(s), "
                                   f"median of {args.runs})\n")
        out["train"] = rows

    if "quality" not in args.skip:
        out["quality"] = {}
        for vs in args.vocab_size:
            # one child, not timed: it trains three vocabularies and scores them
            r = _harness.measure(__file__, "quality", {"corpus": str(corpus), "vocab_size": vs}, runs=1,
                                 threads=args.threads, row={"vocab_size": vs})
            rows = r["rows"] if _harness.ok(r) else [{"vocabulary": "all", **r}]
            for q in rows:
                q.setdefault("status", "ok")
            _harness.print_table([("vocabulary", "vocabulary", None), ("size", "size", "{}"),
                                  ("tokens per word", "tokens_per_word", "{:.3f}"),
                                  ("unigram log-likelihood (nats/word)", "nats_per_word", "{:.3f}"),
                                  ("[UNK]", "unk", "{}")], rows, convention=False,
                                 title=f"\n## Quality at vocab_size {vs}: train on the first 90% of {corpus.name}, "
                                       "measure on the last 10%\n")
            out["quality"][vs] = rows
    _harness.write_json(args.json, _harness.results(corpus=corpus.name, mb=size_mb, runs=args.runs, **out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
