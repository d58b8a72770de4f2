"""`fasttok train|encode|decode|demo` (also `python -m fasttok`)."""
import argparse
import pathlib
import sys
import time

import fasttok
from fasttok.errors import FasttokError


def default_corpus():
    """The bundled default corpus: the English documentation text that ships inside CPython."""
    from pydoc_data.topics import topics
    return [topics[k] for k in sorted(topics)]


def _progress_printer(label):
    start = time.perf_counter()

    def show(done, total):
        pct = 100.0 * done / max(total, 1)
        print(f"\r{label}: {done}/{total} merges ({pct:5.1f}%, {time.perf_counter() - start:.1f}s)",
              end="", file=sys.stderr, flush=True)
        if done >= total:
            print(file=sys.stderr)
    return show


def cmd_train(args):
    corpus = [pathlib.Path(f) for f in args.files] if args.files else default_corpus()
    progress = None if args.quiet else _progress_printer("training")
    start = time.perf_counter()
    if args.model == "bpe":
        tok = fasttok.train_bpe(corpus, vocab_size=args.vocab_size, pattern=args.pattern,
                                byte_level=not args.char_level, special_tokens=args.special_token,
                                min_frequency=args.min_frequency or 1, max_token_length=args.max_token_length,
                                progress=progress, num_workers=args.workers)
    else:
        options = {"special_tokens": args.special_token} if args.special_token else {}
        if args.min_frequency is not None:
            options["min_frequency"] = args.min_frequency
        strip = {"auto": None, "yes": True, "no": False}[args.strip_accents]
        tok = fasttok.train_wordpiece(corpus, vocab_size=args.vocab_size, score=args.score,
                                      max_token_length=args.max_token_length, unk_token=args.unk_token,
                                      continuing_subword_prefix=args.continuing_subword_prefix,
                                      lowercase=not args.no_lowercase, strip_accents=strip,
                                      progress=progress, **options)
    seconds = time.perf_counter() - start
    tok.save(args.output, format=args.format)
    print(f"trained {args.model} vocab_size={tok.vocab_size} in {seconds:.2f}s -> {args.output}", file=sys.stderr)
    return 0


def _lines(path):
    f = open(path, encoding="utf-8") if path and path != "-" else sys.stdin
    with f:
        for line in f:
            yield line.rstrip("\n")


def cmd_encode(args):
    tok = fasttok.load(args.tokenizer)
    out = sys.stdout
    batch = []

    def flush():
        for ids in tok.encode_batch(batch, allowed_special="all"):
            out.write(" ".join(map(str, ids)) + "\n")
        batch.clear()
    for line in _lines(args.file):
        batch.append(line)
        if len(batch) >= 4096:
            flush()
    flush()
    return 0


def cmd_decode(args):
    tok = fasttok.load(args.tokenizer)
    for k, line in enumerate(_lines(args.file), 1):
        try:
            ids = [int(x) for x in line.split()]
        except ValueError:
            raise FasttokError(f"line {k}: expected space-separated integer ids, got {line[:40]!r}") from None
        sys.stdout.write(tok.decode(ids) + "\n")
    return 0


def cmd_demo(args):
    """The quick-start job: byte-level BPE on the bundled CPython documentation text."""
    corpus = default_corpus()
    n_bytes = sum(len(t.encode("utf-8")) for t in corpus)
    print(f"corpus: CPython documentation text (pydoc_data.topics), {n_bytes / 1e6:.2f} MB", flush=True)
    start = time.perf_counter()
    tok = fasttok.train_bpe(corpus, vocab_size=args.vocab_size, special_tokens=["<|endoftext|>"])
    seconds = time.perf_counter() - start
    ids = tok.encode_batch(corpus)
    n_tokens = sum(map(len, ids))
    sample = "The quick brown fox jumps over the lazy dog; def main(): return 42"
    sample_ids = tok.encode(sample)
    print(f"vocab size: {tok.vocab_size}")
    print(f"training time: {seconds:.2f} s")
    print(f"bytes per token: {n_bytes / n_tokens:.3f}")
    print(f"sample: {sample!r}")
    print(f"  ids: {sample_ids}")
    print(f"  tokens: {[tok.token_bytes(i).decode('utf-8', 'replace') for i in sample_ids]}")
    assert tok.decode(sample_ids) == sample
    if args.output:
        tok.save(args.output)
        print(f"saved to {args.output}")
    return 0


def build_parser():
    p = argparse.ArgumentParser(prog="fasttok", description="Train and use subword tokenizers.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a tokenizer on UTF-8 text files")
    t.add_argument("files", nargs="*", help="training files (default: the bundled CPython docs text)")
    t.add_argument("--model", choices=["bpe", "wordpiece"], default="bpe")
    t.add_argument("--vocab-size", type=int, required=True)
    t.add_argument("--pattern", default="gpt2", help="gpt2, gpt4, whitespace, or a regex (BPE)")
    t.add_argument("--char-level", action="store_true", help="character-level instead of byte-level BPE")
    t.add_argument("--special-token", action="append", default=[], metavar="T")
    t.add_argument("--min-frequency", type=int, default=None, help="default: 1 for BPE, 2 for WordPiece")
    t.add_argument("--max-token-length", type=int, default=None)
    t.add_argument("--workers", type=int, default=1, help="processes that count pre-tokens (BPE)")
    w = t.add_argument_group("WordPiece")
    w.add_argument("--score", choices=["likelihood", "pmi"], default="likelihood", help="merge score")
    w.add_argument("--unk-token", default="[UNK]")
    w.add_argument("--continuing-subword-prefix", default="##")
    w.add_argument("--no-lowercase", action="store_true")
    w.add_argument("--strip-accents", choices=["auto", "yes", "no"], default="auto",
                   help="auto: strip when lowercasing (BERT)")
    t.add_argument("--format", choices=["native", "hf", "vocab.txt"], default="native")
    t.add_argument("-o", "--output", required=True)
    t.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("encode", help="one line of space-separated ids per input line")
    e.add_argument("-t", "--tokenizer", required=True, help="native file, tokenizer.json or vocab.txt")
    e.add_argument("file", nargs="?", default="-")
    e.set_defaults(func=cmd_encode)

    d = sub.add_parser("decode", help="one line of text per input line of ids")
    d.add_argument("-t", "--tokenizer", required=True)
    d.add_argument("file", nargs="?", default="-")
    d.set_defaults(func=cmd_decode)

    m = sub.add_parser("demo", help="train on the bundled default corpus and report")
    m.add_argument("--vocab-size", type=int, default=8192)
    m.add_argument("-o", "--output", default=None)
    m.set_defaults(func=cmd_demo)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:
        # The reader went away (`fasttok encode ... | head`): stop quietly, as Unix tools do.
        sys.stderr.close()
        return 0
    except (FasttokError, ValueError, TypeError, OSError) as e:
        print(f"fasttok: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
