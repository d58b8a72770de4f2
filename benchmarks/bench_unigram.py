"""Unigram LM training: fasttok.train_unigram against sentencepiece's trainer.

    python benchmarks/bench_unigram.py ../shared/corpora/tinyshakespeare.txt --vocab-size 8000

Both train a Unigram model of --vocab-size ids on the corpus (one sentence per line, identity
normalization, one thread, sentencepiece's other defaults on both sides). Every timed run is a fresh
subprocess (benchmarks/_harness.py), --runs times, interleaved so that a change in the machine's load
hits both alike; the table shows the median seconds, the largest peak RSS, and the speed-up, their
time / our time (above 1: fasttok is faster). The held-out columns (models trained on the first 90% of
lines, measured on the last 10%, with sentencepiece's encoder for both) say the two vocabularies are
of the same quality: Viterbi log-likelihood per character under each model's own scores, and tokens
per word. `--json PATH` writes the rows as JSON.
"""
import argparse
import io
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _harness  # noqa: E402


# -- workers: each runs in a fresh process (see _harness) and returns {"seconds": ..., ...} -----------

def _split(corpus):
    lines = pathlib.Path(corpus).read_text(encoding="utf-8").split("\n")
    cut = len(lines) * 9 // 10
    return lines[:cut], lines[cut:]


def _quality(model_proto, held):
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_proto=model_proto)
    scores = [sp.get_score(i) for i in range(sp.get_piece_size())]
    encoded = sp.encode(held)
    return {"ll_per_char": sum(scores[i] for ids in encoded for i in ids) / max(1, sum(map(len, held))),
            "tokens_per_word": sum(map(len, encoded)) / max(1, sum(len(t.split()) for t in held))}


def train_fasttok(corpus, vocab_size):
    import fasttok
    train, held = _split(corpus)
    start = time.perf_counter()
    tok = fasttok.train_unigram(train, vocab_size=vocab_size, num_threads=1)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "vocab": tok.vocab_size, **_quality(tok.to_bytes(), held)}


def train_sentencepiece(corpus, vocab_size):
    import sentencepiece as spm  # an ImportError makes the row "skipped" (_harness)
    train, held = _split(corpus)
    buf = io.BytesIO()
    start = time.perf_counter()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(train), model_writer=buf, vocab_size=vocab_size,
                                   model_type="unigram", normalization_rule_name="identity", num_threads=1,
                                   minloglevel=2)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "vocab": vocab_size, **_quality(buf.getvalue(), held)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("corpus")
    p.add_argument("--vocab-size", type=int, default=8000)
    _harness.add_common_arguments(p)
    args = p.parse_args(argv)
    _harness.check_common_arguments(p, args)
    corpus = pathlib.Path(args.corpus).resolve()
    kwargs = {"corpus": str(corpus), "vocab_size": args.vocab_size}
    rows = _harness.measure_interleaved(
        [{"script": __file__, "worker": "train_fasttok", "kwargs": kwargs, "threads": args.threads,
          "row": {"tool": "fasttok"}},
         {"script": __file__, "worker": "train_sentencepiece", "kwargs": kwargs, "threads": args.threads,
          "row": {"tool": "sentencepiece"}}], runs=args.runs)
    _harness.add_speedups(rows, lambda r: r["tool"] == "fasttok", by=())
    _harness.print_table([("tool", "tool", None), ("seconds", "seconds", "{:.2f}"), ("peak MB", "peak_mb", "{:.0f}"),
                          ("speed-up", "speedup", "{:.2f}"), ("held-out nats/char", "ll_per_char", "{:.4f}"),
                          ("tokens/word", "tokens_per_word", "{:.3f}")], rows,
                         title=f"Unigram training, {corpus.name} ({corpus.stat().st_size / 1e6:.1f} MB), "
                               f"vocab_size {args.vocab_size}, {args.threads} thread(s)")
    _harness.write_json(args.json, _harness.results(corpus=corpus.name, runs=args.runs, rows=rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
