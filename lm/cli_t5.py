"""`python -m lm t5 train`: span-corruption pre-training of a small T5-style encoder-decoder.

    python -m lm t5 train --tokenizer tok.json --steps 1000 -o t5.npz train.txt

[PAD] and [MASK] (unused) are the tokenizer's own when it has them, else appended after its vocabulary;
``--sentinels`` sentinel ids are always appended.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from .cli_gpt import (add_model_args, add_train_args, bounded_eval, load_corpus_ids, make_config, run_cli,
                      run_training)
from .data import span_batches, special_ids
from .nn import T5, T5Config


def _train(args):
    tokenizer_file, tok, train_ids, val_ids = load_corpus_ids(args, args.block_size)
    sp = special_ids(tok.vocab_size, n_sentinels=args.sentinels, tokenizer_specials=tok.special_tokens)
    # noise tokens + one sentinel per span, with headroom for rounding
    target_size = args.target_size or int(args.block_size * args.noise_density * 1.5) + 8
    cfg = make_config(T5Config, vocab_size=sp.vocab_size, block_size=args.block_size, target_size=target_size,
                      n_layer=args.n_layer, n_head=args.n_head, d_model=args.d_model, dropout=args.dropout,
                      label_smoothing=args.label_smoothing)
    rng = np.random.default_rng(args.seed)
    model = T5(cfg, rng=rng)
    opts = dict(batch_size=args.batch_size, block_size=args.block_size, target_size=target_size, specials=sp,
                noise_density=args.noise_density, mean_span_length=args.mean_span_length)
    batches = span_batches(train_ids, rng=rng, **opts)
    eval_fn = None
    if args.val_fraction:
        eval_fn = bounded_eval(args, lambda r: span_batches(val_ids, rng=r, **opts))
    return run_training(args, model, batches, eval_fn, rng,
                        tokenizer_file=tokenizer_file, extra={"pad": sp.pad, "mask": sp.mask,
                                                              "sentinels": list(sp.sentinels)})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="lm t5", description="span-corruption encoder-decoder in numpy")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="span-corruption pre-training on a text file")
    add_train_args(p, eval_iters=4)
    add_model_args(p)
    p.add_argument("--sentinels", type=int, default=32, help="sentinel ids to reserve (default %(default)s)")
    p.add_argument("--noise-density", type=float, default=0.15)
    p.add_argument("--mean-span-length", type=float, default=3.0)
    p.add_argument("--target-size", type=int, default=0, help="decoder length (default: from the noise density)")
    p.set_defaults(func=_train)
    return run_cli(ap, argv, "t5")


if __name__ == "__main__":
    sys.exit(main())
