"""Trigram benchmark on tinyshakespeare: lm.ngram vs NLTK's KneserNeyInterpolated vs the kenlm module.

    python benchmarks/bench_ngram.py [--runs 5] [--nltk-tokens 150] [--nltk-cap 60]

The split is the KenLM golden file's (../shared/refs/kenlm/README.md): 90% train (~1.0 MB), 10% test.
Times are medians over --runs runs (NLTK: one run). NLTK rescans its counts on every query, so it scores only the
first --nltk-tokens test tokens (or what it reaches in --nltk-cap seconds) and its per-token time is
extrapolated from them (said so in the table); NLTK gives OOVs probability 0, so every
perplexity in the table is over the test tokens that are in the training vocabulary (in-vocabulary
tokens; the KenLM-style "excluding OOVs" figure), on the sample NLTK scored for its row and on the
whole test set for the others. kenlm cannot train: its row scores lmplz's golden ARPA file
($FASTTOK_REFS/kenlm, else ../shared/refs/kenlm beside the clone).

Every timed part runs in fresh subprocesses (benchmarks/_harness.py; the model is fitted untimed in each
scoring child), one thread (--threads). The speed-up column is each row's scoring time per token / lm.ngram's
from token lists (above 1: lm.ngram is faster). Tools that are not installed are listed as skipped.
`--json PATH` writes the rows as JSON.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness  # noqa: E402

KENLM_ARPA = _harness.refs_dir("kenlm") / "tinyshakespeare.3gram.arpa.gz"


def load_split():
    text = _harness.shared_corpus("tinyshakespeare.txt").read_text(encoding="utf-8")
    lines = [line for line in (line.strip() for line in text.split("\n")) if line]
    train = [line for i, line in enumerate(lines) if i % 10 != 9]
    test = [line for i, line in enumerate(lines) if i % 10 == 9]
    return train, test


def _data():
    train_lines, test_lines = load_split()
    return [line.split() for line in train_lines], [line.split() for line in test_lines], train_lines


def _fit(train):
    from lm.ngram import train_ngram
    return train_ngram(train, order=3, smoothing="mkn")


# -- workers: each runs in a fresh process (see _harness) and returns {"seconds": ..., ...} -----------

def split_info():
    train, test, train_lines = _data()
    return {"seconds": 0.0, "train": len(train), "test": len(test),
            "mb": sum(len(line.encode("utf-8")) + 1 for line in train_lines) / 1e6}


def ngram_fit():
    train, _, _ = _data()
    start = time.perf_counter()
    _fit(train)
    return {"seconds": time.perf_counter() - start}


def ngram_tokens():
    train, test, _ = _data()
    model = _fit(train)
    start = time.perf_counter()
    ev = model.evaluate(test)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "us_per_token": 1e6 * seconds / ev.n_tokens, "n_tokens": ev.n_tokens,
            "ppl_in_vocab": ev.perplexity_excluding_oov, "ppl_unk": ev.perplexity}


def ngram_ids():
    train, test, _ = _data()
    model = _fit(train)
    ids, hist, scored, _, _ = model._flatten(test, bos=True, eos=True)
    start = time.perf_counter()
    model.score_ids(ids, hist)
    seconds = time.perf_counter() - start
    ev = model.evaluate(test)
    return {"seconds": seconds, "us_per_token": 1e6 * seconds / int(scored.sum()),
            "ppl_in_vocab": ev.perplexity_excluding_oov}


def ngram_generate():
    import numpy as np
    train, _, _ = _data()
    model = _fit(train)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    model.generate(1000, rng=rng)
    plain = time.perf_counter() - start
    start = time.perf_counter()
    model.generate(200, top_k=50, rng=rng)
    top_k = time.perf_counter() - start
    return {"seconds": plain, "us_plain": 1e6 * plain / 1000, "us_top_k": 1e6 * top_k / 200}


def kenlm_score(n_tokens):
    import kenlm
    _, test, _ = _data()
    model = kenlm.Model(str(KENLM_ARPA))
    joined = [" ".join(s) for s in test]
    start = time.perf_counter()
    for s in joined:
        model.score(s)
    seconds = time.perf_counter() - start
    # full_scores tells which words are OOV: kenlm's "excluding OOVs" perplexity
    total, n = 0.0, 0
    for s in joined:
        for logp, _, oov in model.full_scores(s):
            if not oov:
                total, n = total + logp, n + 1
    return {"seconds": seconds, "us_per_token": 1e6 * seconds / n_tokens, "ppl_in_vocab": 10 ** (-total / n)}


def nltk_kn(nltk_tokens, nltk_cap, n_tokens):
    """NLTK's fit (timed: "seconds"), then its scoring of a sample, extrapolated, and lm.ngram on that sample."""
    from nltk.lm import KneserNeyInterpolated
    from nltk.lm.preprocessing import padded_everygram_pipeline
    train, test, _ = _data()
    start = time.perf_counter()
    grams, vocab = padded_everygram_pipeline(3, train)
    lm = KneserNeyInterpolated(3)
    lm.fit(grams, vocab)
    fit_seconds = time.perf_counter() - start
    model = _fit(train)
    known = model._index
    start, total, n_scored, in_vocab = time.perf_counter(), 0.0, 0, []
    for s in test:
        padded = ["<s>", "<s>", *s, "</s>"]
        for t in range(2, len(padded)):
            word, ctx = padded[t], padded[t - 2 : t]
            score = lm.logscore(word, ctx)  # log2
            n_scored += 1
            if word in known:
                total += score * math.log10(2)
                in_vocab.append((word, ctx))
            if n_scored >= nltk_tokens or time.perf_counter() - start > nltk_cap:
                break
        if n_scored >= nltk_tokens or time.perf_counter() - start > nltk_cap:
            break
    score_seconds = time.perf_counter() - start
    n_in_vocab = len(in_vocab)
    ppl = 10 ** (-total / n_in_vocab) if n_in_vocab else float("nan")
    # NLTK pads with two <s>; lm.ngram (like KenLM) with one
    ours_total = sum(model.logprob(w, ctx[1:] if ctx[0] == ctx[1] == "<s>" else ctx) for w, ctx in in_vocab)
    return {"seconds": fit_seconds, "score_seconds": score_seconds, "n_scored": n_scored,
            "us_per_token": 1e6 * score_seconds / n_scored, "ppl_in_vocab": ppl,
            "ours_ppl_on_sample": 10 ** (-ours_total / n_in_vocab) if n_in_vocab else float("nan"),
            "note": f"fit: 1 run; scoring extrapolated from {n_scored} of {n_tokens} tokens ({score_seconds:.1f} s)"}


# -- the driver ------------------------------------------------------------------------------------

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nltk-cap", type=float, default=60.0, help="seconds of NLTK scoring before extrapolating")
    parser.add_argument("--nltk-tokens", type=int, default=150, help="test tokens NLTK scores (a fixed sample)")
    _harness.add_common_arguments(parser, runs=5)
    args = parser.parse_args(argv)
    _harness.check_common_arguments(parser, args)

    def measure(worker, kwargs=None, runs=args.runs, **row):
        return _harness.measure(__file__, worker, kwargs, runs=runs, threads=args.threads, row=row)

    info = measure("split_info", runs=1)
    if not _harness.ok(info):
        raise SystemExit(f"the tinyshakespeare split is not available: {info['reason']}")
    print(f"train: {info['train']} sentences, {info['mb']:.2f} MB; test: {info['test']} sentences")
    fit = measure("ngram_fit", model="lm.ngram mkn fit")
    tokens = measure("ngram_tokens", model="lm.ngram mkn (tokens in)")
    n_tok = tokens.get("n_tokens", 0)
    rows = [tokens, measure("ngram_ids", model="lm.ngram mkn (ids in)")]
    for r in rows:
        r["fit"] = fit.get("seconds")
    if KENLM_ARPA.is_file():
        rows.append(measure("kenlm_score", {"n_tokens": n_tok}, model="kenlm.Model.score (lmplz ARPA)"))
    else:
        rows.append(_harness.not_run({"model": "kenlm.Model.score (lmplz ARPA)"}, f"{KENLM_ARPA} not found"))
    nltk = measure("nltk_kn", {"nltk_tokens": args.nltk_tokens, "nltk_cap": args.nltk_cap, "n_tokens": n_tok},
                   runs=1, model="nltk KneserNeyInterpolated")
    rows.append(nltk)
    if _harness.ok(nltk):
        nltk["fit"] = nltk["seconds"]
        rows.append({"model": "  lm.ngram on NLTK's sample", "status": "ok", "fit": fit.get("seconds"),
                     "ppl_in_vocab": nltk["ours_ppl_on_sample"]})
    ours_us = tokens.get("us_per_token")
    for r in rows:
        if _harness.ok(r) and r.get("us_per_token") is not None:
            r["speedup"] = _harness.speedup(ours_us, r["us_per_token"])
    _harness.print_table([("model", "model", None), ("fit (s)", "fit", "{:.2f}"),
                          ("scoring µs/token", "us_per_token", "{:.3g}"), ("speed-up", "speedup", "{:.3g}"),
                          ("test perplexity (in-vocab tokens)", "ppl_in_vocab", "{:.2f}"), ("note", "note", None)],
                         rows, notes=["(speed-up = the row's scoring time per token / lm.ngram's from token lists)"])
    gen = measure("ngram_generate", model="lm.ngram generate")
    if _harness.ok(gen):
        print(f"\nlm.ngram generate: {gen['us_plain']:.0f} µs/token plain, {gen['us_top_k']:.0f} µs/token with top_k=50")
    if _harness.ok(tokens):
        print(f"lm.ngram test perplexity with OOVs as <unk>: {tokens['ppl_unk']:.4f} (lmplz/query: 434.7046)")
    print(f"machine {_harness.load_note()} at the end")
    _harness.write_json(args.json, _harness.results(split=info, fit=fit, rows=rows, generate=gen))
    return 0


if __name__ == "__main__":
    sys.exit(main())
