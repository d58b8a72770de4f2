"""`lm ngram|gpt|bert|t5|rlhf ...`: the one command line of the lm package (also `python -m lm ...`).

    lm ngram train --order 3 --smoothing mkn -o model.arpa TRAIN.txt
    lm ngram eval model.arpa TEST.txt
    lm gpt train --tokenizer tok.fasttok --steps 2000 -o gpt.npz train.txt
    lm gpt sample gpt.npz --prompt "ROMEO:" -n 200 --temperature 0.8 --top-k 40
    lm gpt eval gpt.npz heldout.txt
    lm bert train --tokenizer tok.fasttok --steps 1000 -o bert.npz train.txt
    lm t5 train --tokenizer tok.fasttok --steps 1000 -o t5.npz train.txt
    lm rlhf demo [--quick] [--json] [--tokenizer auto|bpe|char]

Model and training options are not written here: `add_config_options` makes one flag per field of a config
dataclass (`GPTConfig`, `BERTConfig`, `T5Config`, `TrainingConfig`, the RLHF demo's `DemoConfig` and
`PPOConfig`), with the field's type, default and comment. Only what belongs to the command line itself
(paths, `--seed`, `--plot`, ...) is spelled out, and where a command's default differs from its field's,
`CLI_DEFAULTS` says so and why.

Every command ends the same way (`main`): exit status 0 when it worked; 1 and one line
`lm <family>: error: ...` on stderr for a runtime or data error (an unreadable file, a damaged checkpoint, a
tokenizer mismatch, a diverged run); 2 and one line for a usage error (argparse's, or an option value a config
refuses); 130 and one line on Ctrl-C. No traceback in any of these cases.

Options about n-gram training and T5 span corruption take their defaults from the keyword parameters of
`train_ngram` and `span_batches` (`add_keyword_options`), which have no config dataclass.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import importlib.util
import inspect
import json
import math
import re
import sys
import typing
from pathlib import Path

import numpy as np

import fasttok
from fasttok._files import check_output_path
from fasttok._progress import Progress  # the progress printer of both packages' command lines

from . import checkpoint as ckpt
from .data import (causal_batches, causal_eval_batches, encode_corpus, mlm_batches, span_batches, special_ids,
                   split_ids)
from .ngram import SMOOTHINGS, NgramModel, check_train_options, train_ngram
from .ngram.model import EVAL_CHUNK
from .nn import BERT, GPT, T5, BERTConfig, GPTConfig, T5Config
from .nn.generation import check_sampling
from .optim import AdamW
from .plot import plot_history
from .rlhf import demo
from .rlhf.demo import DemoConfig, bpe_config, format_table, quick_config, run_demo
from .rlhf.ppo import PPOConfig
from .tokenizer_file import TokenizerFile, TokenizerFileError, check_same
from .train import TrainingConfig, eval_rng, evaluate, train  # TrainingDivergedError is a ValueError: status 1

DISTRIBUTION = "fasttok"  # lm ships inside the fasttok distribution (one pyproject.toml)

# ----------------------------------------------------------------------------- exit statuses and errors

EXIT_OK = 0
EXIT_ERROR = 1         # a runtime or data error: CommandError, OSError, ValueError (the library's errors)
EXIT_USAGE = 2         # a bad command line: UsageError (argparse's errors become one too)
EXIT_INTERRUPTED = 130  # Ctrl-C: 128 + SIGINT, as a shell reports it


class CommandError(Exception):
    """A runtime or data error of a command: one line on stderr, exit status 1."""


class UsageError(CommandError):
    """A bad command line: one line on stderr, exit status 2. `prog` is the (sub)command it concerns."""

    def __init__(self, message, prog=None):
        super().__init__(message)
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are raised (as UsageError), so `main` reports them like the rest."""

    def error(self, message):
        raise UsageError(message, self.prog)


def _family_prefix(prog: str) -> str:
    """"lm gpt train" -> "lm gpt": the name every error line of a family starts with."""
    return " ".join(prog.split()[:2])


def version() -> str:
    """The version of the installed distribution; from a source tree that is not installed, the
    package's own `fasttok.__version__`."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return fasttok.__version__


def main(argv=None) -> int:
    """Run one command line; returns the exit status (see the module docstring)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    if not argv:
        parser.print_usage(sys.stderr)
        return EXIT_USAGE
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        print(f"{_family_prefix(exc.prog)}: error: {exc} (see `{exc.prog} --help`)", file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as exc:  # --help or --version: printed, nothing else to do
        return exc.code
    prog = f"lm {args.family} {args.command}"
    name = _family_prefix(prog)
    # made before any work, so the time it reports covers the whole command
    with Progress(prog, unit="steps") as progress:
        try:
            return args.run(args, progress)
        except UsageError as exc:
            progress.message(f"{name}: error: {exc} (see `{exc.prog or prog} --help`)")
            return EXIT_USAGE
        except (CommandError, OSError, ValueError) as exc:
            progress.message(f"{name}: error: {exc}")
            return EXIT_ERROR
        except KeyboardInterrupt:
            progress.message(f"{name}: interrupted")
            return EXIT_INTERRUPTED


# ----------------------------------------------------------------------------- options from dataclasses

# Where a command's default differs from its dataclass field's: (default, why), shown in the option's help.
CLI_DEFAULTS = {
    "bert": {"eval_iters": (4, "masked LM draws random maskings: there is no whole-validation-set figure")},
    "t5": {"eval_iters": (4, "span corruption draws random spans: there is no whole-validation-set figure"),
           "target_size": (0, "0: from --block-size and --noise-density")},
}
DERIVED = {"vocab_size"}  # model config fields a train command computes (from the tokenizer), never options

_COMMENTED_FIELD = re.compile(r"^\s+(\w+)\s*:[^#]*#\s*(.+?)\s*$")


def field_comments(cls) -> dict[str, str]:
    """{field name: its trailing comment} of the dataclass `cls` and its dataclass bases (a subclass's
    comment wins), read from the source: the configs document their fields as `name: type = default  # ...`."""
    names = {f.name for f in dataclasses.fields(cls)}
    comments = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            source = inspect.getsource(klass)
        except (OSError, TypeError):  # no source (a frozen or zipped install): options without help
            continue
        for line in source.splitlines():
            match = _COMMENTED_FIELD.match(line)
            if match and match.group(1) in names:
                comments[match.group(1)] = match.group(2)
    return comments


def _flag(name: str) -> str:
    return f"-{name}" if len(name) == 1 else "--" + name.replace("_", "-")


def _scalar_type(hint):
    """int, float, str or bool of an annotation such as `int` or `int | None`; None for anything else
    (a nested config, a tuple)."""
    args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    return args[0] if len(args) == 1 and args[0] in (int, float, str, bool) else None


def _at_least(convert, minimum):
    """An argparse type: `convert`, then refuse values below `minimum`."""
    def parse(text):
        value = convert(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value
    parse.__name__ = convert.__name__  # argparse names the type in "invalid int value"
    return parse


def add_config_options(group, cls, *, defaults=None, skip=(), prefix="", shown=None):
    """One option per scalar field of the dataclass `cls`: `--field-name` (`-k` for a one-letter field), typed
    by the annotation (a bool is `--name/--no-name`), its default the field's unless `defaults` names another
    ({field: (default, why)}, as in CLI_DEFAULTS); a field without a default is a required option. Help from
    `metadata["help"]` or the field's comment, choices from `metadata["choices"]`, a lower bound from
    `metadata["min"]`. Nested configs and the fields in `skip` are left out.

    With `prefix` the flags and destinations are prefixed (`--ppo-lr` -> args.ppo_lr). With `shown` (an
    instance of `cls`) an option is an override: absent from `args` unless given, its help showing the
    value it overrides (see `config_overrides`)."""
    defaults = defaults or {}
    hints = typing.get_type_hints(cls)
    comments = field_comments(cls)
    for f in dataclasses.fields(cls):
        kind = _scalar_type(hints[f.name])
        if f.name in skip or kind is None:
            continue
        text = (f.metadata.get("help") or comments.get(f.name, "")).replace("%", "%%")  # argparse formats help
        options = {"dest": prefix + f.name}
        if shown is not None:
            options["default"] = argparse.SUPPRESS
            text += f" (default {getattr(shown, f.name)})"
        elif f.name in defaults:
            options["default"], why = defaults[f.name]
            text += f" (default %(default)s; {why})"
        elif f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
            options["default"] = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            if options["default"] is not None:  # None: the comment says what happens then
                text += " (default %(default)s)"
        else:
            options["required"] = True
        if kind is bool:
            options["action"] = argparse.BooleanOptionalAction
        else:
            options["type"] = _at_least(kind, f.metadata["min"]) if "min" in f.metadata else kind
            options["choices"] = f.metadata.get("choices")
            options["metavar"] = None if options["choices"] else f.name.upper()
        group.add_argument(_flag(prefix + f.name), help=text.strip(), **options)


def config_from(cls, args, **derived):
    """An instance of `cls` from the options `add_config_options` made for it, and the `derived` fields;
    a value the config refuses is a usage error."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)
              if f.name not in derived and hasattr(args, f.name)}
    try:
        return cls(**values, **derived)
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc)) from None


def config_overrides(args, cls, *, prefix="") -> dict:
    """{field: value} of the override options (`add_config_options(..., shown=...)`) that were given."""
    return {f.name: getattr(args, prefix + f.name) for f in dataclasses.fields(cls) if hasattr(args, prefix + f.name)}


def add_keyword_options(group, fn, helps: dict, *, choices=None, minimums=None):
    """One option per name in `helps`, a keyword parameter of `fn` whose default (and its type) it takes;
    `choices` and `minimums` ({name: value}) make argparse refuse other values (a usage error)."""
    params = inspect.signature(fn).parameters
    for name, text in helps.items():
        default = params[name].default
        kind = _at_least(type(default), minimums[name]) if name in (minimums or {}) else type(default)
        group.add_argument(_flag(name), type=kind, default=default, choices=(choices or {}).get(name),
                           help=f"{text} (default %(default)s)" if text else "default %(default)s")


# ----------------------------------------------------------------------------- n-gram models

OOV_WARNING = 0.10  # an OOV rate above this usually means another tokenizer or preprocessing
ENCODE_CHUNK = 10_000  # lines encoded at a time, with a progress line after each


def _ngram_record(tokenizer_file: TokenizerFile | None, *, lowercase: bool) -> dict:
    """The record of how sentences are made from lines, as a model's metadata stores it."""
    return {"tokenizer": None if tokenizer_file is None else tokenizer_file.record(),
            "preprocessing": {"tokens": "words" if tokenizer_file is None else "tokenizer ids",
                              "lowercase": bool(lowercase)}}


def _read_sentences(path, tokenizer_file: TokenizerFile | None, *, lowercase: bool,
                    progress: Progress) -> list[list[str]]:
    """The non-empty lines of `path` ("-": standard input) as sentences: whitespace-separated words, or the
    tokenizer's ids as decimal strings (so ARPA and .npz models read back the same)."""
    try:
        if path == "-":  # standard input, as lmplz reads its corpus
            lines = [line.strip() for line in sys.stdin]
        else:
            with open(path, encoding="utf-8") as f:
                lines = [line.strip() for line in f]
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"cannot read {'standard input' if path == '-' else path}: {exc}") from None
    lines = [line.lower() if lowercase else line for line in lines if line]
    if tokenizer_file is None:
        return [line.split() for line in lines]
    tokenizer = tokenizer_file.load()
    sentences = []
    with Progress(f"encoding {path}", unit="lines", stream=progress.stream, min_interval=1.0) as encoding:
        for start in range(0, len(lines), ENCODE_CHUNK):
            batch = tokenizer.encode_batch(lines[start:start + ENCODE_CHUNK])
            sentences.extend([str(i) for i in ids] for ids in batch)
            encoding(len(sentences), len(lines))
    return sentences


def _is_npz(path) -> bool:
    return Path(path).suffix == ".npz"


def ngram_train(args, progress: Progress) -> int:
    try:  # option values out of range are usage errors, found before any data is read
        check_train_options(order=args.order, smoothing=args.smoothing, min_count=args.min_count, k=args.k,
                            alpha=args.alpha, discount=args.discount)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    check_output_path(args.output)  # a bad -o fails now, not after training
    if args.prune is not None:
        try:
            train_ngram([["x"]], order=args.order, smoothing=args.smoothing, prune=args.prune)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    tokenizer_file = None if args.tokenizer is None else TokenizerFile.read(args.tokenizer)
    vocabulary = None if args.vocabulary is None else read_text(args.vocabulary).split()
    sentences = _read_sentences(args.train, tokenizer_file, lowercase=args.lowercase, progress=progress)
    start = progress.seconds
    with Progress("training", unit="steps", stream=progress.stream) as training:
        model = train_ngram(sentences, order=args.order, smoothing=args.smoothing, min_count=args.min_count,
                            k=args.k, alpha=args.alpha, discount=args.discount, progress=training,
                            max_vocab_size=args.max_vocab_size, vocabulary=vocabulary, prune=args.prune,
                            metadata=_ngram_record(tokenizer_file, lowercase=args.lowercase))
    progress.message(f"trained {model!r} on {len(sentences)} sentences in {progress.seconds - start:.2f} s")
    progress.message("n-grams per order: " + " ".join(str(n) for n in model.counts))
    for k, d in enumerate(model.discounts, start=1):
        progress.message(f"discounts order {k}: " + " ".join(f"{x:.6g}" for x in d))
    if _is_npz(args.output):
        model.save(args.output)
    else:
        with Progress(f"writing {args.output}", unit="orders", stream=progress.stream) as writing:
            model.to_arpa(args.output, progress=writing)
    progress.message(f"wrote {args.output} ({progress.seconds:.2f} s in all)")
    return EXIT_OK


def _ngram_eval_preprocessing(args, model) -> tuple[TokenizerFile | None, bool]:
    """The tokenizer and lowercasing to read the test text with: the model's record, checked against the
    options; for a model without one (ARPA), the options as given."""
    given = None if args.tokenizer is None else TokenizerFile.read(args.tokenizer)
    record = model.metadata
    if "preprocessing" not in record:
        return given, args.lowercase
    check_same(record["tokenizer"], given, model=args.model)
    lowercase = record["preprocessing"]["lowercase"]
    if args.lowercase and not lowercase:
        raise CommandError(f"{args.model} was trained on text that was not lowercased: drop --lowercase")
    return given, lowercase


def ngram_eval(args, progress: Progress) -> int:
    model = NgramModel.load(args.model) if _is_npz(args.model) else NgramModel.from_arpa(args.model)
    tokenizer_file, lowercase = _ngram_eval_preprocessing(args, model)
    sentences = _read_sentences(args.test, tokenizer_file, lowercase=lowercase, progress=progress)
    with Progress("evaluating", unit="sentences", stream=progress.stream, min_interval=1.0) as evaluating:
        ev = model.evaluate(sentences, progress=evaluating)
    words = ev.n_tokens - ev.n_sentences  # the </s> of each sentence is never out of vocabulary
    if words and ev.n_oov / words > OOV_WARNING:
        progress.message(f"lm ngram eval: warning: {ev.n_oov / words:.1%} of the {words} test tokens are not in "
                         f"the model's vocabulary (more than {OOV_WARNING:.0%}): was the model trained with this "
                         f"tokenizer and preprocessing?")
    progress.message(f"evaluated {ev.n_sentences} sentences in {progress.seconds:.2f} s (reading the model included)")
    if args.per_sentence:
        _print_sentence_scores(model, sentences)
    print(f"sentences\t{ev.n_sentences}")
    print(f"tokens\t{ev.n_tokens}")
    print(f"oov\t{ev.n_oov}")
    print(f"log10_prob\t{ev.log10_prob:.6f}")
    print(f"perplexity\t{ev.perplexity:.6f}")
    print(f"perplexity_excluding_oov\t{ev.perplexity_excluding_oov:.6f}")
    return EXIT_OK


def _print_sentence_scores(model, sentences) -> None:
    """One line per sentence (each non-empty input line), before the totals: log10 probability (`<s>` ... `</s>`,
    OOVs as `<unk>`), tokens scored (`</s>` included) and OOV tokens, tab-separated, like KenLM `query`'s
    per-sentence `Total:` and `OOV:`."""
    for start in range(0, len(sentences), EVAL_CHUNK):
        chunk = sentences[start:start + EVAL_CHUNK]
        scores = model.score_sentences(chunk)
        oov = [int((model.encode(s) == 0).sum()) for s in chunk]
        print("\n".join(f"{score:.6f}\t{len(s) + 1}\t{n}" for score, s, n in zip(scores.tolist(), chunk, oov)))


def _add_ngram(families):
    family = families.add_parser(
        "ngram", help="n-gram models: train on a text file, evaluate one",
        description="n-gram language models. Each non-empty line is one sentence; tokens are whitespace-separated "
                    "words, or with --tokenizer a fasttok tokenizer's ids. The model format follows the file name: "
                    ".arpa / .arpa.gz, or .npz (native, which records the tokenizer and preprocessing; eval then "
                    "refuses a different one).")
    sub = family.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train a model on a text file (one sentence per line)")
    p.add_argument("train", help="training text, one sentence per line; - reads standard input")
    p.add_argument("-o", "--output", required=True, help="model path: .arpa, .arpa.gz or .npz")
    add_keyword_options(p, train_ngram, {"order": "longest n-gram", "smoothing": "estimator",
                                         "min_count": "rarer tokens become <unk>",
                                         "k": "add_k: the added count", "alpha": "stupid_backoff: the backoff factor"},
                        choices={"smoothing": SMOOTHINGS}, minimums={"order": 1, "min_count": 1})
    p.add_argument("--discount", type=float, default=None,
                   help="kn, absolute: one fixed discount in (0, 1] for every order (default: estimated)")
    p.add_argument("--prune", type=_at_least(int, 0), nargs="+", default=None, metavar="T",
                   help="thresholds per order as lmplz --prune (e.g. 0 1 1): drop n-grams seen at most T times, "
                        "then renormalise the backoffs")
    p.add_argument("--max-vocab-size", type=_at_least(int, 0), default=None,
                   help="keep only the N most frequent words; the others become <unk>")
    p.add_argument("--vocabulary", help="a file of whitespace-separated words: the fixed vocabulary (others "
                                        "become <unk>; words never seen are kept with count 0)")
    p.add_argument("--tokenizer", help="a fasttok tokenizer file: model its token ids")
    p.add_argument("--lowercase", action="store_true", help="lowercase every line first")
    p.set_defaults(run=ngram_train)
    p = sub.add_parser("eval", help="perplexity and OOV count of a model on a text file")
    p.add_argument("model", help="model path: .arpa, .arpa.gz or .npz")
    p.add_argument("test", help="test text, one sentence per line; - reads standard input")
    p.add_argument("--per-sentence", action="store_true",
                   help="first print one line per sentence: log10 probability, tokens (</s> included), OOVs")
    p.add_argument("--tokenizer", help="the fasttok tokenizer file the model was trained with (a .npz model "
                                       "records it and refuses another)")
    p.add_argument("--lowercase", action="store_true",
                   help="lowercase every line first (a .npz model records whether it was trained so)")
    p.set_defaults(run=ngram_eval)


# ----------------------------------------------------------------------------- neural models: shared steps

def load_tokenizer(path):
    """(TokenizerFile, tokenizer) of the file at `path`."""
    tokenizer_file = TokenizerFile.read(path)
    return tokenizer_file, tokenizer_file.load()


def read_text(path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"cannot read {path}: {exc}") from None


def check_outputs(args):
    """Fail now, not after training, when -o or --plot cannot be written (-o's directory is created, as
    the checkpoint writer would), or when --plot is given without matplotlib."""
    if args.plot and importlib.util.find_spec("matplotlib") is None:
        raise CommandError("--plot needs matplotlib: pip install 'fasttok[plot]'")
    try:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        check_output_path(args.output)
        if args.plot:
            check_output_path(args.plot)
    except OSError as exc:
        raise CommandError(f"cannot write {exc.filename}: {exc.strerror}") from None


def load_corpus_ids(args, options: TrainingConfig, need: int):
    """(tokenizer file, tokenizer, train ids, validation ids) of args.corpus; an error when a split is
    shorter than `need`."""
    check_outputs(args)
    tokenizer_file, tok = load_tokenizer(args.tokenizer)
    ids = encode_corpus(read_text(args.corpus), tok)
    train_ids, val_ids = split_ids(ids, val_fraction=options.val_fraction)
    if len(train_ids) < need or (options.val_fraction and len(val_ids) < need):
        raise CommandError(f"corpus too short: {len(ids)} tokens for windows of {need} (train and validation)")
    return tokenizer_file, tok, train_ids, val_ids


def bounded_eval(options: TrainingConfig, seed: int, batches_from):
    """`eval_batches` for `train`: the same options.eval_iters batches at every evaluation (so successive
    figures differ only through the model), the first ones `batches_from(rng)` yields with `eval_rng`."""
    if options.eval_iters < 1:
        raise UsageError(f"--eval-iters must be >= 1 here, got {options.eval_iters}")

    def eval_fn():
        gen = batches_from(eval_rng(seed))
        return [next(gen) for _ in range(options.eval_iters)]
    return eval_fn


def run_training(args, progress, options: TrainingConfig, model, batches, eval_fn, rng, *, tokenizer_file,
                 extra=None) -> int:
    """The end of every `train` command: optimiser, optional resume, loop, plot. Every checkpoint embeds
    `tokenizer_file` and carries `extra` (special ids) for `sample` and `eval`."""
    opt = AdamW(model.parameters(), lr=options.lr, weight_decay=options.weight_decay)
    start, history = 0, None
    if args.resume:
        if not Path(args.output).exists():
            raise CommandError(f"--resume: no checkpoint at {args.output}")
        try:
            meta = ckpt.load_into(args.output, model, optimizer=opt, rng=rng)
        except ckpt.CheckpointError as exc:
            raise CommandError(f"--resume: {exc}") from None
        start, history = meta["step"], meta["history"]
        progress.message(f"resuming from step {start}")
    progress.message(f"{type(model).__name__}: {model.n_params():,} parameters")
    # the source path too, so a checkpoint written before tokenizers were embedded is still readable
    extra = {"tokenizer": tokenizer_file.path, **(extra or {})}
    history = train(model, batches, optimizer=opt, steps=options.steps, schedule=options.lr_schedule(),
                    eval_batches=eval_fn, eval_every=options.eval_every, clip=options.clip,
                    checkpoint_path=args.output, checkpoint_every=options.checkpoint_every, start_step=start,
                    rng=rng, history=history, progress=progress,
                    checkpoint_options={"extra": extra, "tokenizer": tokenizer_file})
    if args.plot:
        plot_history(history, args.plot)
    progress.message(f"wrote {args.output} ({progress.seconds:.1f} s in all)")
    if history["eval_loss"]:
        loss = history["eval_loss"][-1]
        print(json.dumps({"val_loss": round(loss, 4), "val_ppl": round(math.exp(loss), 2)}))
    return EXIT_OK


def check_family(path, *, family, command):
    """Refuse a checkpoint that holds another family's model (its header alone is read): its weights
    would give a traceback or a meaningless number."""
    try:
        meta = ckpt.read_meta(path)
    except FileNotFoundError as exc:
        raise CommandError(str(exc)) from None
    if meta["family"] != family:
        raise CommandError(f"{path} holds a {meta['family']} checkpoint, not a {family} one: "
                           f"`lm {family} {command}` reads {family} checkpoints only")


def load_checkpoint_and_tokenizer(path, tokenizer=None, *, command):
    """(model, meta, tokenizer): the tokenizer embedded in the checkpoint, or `tokenizer` (a path), which
    must then be that same file; a checkpoint from before tokenizers were embedded names a path."""
    check_family(path, family="gpt", command=command)
    model, meta, embedded = ckpt.load_with_tokenizer(path)
    if tokenizer is not None:
        tokenizer_file, tok = load_tokenizer(tokenizer)
        if embedded is not None:
            try:
                check_same(embedded.record(), tokenizer_file, model=path)
            except TokenizerFileError as exc:
                raise CommandError(f"{exc} (leave --tokenizer out to use the embedded copy)") from None
    elif embedded is not None:
        tok = embedded.load()
    elif meta["extra"].get("tokenizer"):
        tok = load_tokenizer(meta["extra"]["tokenizer"])[1]
    else:
        raise CommandError(f"{path} holds no tokenizer and names none: pass --tokenizer")
    if tok.vocab_size != model.config.vocab_size:
        raise CommandError(f"the tokenizer has {tok.vocab_size} ids but the model in {path} has "
                           f"{model.config.vocab_size}: it is not the tokenizer the model was trained with")
    return model, meta, tok


# ----------------------------------------------------------------------------- gpt, bert, t5

def gpt_train(args, progress) -> int:
    options = config_from(TrainingConfig, args)
    tokenizer_file, tok, train_ids, val_ids = load_corpus_ids(args, options, args.block_size + 1)
    cfg = config_from(GPTConfig, args, vocab_size=tok.vocab_size)
    rng = np.random.default_rng(args.seed)
    model = GPT(cfg, rng=rng)
    shape = dict(batch_size=options.batch_size, block_size=cfg.block_size)
    batches = causal_batches(train_ids, rng=rng, **shape)
    eval_fn = None
    if options.val_fraction and options.eval_iters:
        eval_fn = bounded_eval(options, args.seed, lambda r: causal_batches(val_ids, rng=r, **shape))
    elif options.val_fraction:  # every validation token predicted once: the exact validation perplexity
        eval_fn = lambda: causal_eval_batches(val_ids, **shape)  # noqa: E731
    return run_training(args, progress, options, model, batches, eval_fn, rng, tokenizer_file=tokenizer_file)


def bert_train(args, progress) -> int:
    """[PAD] and [MASK] are the tokenizer's own when it has them (a WordPiece vocabulary does), else they are
    appended after its vocabulary; its other special tokens ([CLS], [SEP], [UNK]) are never masked."""
    options = config_from(TrainingConfig, args)
    tokenizer_file, tok, train_ids, val_ids = load_corpus_ids(args, options, args.block_size)
    sp = special_ids(tok.vocab_size, tokenizer_specials=tok.special_tokens)
    cfg = config_from(BERTConfig, args, vocab_size=sp.vocab_size)
    rng = np.random.default_rng(args.seed)
    model = BERT(cfg, rng=rng)
    shape = dict(batch_size=options.batch_size, block_size=cfg.block_size, specials=sp)
    batches = mlm_batches(train_ids, rng=rng, **shape)
    eval_fn = None
    if options.val_fraction:
        eval_fn = bounded_eval(options, args.seed, lambda r: mlm_batches(val_ids, rng=r, **shape))
    return run_training(args, progress, options, model, batches, eval_fn, rng, tokenizer_file=tokenizer_file,
                        extra={"pad": sp.pad, "mask": sp.mask})


def t5_train(args, progress) -> int:
    """[PAD] and [MASK] (unused) are the tokenizer's own when it has them, else appended after its
    vocabulary; --sentinels sentinel ids are always appended."""
    options = config_from(TrainingConfig, args)
    tokenizer_file, tok, train_ids, val_ids = load_corpus_ids(args, options, args.block_size)
    sp = special_ids(tok.vocab_size, n_sentinels=args.sentinels, tokenizer_specials=tok.special_tokens)
    # noise tokens + one sentinel per span, with headroom for rounding
    target_size = args.target_size or int(args.block_size * args.noise_density * 1.5) + 8
    cfg = config_from(T5Config, args, vocab_size=sp.vocab_size, target_size=target_size)
    rng = np.random.default_rng(args.seed)
    model = T5(cfg, rng=rng)
    shape = dict(batch_size=options.batch_size, block_size=cfg.block_size, target_size=target_size, specials=sp,
                 noise_density=args.noise_density, mean_span_length=args.mean_span_length)
    batches = span_batches(train_ids, rng=rng, **shape)
    eval_fn = None
    if options.val_fraction:
        eval_fn = bounded_eval(options, args.seed, lambda r: span_batches(val_ids, rng=r, **shape))
    return run_training(args, progress, options, model, batches, eval_fn, rng, tokenizer_file=tokenizer_file,
                        extra={"pad": sp.pad, "mask": sp.mask, "sentinels": list(sp.sentinels)})


def gpt_sample(args, progress) -> int:
    try:  # --temperature, --top-k or -n out of range: a usage error, found before the checkpoint is read
        check_sampling(temperature=args.temperature, top_k=args.top_k, n=args.tokens)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    model, meta, tok = load_checkpoint_and_tokenizer(args.checkpoint, args.tokenizer, command="sample")
    ids = list(tok.encode(args.prompt)) if args.prompt else []
    if not ids:
        raise UsageError("--prompt must encode to at least one token")
    out = model.generate(np.array(ids), args.tokens, temperature=args.temperature, top_k=args.top_k,
                         rng=np.random.default_rng(args.seed))
    print(tok.decode([int(i) for i in out]))
    return EXIT_OK


def gpt_eval(args, progress) -> int:
    model, meta, tok = load_checkpoint_and_tokenizer(args.checkpoint, args.tokenizer, command="eval")
    ids = encode_corpus(read_text(args.text), tok)
    bs = model.config.block_size
    if len(ids) < bs + 1:
        raise CommandError(f"text too short: {len(ids)} tokens, need {bs + 1}")
    loss = evaluate(model, causal_eval_batches(ids, batch_size=32, block_size=bs))
    print(json.dumps({"tokens": int(len(ids)), "loss": round(loss, 4), "ppl": round(math.exp(loss), 3)}))
    return EXIT_OK


def _add_train_command(sub, family: str, config_cls, run, help_text):
    """`lm <family> train`: the paths and --seed/--plot/--resume by hand, the rest from `config_cls` and
    TrainingConfig."""
    p = sub.add_parser("train", help=help_text, description=help_text)
    p.add_argument("corpus", help="UTF-8 training text")
    p.add_argument("--tokenizer", required=True, help="fasttok tokenizer file (fasttok.load)")
    p.add_argument("-o", "--output", required=True, help="checkpoint path (.npz), written atomically")
    g = p.add_argument_group("training", "TrainingConfig's fields (lm.train)")
    add_config_options(g, TrainingConfig, defaults=CLI_DEFAULTS.get(family))
    g.add_argument("--resume", action="store_true", help="continue from the checkpoint at --output")
    g.add_argument("--plot", help="write the loss curves to this PNG (needs matplotlib)")
    g.add_argument("--seed", type=int, default=0, help="seed of initialisation, data order and dropout")
    g = p.add_argument_group("model", f"{config_cls.__name__}'s fields (lm.nn); vocab_size is the tokenizer's")
    add_config_options(g, config_cls, defaults=CLI_DEFAULTS.get(family), skip=DERIVED)
    p.set_defaults(run=run)
    return p


def _add_neural(families):
    tokenizer_help = "the tokenizer file, if the checkpoint does not embed it (it must be the same file)"
    sub = families.add_parser("gpt", help="decoder-only transformer LM: train, sample, eval",
                              description="decoder-only transformer LM in numpy").add_subparsers(
        dest="command", required=True)
    _add_train_command(sub, "gpt", GPTConfig, gpt_train, "train a GPT on a text file")
    p = sub.add_parser("sample", help="sample a continuation of a prompt")
    p.add_argument("checkpoint")
    p.add_argument("--prompt", required=True)
    p.add_argument("-n", "--tokens", type=int, default=200, help="tokens to generate (default %(default)s)")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-k", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tokenizer", help=tokenizer_help)
    p.set_defaults(run=gpt_sample)
    p = sub.add_parser("eval", help="per-token loss and perplexity of a text")
    p.add_argument("checkpoint")
    p.add_argument("text")
    p.add_argument("--tokenizer", help=tokenizer_help)
    p.set_defaults(run=gpt_eval)

    sub = families.add_parser("bert", help="masked-LM encoder: train",
                              description="masked-LM encoder in numpy").add_subparsers(dest="command", required=True)
    _add_train_command(sub, "bert", BERTConfig, bert_train, "MLM pre-training on a text file")

    sub = families.add_parser("t5", help="span-corruption encoder-decoder: train",
                              description="span-corruption encoder-decoder in numpy").add_subparsers(
        dest="command", required=True)
    p = _add_train_command(sub, "t5", T5Config, t5_train, "span-corruption pre-training on a text file")
    g = p.add_argument_group("span corruption", "span_batches' options (lm.data)")
    g.add_argument("--sentinels", type=int, default=32, help="sentinel ids to reserve (default %(default)s)")
    add_keyword_options(g, span_batches, {"noise_density": "fraction of the tokens corrupted",
                                          "mean_span_length": "mean length of a corrupted span"})


# ----------------------------------------------------------------------------- rlhf

def rlhf_demo(args, progress) -> int:
    if args.tokenizer == "auto":  # both kinds are fasttok tokenizers; "auto" is the documented BPE run
        args.tokenizer = "bpe"
    if args.quick:
        config = quick_config(tokenizer=args.tokenizer)
    else:
        config = bpe_config() if args.tokenizer == "bpe" else DemoConfig()
    try:
        ppo = dataclasses.replace(config.ppo, **config_overrides(args, PPOConfig, prefix="ppo_"))
        config = dataclasses.replace(config, ppo=ppo, **config_overrides(args, DemoConfig))
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc)) from None
    results = run_demo(config, corpus=args.corpus, seed=args.seed, log=None if args.quiet else progress.message)
    print(f"tokenizer: {args.tokenizer}")
    print(format_table(results))
    if args.plot:
        try:
            demo.plot_history(results, args.plot)
            print(f"plot written to {args.plot}")
        except ImportError:
            print("matplotlib is not installed: no plot")
    print(f"seconds: {results['seconds']:.1f}")
    if args.json:
        keys = ("reward_model_heldout_accuracy", "rule_score_base", "rule_score_ppo", "kl_ppo",
                "rule_score_ppo_no_kl", "kl_ppo_no_kl", "rule_score_dpo", "kl_dpo", "pretrain_loss", "seed",
                "seconds")
        print(json.dumps({"tokenizer": args.tokenizer, **{k: results[k] for k in keys}}))
    return EXIT_OK


def _add_rlhf(families):
    sub = families.add_parser("rlhf", help="RLHF on a tiny numpy GPT: the end-to-end demo",
                              description="RLHF on a tiny numpy GPT").add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="pre-train → preferences → reward model → PPO (±KL) → DPO, one table")
    p.add_argument("--corpus", help="training text (default: CPython's pydoc_data documentation topics)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")
    p.add_argument("--json", action="store_true", help="print the results as one JSON object on the last line")
    p.add_argument("--plot", default="rlhf_demo.png",
                   help="PNG of reward and KL per PPO iteration, if matplotlib is installed ('' to skip)")
    p.add_argument("--tokenizer", choices=("auto", "char", "bpe"), default="auto",
                   help="a 512-token fasttok BPE trained on the corpus, or a character-level fasttok BPE (one "
                        "token per character); auto (default) is bpe")
    p.add_argument("--quick", action="store_true",
                   help="a scaled-down run (seconds) to check the installation; its numbers mean little")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    shown = bpe_config()
    g = p.add_argument_group("demo", "override one field of DemoConfig (lm.rlhf.demo) in the chosen preset (the "
                                     "BPE run, the character run or --quick's); the default shown is the BPE run's")
    add_config_options(g, DemoConfig, skip={"tokenizer"}, shown=shown)
    g = p.add_argument_group("ppo", "override one field of the preset's PPOConfig (lm.rlhf.ppo)")
    add_config_options(g, PPOConfig, prefix="ppo_", shown=shown.ppo)
    p.set_defaults(run=rlhf_demo)


# ----------------------------------------------------------------------------- the parser

def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lm", description="language models on fasttok tokens, in numpy (also: python -m lm)")
    parser.add_argument("--version", action="version", version=f"lm {version()} (the {DISTRIBUTION} distribution)")
    families = parser.add_subparsers(dest="family", required=True, metavar="{ngram,gpt,bert,t5,rlhf}",
                                     help="each has its own --help, e.g. lm gpt train --help")
    _add_ngram(families)
    _add_neural(families)
    _add_rlhf(families)
    return parser
