"""Trigram benchmark on tinyshakespeare: lm.ngram vs NLTK's KneserNeyInterpolated vs the kenlm module.

    python benchmarks/bench_ngram.py [--runs 5] [--nltk-tokens 150] [--nltk-cap 60]

The split is the KenLM golden file's (../shared/refs/kenlm/README.md): 90% train (~1.0 MB), 10% test.
Times are medians over --runs runs. NLTK rescans its counts on every query, so it scores only the
first --nltk-tokens test tokens (or what it reaches in --nltk-cap seconds) and its per-token time is
extrapolated from them (said so in the table); NLTK gives OOVs probability 0, so every
perplexity in the table is over the test tokens that are in the training vocabulary (in-vocabulary
tokens; the KenLM-style "excluding OOVs" figure), on the sample NLTK scored for its row and on the
whole test set for the others. kenlm cannot train: its row scores lmplz's golden ARPA file.
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from lm.ngram import train_ngram  # noqa: E402

SHARED = ROOT.parent / "shared"


def load_split():
    text = (SHARED / "corpora" / "tinyshakespeare.txt").read_text(encoding="utf-8")
    lines = [line for line in (line.strip() for line in text.split("\n")) if line]
    train = [line for i, line in enumerate(lines) if i % 10 != 9]
    test = [line for i, line in enumerate(lines) if i % 10 == 9]
    return train, test


def median_time(fn, runs: int):
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--nltk-cap", type=float, default=60.0, help="seconds of NLTK scoring before extrapolating")
    parser.add_argument("--nltk-tokens", type=int, default=150, help="test tokens NLTK scores (a fixed sample)")
    args = parser.parse_args(argv)

    train_lines, test_lines = load_split()
    train = [line.split() for line in train_lines]
    test = [line.split() for line in test_lines]
    n_bytes = sum(len(line.encode("utf-8")) + 1 for line in train_lines)
    print(f"train: {len(train)} sentences, {n_bytes / 1e6:.2f} MB; test: {len(test)} sentences")
    rows = []

    # ---- lm.ngram
    fit_s, model = median_time(lambda: train_ngram(train, order=3, smoothing="mkn"), args.runs)
    tokens_s, ev = median_time(lambda: model.evaluate(test), args.runs)
    ids, hist, scored, _, _ = model._flatten(test, bos=True, eos=True)
    ids_s, _ = median_time(lambda: model.score_ids(ids, hist), args.runs)
    n_tok = ev.n_tokens
    rows.append(("lm.ngram mkn (tokens in)", fit_s, 1e6 * tokens_s / n_tok, ev.perplexity_excluding_oov, ""))
    rows.append(("lm.ngram mkn (ids in)", fit_s, 1e6 * ids_s / int(scored.sum()), ev.perplexity_excluding_oov, ""))
    in_vocab_ppl = ev.perplexity_excluding_oov

    # ---- kenlm module (scoring only)
    try:
        import kenlm

        kmodel = kenlm.Model(str(SHARED / "refs" / "kenlm" / "tinyshakespeare.3gram.arpa.gz"))
        joined = [" ".join(s) for s in test]
        k_s, _ = median_time(lambda: [kmodel.score(s) for s in joined], args.runs)
        # full_scores tells which words are OOV: kenlm's "excluding OOVs" perplexity
        total, n = 0.0, 0
        for s in joined:
            for logp, _, oov in kmodel.full_scores(s):
                if not oov:
                    total, n = total + logp, n + 1
        rows.append(("kenlm.Model.score (lmplz ARPA)", float("nan"), 1e6 * k_s / n_tok, 10 ** (-total / n), ""))
    except ImportError:
        print("kenlm not installed: skipping its row")

    # ---- NLTK
    try:
        from nltk.lm import KneserNeyInterpolated
        from nltk.lm.preprocessing import padded_everygram_pipeline

        def fit_nltk():
            grams, vocab = padded_everygram_pipeline(3, train)
            lm = KneserNeyInterpolated(3)
            lm.fit(grams, vocab)
            return lm

        nltk_fit_s, lm = median_time(fit_nltk, 1)
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
                if n_scored >= args.nltk_tokens or time.perf_counter() - start > args.nltk_cap:
                    break
            if n_scored >= args.nltk_tokens or time.perf_counter() - start > args.nltk_cap:
                break
        nltk_score_s = time.perf_counter() - start
        note = f"fit: 1 run; scoring extrapolated from {n_scored} of {n_tok} tokens ({nltk_score_s:.1f} s)"
        n_in_vocab = len(in_vocab)
        ppl = 10 ** (-total / n_in_vocab) if n_in_vocab else float("nan")
        # NLTK pads with two <s>; lm.ngram (like KenLM) with one
        ours_total = sum(model.logprob(w, ctx[1:] if ctx[0] == ctx[1] == "<s>" else ctx) for w, ctx in in_vocab)
        rows.append(("nltk KneserNeyInterpolated", nltk_fit_s, 1e6 * nltk_score_s / n_scored, ppl, note))
        rows.append(("  lm.ngram on NLTK's sample", fit_s, float("nan"), 10 ** (-ours_total / n_in_vocab), ""))
    except ImportError:
        print("nltk not installed: skipping its row")

    ours_us = rows[0][2]
    print()
    print("| model | fit (s) | scoring µs/token | x lm.ngram time | test perplexity (in-vocab tokens) | note |")
    print("|---|---|---|---|---|---|")
    for name, fit, us, ppl, note in rows:
        fit_txt = "—" if math.isnan(fit) else f"{fit:.2f}"
        us_txt = "—" if math.isnan(us) else f"{us:.3g}"
        ratio = "—" if math.isnan(us) else f"{us / ours_us:.3g}"
        print(f"| {name} | {fit_txt} | {us_txt} | {ratio} | {ppl:.2f} | {note} |")
    rng = np.random.default_rng(0)
    gen_s, _ = median_time(lambda: model.generate(1000, rng=rng), args.runs)
    topk_s, _ = median_time(lambda: model.generate(200, top_k=50, rng=rng), args.runs)
    print(f"\nlm.ngram generate: {1e6 * gen_s / 1000:.0f} µs/token plain, {1e6 * topk_s / 200:.0f} µs/token with top_k=50")
    print(f"lm.ngram test perplexity with OOVs as <unk>: {ev.perplexity:.4f} (lmplz/query: 434.7046)")
    print(f"machine load average at the end (1/5/15 min): {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
