"""`python -m lm gpt train|sample|eval`: train a GPT on a text file's fasttok tokens, sample from it,
and measure its perplexity on a text.

    python -m lm gpt train --tokenizer tok.json --steps 2000 -o gpt.npz train.txt
    python -m lm gpt sample gpt.npz --prompt "ROMEO:" -n 200 --temperature 0.8 --top-k 40
    python -m lm gpt eval gpt.npz heldout.txt

The helpers here (tokenizer loading, shared training options) are reused by cli_bert and cli_t5.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from fasttok._files import check_output_path
from fasttok._progress import Progress  # the progress printer of both packages' command lines

from . import checkpoint as ckpt
from .data import causal_batches, causal_eval_batches, encode_corpus, split_ids
from .nn import GPT, GPTConfig
from .optim import AdamW
from .plot import plot_history
from .schedules import make_schedule
from .tokenizer_file import TokenizerFile, TokenizerFileError, check_same
from .train import TrainingDivergedError, evaluate, train


def run_cli(parser, argv, name):
    """Parse argv and run the chosen command; a CLIError becomes a message and exit status 2.

    The command gets `args.progress`, the `Progress` its stderr lines go through; made before any work,
    so the time it reports covers the whole command."""
    args = parser.parse_args(argv)
    with Progress(f"lm {name} {args.command}", unit="steps") as args.progress:
        try:
            return args.func(args)
        except CLIError as exc:
            args.progress.message(f"lm {name}: error: {exc}")
            return 2
        except OSError as exc:  # e.g. the disk filled up while writing a checkpoint
            args.progress.message(f"lm {name}: error: {exc}")
            return 2


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def load_tokenizer(path):
    """(TokenizerFile, tokenizer) of the file at `path`."""
    try:
        tokenizer_file = TokenizerFile.read(path)
        return tokenizer_file, tokenizer_file.load()
    except TokenizerFileError as exc:
        raise CLIError(str(exc)) from None


def read_text(path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CLIError(f"cannot read {path}: {exc}") from None


def add_model_args(p, *, block_size=64):
    g = p.add_argument_group("model")
    g.add_argument("--block-size", type=int, default=block_size, help="context length (default %(default)s)")
    g.add_argument("--n-layer", type=int, default=2, help="transformer blocks (default %(default)s)")
    g.add_argument("--n-head", type=int, default=4, help="attention heads (default %(default)s)")
    g.add_argument("--d-model", type=int, default=128, help="residual width (default %(default)s)")
    g.add_argument("--dropout", type=float, default=0.0, help="dropout probability (default %(default)s)")
    g.add_argument("--label-smoothing", type=float, default=0.0, help="ε of the loss (default %(default)s)")


def _count(text: str) -> int:
    """An argparse type: an integer >= 0."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


DEFAULT_WARMUP = 100  # warm-up steps, unless --steps is short: then a tenth of the run (default_warmup)


def default_warmup(steps: int) -> int:
    """--warmup when not given: at most a tenth of the run, so a short run is not all warm-up."""
    return min(DEFAULT_WARMUP, steps // 10)


def add_train_args(p, *, eval_iters=0):
    """The training options; `eval_iters` is the family's default of --eval-iters (0: the whole
    validation set, which only the causal LM has: the other objectives draw random maskings)."""
    p.add_argument("corpus", help="UTF-8 training text")
    p.add_argument("--tokenizer", required=True, help="fasttok tokenizer file (fasttok.load)")
    p.add_argument("-o", "--output", required=True, help="checkpoint path (.npz), written atomically")
    g = p.add_argument_group("training")
    g.add_argument("--steps", type=int, default=1000, help="optimizer steps (default %(default)s)")
    g.add_argument("--batch-size", type=int, default=32, help="sequences per step (default %(default)s)")
    g.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default %(default)s)")
    g.add_argument("--schedule", default="cosine", choices=["constant", "inverse_sqrt", "cosine", "exponential"])
    g.add_argument("--warmup", type=int, default=None,
                   help=f"linear warm-up steps (default min({DEFAULT_WARMUP}, steps // 10))")
    g.add_argument("--gamma", type=float, default=0.999, help="decay factor of the exponential schedule")
    g.add_argument("--weight-decay", type=float, default=0.1, help="AdamW decoupled decay (default %(default)s)")
    g.add_argument("--clip", type=float, default=1.0, help="global gradient-norm clip (default %(default)s)")
    g.add_argument("--val-fraction", type=float, default=0.1, help="tail of the corpus held out (default %(default)s)")
    g.add_argument("--eval-every", type=int, default=200, help="evaluate every N steps (default %(default)s)")
    g.add_argument("--eval-iters", type=_count, default=eval_iters,
                   help="estimate the validation loss on N random batches, the same N at every evaluation "
                        "(seeded by --seed); 0: every validation window (default %(default)s)")
    g.add_argument("--checkpoint-every", type=int, default=500, help="checkpoint every N steps (default %(default)s)")
    g.add_argument("--resume", action="store_true", help="continue from the checkpoint at --output")
    g.add_argument("--plot", help="write the loss curves to this PNG (needs matplotlib)")
    g.add_argument("--seed", type=int, default=0, help="seed of initialisation, data order and dropout")


def make_schedule_from(args):
    steps = args.steps
    warm = default_warmup(steps) if args.warmup is None else args.warmup
    warm = min(warm, max(steps - 1, 0))
    if args.schedule == "cosine":
        return make_schedule("cosine", lr_max=args.lr, n_warmup=warm, n_total=max(steps, warm + 1), lr_min=args.lr / 10)
    if args.schedule == "inverse_sqrt":
        return make_schedule("inverse_sqrt", lr_max=args.lr, n_warmup=max(warm, 1))
    if args.schedule == "exponential":
        return make_schedule("exponential", lr_max=args.lr, n_warmup=warm, gamma=args.gamma)
    return make_schedule("constant", lr_max=args.lr, n_warmup=warm)


def run_training(args, model, batches, eval_fn, rng, *, tokenizer_file, extra=None):
    """Shared by the gpt/bert/t5 `train` commands: optimiser, optional resume, loop, plot. Every
    checkpoint embeds `tokenizer_file` and carries `extra` (special ids) for `sample` and `eval`."""
    opt = AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    start, history = 0, None
    if args.resume:
        if not Path(args.output).exists():
            raise CLIError(f"--resume: no checkpoint at {args.output}")
        try:
            meta = ckpt.load_into(args.output, model, optimizer=opt, rng=rng)
        except ckpt.CheckpointError as exc:
            raise CLIError(f"--resume: {exc}") from None
        start, history = meta["step"], meta["history"]
        args.progress.message(f"resuming from step {start}")
    args.progress.message(f"{type(model).__name__}: {model.n_params():,} parameters")
    # the source path too, so a checkpoint written before tokenizers were embedded is still readable
    extra = {"tokenizer": tokenizer_file.path, **(extra or {})}
    try:
        history = train(model, batches, optimizer=opt, steps=args.steps, schedule=make_schedule_from(args),
                        eval_batches=eval_fn, eval_every=args.eval_every, clip=args.clip,
                        checkpoint_path=args.output, checkpoint_every=args.checkpoint_every, start_step=start,
                        rng=rng, history=history, progress=args.progress,
                        checkpoint_options={"extra": extra, "tokenizer": tokenizer_file})
    except TrainingDivergedError as exc:
        raise CLIError(str(exc)) from None
    if args.plot:
        plot_history(history, args.plot)
    args.progress.message(f"wrote {args.output} ({args.progress.seconds:.1f} s in all)")
    if history["eval_loss"]:
        loss = history["eval_loss"][-1]
        print(json.dumps({"val_loss": round(loss, 4), "val_ppl": round(math.exp(loss), 2)}))
    return 0


def check_outputs(args):
    """Fail now, not after training, when -o or --plot cannot be written (-o's directory is created, as
    the checkpoint writer would)."""
    try:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        check_output_path(args.output)
        if args.plot:
            check_output_path(args.plot)
    except OSError as exc:
        raise CLIError(f"cannot write {exc.filename}: {exc.strerror}") from None


def load_corpus_ids(args, need):
    """(tokenizer file, tokenizer, train ids, validation ids) of args.corpus; CLIError when a split is
    shorter than `need`."""
    check_outputs(args)
    tokenizer_file, tok = load_tokenizer(args.tokenizer)
    ids = encode_corpus(read_text(args.corpus), tok)
    train_ids, val_ids = split_ids(ids, val_fraction=args.val_fraction)
    if len(train_ids) < need or (args.val_fraction and len(val_ids) < need):
        raise CLIError(f"corpus too short: {len(ids)} tokens for windows of {need} (train and validation)")
    return tokenizer_file, tok, train_ids, val_ids


def eval_rng(seed: int) -> np.random.Generator:
    """The generator of the validation batches: the first child of the run's seed sequence, so evaluating
    never draws from (and never shifts) the training batches' generator, and a resumed run sees the same
    batches."""
    return np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])


def bounded_eval(args, batches_from):
    """`eval_batches` for `train`: the same args.eval_iters batches at every evaluation (so successive
    figures differ only through the model), the first ones `batches_from(rng)` yields with `eval_rng`."""
    if args.eval_iters < 1:
        raise CLIError(f"--eval-iters must be >= 1 here, got {args.eval_iters}")

    def eval_fn():
        gen = batches_from(eval_rng(args.seed))
        return [next(gen) for _ in range(args.eval_iters)]
    return eval_fn


def make_config(cls, **fields):
    """A model config, with its validation errors reported as CLIError."""
    try:
        return cls(**fields)
    except (ValueError, TypeError) as exc:
        raise CLIError(str(exc)) from None


def _train(args):
    tokenizer_file, tok, train_ids, val_ids = load_corpus_ids(args, args.block_size + 1)
    cfg = make_config(GPTConfig, vocab_size=tok.vocab_size, block_size=args.block_size, n_layer=args.n_layer,
                      n_head=args.n_head, d_model=args.d_model, dropout=args.dropout,
                      label_smoothing=args.label_smoothing)
    rng = np.random.default_rng(args.seed)
    model = GPT(cfg, rng=rng)
    batches = causal_batches(train_ids, batch_size=args.batch_size, block_size=args.block_size, rng=rng)
    eval_fn = None
    if args.val_fraction and args.eval_iters:
        eval_fn = bounded_eval(args, lambda r: causal_batches(val_ids, batch_size=args.batch_size,
                                                              block_size=args.block_size, rng=r))
    elif args.val_fraction:  # every validation token predicted once: the exact validation perplexity
        eval_fn = lambda: causal_eval_batches(val_ids, batch_size=args.batch_size, block_size=args.block_size)  # noqa
    return run_training(args, model, batches, eval_fn, rng, tokenizer_file=tokenizer_file)


def load_checkpoint(path, *, family, command):
    """(model, meta) of the checkpoint at `path`, which must hold a `family` model: another family's
    weights would give a traceback or a meaningless number."""
    try:
        meta = ckpt.read_meta(path)
        if meta["family"] != family:
            raise CLIError(f"{path} holds a {meta['family']} checkpoint, not a {family} one: "
                           f"`lm {family} {command}` reads {family} checkpoints only")
        return ckpt.load(path)
    except (ckpt.CheckpointError, FileNotFoundError) as exc:
        raise CLIError(str(exc)) from None


def load_checkpoint_and_tokenizer(path, tokenizer=None, *, command):
    """(model, meta, tokenizer): the tokenizer embedded in the checkpoint, or `tokenizer` (a path), which
    must then be that same file; a checkpoint from before tokenizers were embedded names a path."""
    model, meta = load_checkpoint(path, family="gpt", command=command)
    try:
        embedded = ckpt.read_tokenizer(path)
    except ckpt.CheckpointError as exc:
        raise CLIError(str(exc)) from None
    if tokenizer is not None:
        tokenizer_file, tok = load_tokenizer(tokenizer)
        if embedded is not None:
            try:
                check_same(embedded.record(), tokenizer_file, model=path)
            except TokenizerFileError as exc:
                raise CLIError(f"{exc} (leave --tokenizer out to use the embedded copy)") from None
    elif embedded is not None:
        try:
            tok = embedded.load()
        except TokenizerFileError as exc:
            raise CLIError(str(exc)) from None
    elif meta["extra"].get("tokenizer"):
        tok = load_tokenizer(meta["extra"]["tokenizer"])[1]
    else:
        raise CLIError(f"{path} holds no tokenizer and names none: pass --tokenizer")
    if tok.vocab_size != model.config.vocab_size:
        raise CLIError(f"the tokenizer has {tok.vocab_size} ids but the model in {path} has "
                       f"{model.config.vocab_size}: it is not the tokenizer the model was trained with")
    return model, meta, tok


def _sample(args):
    model, meta, tok = load_checkpoint_and_tokenizer(args.checkpoint, args.tokenizer, command="sample")
    ids = list(tok.encode(args.prompt)) if args.prompt else []
    if not ids:
        raise CLIError("--prompt must encode to at least one token")
    try:
        out = model.generate(np.array(ids), args.tokens, temperature=args.temperature, top_k=args.top_k,
                             rng=np.random.default_rng(args.seed))
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    print(tok.decode([int(i) for i in out]))
    return 0


def _eval(args):
    model, meta, tok = load_checkpoint_and_tokenizer(args.checkpoint, args.tokenizer, command="eval")
    ids = encode_corpus(read_text(args.text), tok)
    bs = model.config.block_size
    if len(ids) < bs + 1:
        raise CLIError(f"text too short: {len(ids)} tokens, need {bs + 1}")
    loss = evaluate(model, causal_eval_batches(ids, batch_size=32, block_size=bs))
    print(json.dumps({"tokens": int(len(ids)), "loss": round(loss, 4), "ppl": round(math.exp(loss), 3)}))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="lm gpt", description="decoder-only transformer LM in numpy")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train a GPT on a text file")
    add_train_args(p)
    add_model_args(p)
    p.set_defaults(func=_train)
    p = sub.add_parser("sample", help="sample a continuation of a prompt")
    p.add_argument("checkpoint")
    p.add_argument("--prompt", required=True)
    p.add_argument("-n", "--tokens", type=int, default=200, help="tokens to generate (default %(default)s)")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-k", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tokenizer", help="the tokenizer file, if the checkpoint does not embed it (it must be "
                                       "the same file)")
    p.set_defaults(func=_sample)
    p = sub.add_parser("eval", help="per-token loss and perplexity of a text")
    p.add_argument("checkpoint")
    p.add_argument("text")
    p.add_argument("--tokenizer", help="the tokenizer file, if the checkpoint does not embed it (it must be "
                                       "the same file)")
    p.set_defaults(func=_eval)
    return run_cli(ap, argv, "gpt")


if __name__ == "__main__":
    sys.exit(main())
