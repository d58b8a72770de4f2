"""`python -m lm bert train`: masked-LM pre-training of a small BERT on a text file's fasttok tokens.

    python -m lm bert train --tokenizer tok.json --steps 1000 -o bert.npz train.txt

[PAD] and [MASK] are the tokenizer's own when it has them (a WordPiece vocabulary does), else they are
appended after its vocabulary (ids V and V + 1); its other special tokens ([CLS], [SEP], [UNK]) are never
masked. Validation reports the MLM loss on masked positions of ``--eval-iters`` held-out batches (a fixed
masking, seeded by ``--seed``).
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from .cli_gpt import (add_model_args, add_train_args, bounded_eval, load_corpus_ids, make_config, run_cli,
                      run_training)
from .data import mlm_batches, special_ids
from .nn import BERT, BERTConfig


def _train(args):
    tokenizer_file, tok, train_ids, val_ids = load_corpus_ids(args, args.block_size)
    sp = special_ids(tok.vocab_size, tokenizer_specials=tok.special_tokens)
    cfg = make_config(BERTConfig, vocab_size=sp.vocab_size, block_size=args.block_size, n_layer=args.n_layer,
                      n_head=args.n_head, d_model=args.d_model, dropout=args.dropout,
                      label_smoothing=args.label_smoothing)
    rng = np.random.default_rng(args.seed)
    model = BERT(cfg, rng=rng)
    batches = mlm_batches(train_ids, batch_size=args.batch_size, block_size=args.block_size, specials=sp, rng=rng)
    eval_fn = None
    if args.val_fraction:
        eval_fn = bounded_eval(args, lambda r: mlm_batches(val_ids, batch_size=args.batch_size,
                                                           block_size=args.block_size, specials=sp, rng=r))
    return run_training(args, model, batches, eval_fn, rng,
                        tokenizer_file=tokenizer_file, extra={"pad": sp.pad, "mask": sp.mask})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="lm bert", description="masked-LM encoder in numpy")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="MLM pre-training on a text file")
    add_train_args(p, eval_iters=4)
    add_model_args(p)
    p.set_defaults(func=_train)
    return run_cli(ap, argv, "bert")


if __name__ == "__main__":
    sys.exit(main())
