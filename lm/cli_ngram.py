"""`python -m lm ngram train|eval`: train an n-gram model on a text file, or evaluate one.

    python -m lm ngram train --order 3 --smoothing mkn -o model.arpa TRAIN.txt
    python -m lm ngram eval model.arpa TEST.txt

Each non-empty line is one sentence. Tokens are whitespace-separated words, or with
`--tokenizer tok.json` a fasttok tokenizer's ids (kept as decimal strings, so ARPA and .npz models
read back the same). The model file format follows the name: .arpa / .arpa.gz, or .npz (native).

A .npz model records how its sentences were made (the tokenizer file's name and SHA-256, lowercasing),
and `eval` reads the test text the same way, refusing a missing or different tokenizer. ARPA files have no
place for that record, so with them `eval` can only warn: it does so whenever more than
10% (OOV_WARNING) of the test tokens are out of the model's vocabulary.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fasttok._files import check_output_path
from fasttok._progress import Progress

from lm.ngram import SMOOTHINGS, NgramModel, train_ngram
from lm.tokenizer_file import TokenizerFile, check_same

OOV_WARNING = 0.10  # an OOV rate above this usually means another tokenizer or preprocessing
ENCODE_CHUNK = 10_000  # lines encoded at a time, with a progress line after each


def _preprocessing(tokenizer_file: TokenizerFile | None, *, lowercase: bool) -> dict:
    """The record of how sentences are made from lines, as a model's metadata stores it."""
    return {"tokenizer": None if tokenizer_file is None else tokenizer_file.record(),
            "preprocessing": {"tokens": "words" if tokenizer_file is None else "tokenizer ids",
                              "lowercase": bool(lowercase)}}


def _read_sentences(path: str, tokenizer_file: TokenizerFile | None, *, lowercase: bool,
                    clock: Progress) -> list[list[str]]:
    try:
        with open(path, encoding="utf-8") as f:
            lines = [line.strip() for line in f]
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from exc
    lines = [line.lower() if lowercase else line for line in lines if line]
    if tokenizer_file is None:
        return [line.split() for line in lines]
    tokenizer = tokenizer_file.load()
    sentences = []
    with Progress(f"encoding {path}", unit="lines", stream=clock.stream, min_interval=1.0) as progress:
        for start in range(0, len(lines), ENCODE_CHUNK):
            batch = tokenizer.encode_batch(lines[start:start + ENCODE_CHUNK])
            sentences.extend([str(i) for i in ids] for ids in batch)
            progress(len(sentences), len(lines))
    return sentences


def _is_npz(path: str) -> bool:
    return Path(path).suffix == ".npz"


def _train(args, clock: Progress) -> int:
    check_output_path(args.output)  # a bad -o fails now, not after training
    tokenizer_file = None if args.tokenizer is None else TokenizerFile.read(args.tokenizer)
    sentences = _read_sentences(args.train, tokenizer_file, lowercase=args.lowercase, clock=clock)
    start = clock.seconds
    with Progress("training", unit="steps", stream=clock.stream) as progress:
        model = train_ngram(
            sentences,
            order=args.order,
            smoothing=args.smoothing,
            min_count=args.min_count,
            k=args.k,
            alpha=args.alpha,
            metadata=_preprocessing(tokenizer_file, lowercase=args.lowercase),
            progress=progress,
        )
    clock.message(f"trained {model!r} on {len(sentences)} sentences in {clock.seconds - start:.2f} s")
    clock.message("n-grams per order: " + " ".join(str(n) for n in model.counts))
    for k, d in enumerate(model.discounts, start=1):
        clock.message(f"discounts order {k}: " + " ".join(f"{x:.6g}" for x in d))
    if _is_npz(args.output):
        model.save(args.output)
    else:
        with Progress(f"writing {args.output}", unit="orders", stream=clock.stream) as progress:
            model.to_arpa(args.output, progress=progress)
    clock.message(f"wrote {args.output} ({clock.seconds:.2f} s in all)")
    return 0


def _eval_preprocessing(args, model) -> tuple[TokenizerFile | None, bool]:
    """The tokenizer and lowercasing to read the test text with: the model's record, checked against the
    options; for a model without one (ARPA), the options as given."""
    given = None if args.tokenizer is None else TokenizerFile.read(args.tokenizer)
    record = model.metadata
    if "preprocessing" not in record:
        return given, args.lowercase
    check_same(record["tokenizer"], given, model=args.model)
    lowercase = record["preprocessing"]["lowercase"]
    if args.lowercase and not lowercase:
        raise ValueError(f"{args.model} was trained on text that was not lowercased: drop --lowercase")
    return given, lowercase


def _eval(args, clock: Progress) -> int:
    model = NgramModel.load(args.model) if _is_npz(args.model) else NgramModel.from_arpa(args.model)
    tokenizer_file, lowercase = _eval_preprocessing(args, model)
    sentences = _read_sentences(args.test, tokenizer_file, lowercase=lowercase, clock=clock)
    with Progress("evaluating", unit="sentences", stream=clock.stream, min_interval=1.0) as progress:
        ev = model.evaluate(sentences, progress=progress)
    words = ev.n_tokens - ev.n_sentences  # the </s> of each sentence is never out of vocabulary
    if words and ev.n_oov / words > OOV_WARNING:
        clock.message(f"lm ngram eval: warning: {ev.n_oov / words:.1%} of the {words} test tokens are not in the "
                      f"model's vocabulary (more than {OOV_WARNING:.0%}): was the model trained with this "
                      f"tokenizer and preprocessing?")
    clock.message(f"evaluated {ev.n_sentences} sentences in {clock.seconds:.2f} s (reading the model included)")
    print(f"sentences\t{ev.n_sentences}")
    print(f"tokens\t{ev.n_tokens}")
    print(f"oov\t{ev.n_oov}")
    print(f"log10_prob\t{ev.log10_prob:.6f}")
    print(f"perplexity\t{ev.perplexity:.6f}")
    print(f"perplexity_excluding_oov\t{ev.perplexity_excluding_oov:.6f}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lm ngram", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train a model on a text file (one sentence per line)")
    train.add_argument("train", help="training text, one sentence per line")
    train.add_argument("-o", "--output", required=True, help="model path: .arpa, .arpa.gz or .npz")
    train.add_argument("--order", type=int, default=3)
    train.add_argument("--smoothing", choices=SMOOTHINGS, default="mkn")
    train.add_argument("--min-count", type=int, default=1, help="rarer tokens become <unk>")
    train.add_argument("-k", type=float, default=1.0, help="add_k: the added count")
    train.add_argument("--alpha", type=float, default=0.4, help="stupid_backoff: the backoff factor")
    train.add_argument("--tokenizer", help="a fasttok tokenizer file: model its token ids")
    train.add_argument("--lowercase", action="store_true", help="lowercase every line first")
    ev = sub.add_parser("eval", help="perplexity and OOV count of a model on a text file")
    ev.add_argument("model", help="model path: .arpa, .arpa.gz or .npz")
    ev.add_argument("test", help="test text, one sentence per line")
    ev.add_argument("--tokenizer", help="the fasttok tokenizer file the model was trained with (a .npz model "
                                        "records it and refuses another)")
    ev.add_argument("--lowercase", action="store_true",
                    help="lowercase every line first (a .npz model records whether it was trained so)")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    # created first, so the times it reports cover the whole command
    with Progress(f"lm ngram {args.command}") as clock:
        try:
            return _train(args, clock) if args.command == "train" else _eval(args, clock)
        except (ValueError, TypeError, OSError) as exc:
            clock.message(f"lm ngram {args.command}: error: {exc}")
            return 1


if __name__ == "__main__":
    sys.exit(main())
