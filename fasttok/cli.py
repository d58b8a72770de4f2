"""`fasttok train|encode|decode|demo` (also `python -m fasttok`).

Every check that can fail (options that do not fit the model, the output path, the input files)
runs before any long work, so a mistake costs nothing. `encode` and `decode` are exact inverses on
byte-level BPE: `fasttok encode FILE | fasttok decode` gives back FILE byte for byte.
"""
import argparse
import itertools
import os
import sys
import time
import warnings

import fasttok
from fasttok._files import check_corpus_file, check_output_path, decode_utf8, stream_blocks
from fasttok._progress import Progress
from fasttok.errors import FasttokError
from fasttok.io import MODELS
from fasttok.sentencepiece import SentencePieceTokenizer
from fasttok.tokenizer import FORMAT_ALIASES
from fasttok.unigram_train import train_unigram

# Input is read in blocks of this many bytes (more when no safe cut is found in a block), and this
# many blocks go to one encode_batch call, enough texts for its threads to share.
_BLOCK_BYTES = 1 << 16
_BLOCKS_PER_BATCH = 64
_LINES_PER_BATCH = 4096


def default_corpus():
    """The bundled default corpus: the English documentation text that ships inside CPython."""
    from pydoc_data.topics import topics
    return [topics[k] for k in sorted(topics)]


# -- train ----------------------------------------------------------------------------------------

def _is_bpe(args):
    return args.model == "bpe"


def _is_wordpiece(args):
    return args.model == "wordpiece"


def _is_trained_by_merges(args):
    return args.model != "unigram"


def _has_unk(args):
    return args.model == "wordpiece" or bool(args.char_level)


# The models `train` makes: the loadable ones, and Unigram, which is saved as a sentencepiece .model.
_TRAINED_MODELS = {**MODELS, "unigram": SentencePieceTokenizer}

# Options only some trainings take: given anywhere else they are an error, never silently ignored.
# (argparse dest, flag, applies(args), where it applies)
_OPTION_SCOPES = [
    ("min_frequency", "--min-frequency", _is_trained_by_merges, "--model bpe or wordpiece"),
    ("pattern", "--pattern", _is_bpe, "--model bpe"),
    ("char_level", "--char-level", _is_bpe, "--model bpe"),
    ("score", "--score", _is_wordpiece, "--model wordpiece"),
    ("no_lowercase", "--no-lowercase", _is_wordpiece, "--model wordpiece"),
    ("strip_accents", "--strip-accents", _is_wordpiece, "--model wordpiece"),
    ("unk_token", "--unk-token", _has_unk,
     "--model wordpiece or --char-level BPE (byte-level BPE has no unknowns)"),
    ("continuing_subword_prefix", "--continuing-subword-prefix", _has_unk,
     "--model wordpiece or --char-level BPE"),
]


def _check_train_args(args):
    """Everything about a training command that can be checked without reading the corpus."""
    parser = args.parser
    if not args.files:
        parser.error("no input files: pass the UTF-8 text files to train on "
                     "(`fasttok demo` trains on the bundled CPython docs text)")
    for dest, flag, applies, where in _OPTION_SCOPES:
        if getattr(args, dest) is not None and not applies(args):
            parser.error(f"{flag} is only for {where}")
    if args.format is None:
        args.format = "sentencepiece" if args.model == "unigram" else "native"
    formats = _TRAINED_MODELS[args.model].formats
    if FORMAT_ALIASES.get(args.format, args.format) not in formats:
        holds = "holds a WordPiece vocabulary, not" if args.format == "vocab.txt" else "does not hold"
        parser.error(f"--format {args.format} {holds} a {args.model} tokenizer "
                     f"(use --format {' or '.join(formats)})")
    check_output_path(args.output)
    for path in args.files:
        check_corpus_file(path)
        if os.path.exists(args.output) and os.path.samefile(path, args.output):
            raise FasttokError(f"-o {args.output} is also an input file: refusing to overwrite the corpus")


_STRIP_ACCENTS = {None: None, "auto": None, "yes": True, "no": False}  # None, auto: strip when lowercasing


def _train(args, progress):
    common = dict(files=args.files, vocab_size=args.vocab_size, special_tokens=args.special_token,
                  max_token_length=args.max_token_length, progress=progress,
                  num_threads=1 if args.threads is None else args.threads)
    if args.min_frequency is not None:
        common["min_frequency"] = args.min_frequency
    if args.model == "unigram":
        return train_unigram(files=args.files, vocab_size=args.vocab_size, special_tokens=args.special_token,
                             max_piece_length=args.max_token_length or 16, num_threads=common["num_threads"],
                             progress=progress)
    if args.model == "bpe":
        return fasttok.train_bpe(**common, pattern="gpt2" if args.pattern is None else args.pattern,
                                 byte_level=not args.char_level, unk_token=args.unk_token,
                                 continuing_subword_prefix=args.continuing_subword_prefix)
    if not args.special_token:
        del common["special_tokens"]  # the BERT five
    options = {k: v for k, v in (("score", args.score), ("unk_token", args.unk_token),
                                 ("continuing_subword_prefix", args.continuing_subword_prefix)) if v is not None}
    return fasttok.train_wordpiece(**common, **options, lowercase=not args.no_lowercase,
                                   strip_accents=_STRIP_ACCENTS[args.strip_accents])


def cmd_train(args):
    # The Progress clock starts with the command, so the time reported covers all of it.
    with Progress("training", unit="rounds" if args.model == "unigram" else "merges", enabled=not args.quiet, min_interval=0.5) as progress:
        _check_train_args(args)
        tok = _train(args, progress)
        tok.save(args.output, format=args.format)
        progress.message(f"trained {args.model} vocab_size={tok.vocab_size} in {progress.seconds:.2f}s "
                         f"-> {args.output}")
    return 0


# -- encode / decode ------------------------------------------------------------------------------

def _load(args):
    # Passed only when given, so a fasttok.load without these keywords still serves everyone else.
    options = {}
    if args.lowercase is not None:
        options["lowercase"] = args.lowercase
    if args.strip_accents not in (None, "auto"):
        options["strip_accents"] = args.strip_accents == "yes"
    if args.trust_pattern:
        options["trust_pattern"] = True
    return fasttok.load(args.tokenizer, **options)


class _Input:
    """The input file, or stdin for "-", as a binary stream (no newline translation)."""

    def __init__(self, path):
        self.name = "<stdin>" if path == "-" else path
        self._path = path

    def __enter__(self):
        self._file = sys.stdin.buffer if self._path == "-" else open(self._path, "rb")
        return self._file

    def __exit__(self, *exc):
        if self._file is not sys.stdin.buffer:
            self._file.close()
        return False


def _batches(items, size):
    items = iter(items)
    while batch := list(itertools.islice(items, size)):
        yield batch


def _ids_line(ids):
    return " ".join(map(str, ids)).encode("ascii")


def _run_filter(args, per_line, whole):
    """encode and decode: load the tokenizer, read the input (a file or stdin), write to stdout."""
    tok = _load(args)
    source = _Input(args.file)
    with source as f:
        (per_line if args.lines else whole)(tok, f, source.name, sys.stdout.buffer)
    return 0


def cmd_encode(args):
    return _run_filter(args, _encode_lines, _encode_whole)


def _encode_lines(tok, f, name, out):
    lines = (decode_utf8(line[:-1] if line.endswith(b"\n") else line, f"{name}: line {k}", 0)
             for k, line in enumerate(f, 1))
    for batch in _batches(lines, _LINES_PER_BATCH):
        for ids in tok.encode_batch(batch, allowed_special="all"):
            out.write(_ids_line(ids) + b"\n")


def _encode_whole(tok, f, name, out):
    # The whole input is one text: blocks are cut only where the tokenizer says the ids of the
    # parts are the ids of the whole (tok.stream_cut), so the output is tok.encode(contents).
    blocks = stream_blocks(f, name, cut=tok.stream_cut(), block_size=_BLOCK_BYTES)
    separator = b""
    for batch in _batches(blocks, _BLOCKS_PER_BATCH):
        for ids in tok.encode_batch(batch, allowed_special="all"):
            if ids:
                out.write(separator + _ids_line(ids))
                separator = b" "
    out.write(b"\n")


def _parse_ids(data, name, line):
    """Ids of whitespace-separated decimal numbers in `data` (whose first line is number `line`)."""
    parts = data.split()
    if not b"".join(parts).isdigit() and parts:
        bad = next(p for p in parts if not p.isdigit())
        at = line + data.count(b"\n", 0, data.find(bad))
        shown = bad[:40].decode("utf-8", "replace")
        raise FasttokError(f"{name}: line {at}: expected token ids (non-negative integers), got {shown!r}")
    return list(map(int, parts))


def _id_chunks(f, name):
    """Lists of ids from a stream of whitespace-separated ids, read in blocks."""
    pending, line = b"", 1
    while True:
        chunk = f.read(_BLOCK_BYTES)
        data = pending + chunk
        if not chunk:
            yield _parse_ids(data, name, line)
            return
        # Keep the last, maybe unfinished, number for the next block.
        k = max(data.rfind(c) for c in (b" ", b"\n", b"\t", b"\r", b"\x0b", b"\x0c")) + 1
        yield _parse_ids(data[:k], name, line)
        line += data.count(b"\n", 0, k)
        pending = data[k:]


def cmd_decode(args):
    return _run_filter(args, _decode_lines, _decode_whole)


def _decode_lines(tok, f, name, out):
    for k, line in enumerate(f, 1):
        out.write(tok.decode_bytes(_parse_ids(line, name, k)) + b"\n")


def _decode_whole(tok, f, name, out):
    if tok.decodes_in_pieces:  # byte-level BPE: the bytes of each chunk, exactly, as they come
        for ids in _id_chunks(f, name):
            out.write(tok.decode_bytes(ids))
    else:  # decoding places spaces between tokens: decode all ids at once
        out.write(tok.decode_bytes([i for ids in _id_chunks(f, name) for i in ids]))


# -- demo -----------------------------------------------------------------------------------------

def cmd_demo(args):
    """The quick-start job: byte-level BPE on the bundled CPython documentation text."""
    if args.output:
        check_output_path(args.output)
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


# -- the parser -----------------------------------------------------------------------------------

def build_parser():
    p = argparse.ArgumentParser(prog="fasttok", description="Train and use subword tokenizers.")
    p.add_argument("--version", action="version", version=f"%(prog)s {fasttok.__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    # Defaults of model-specific options are None ("not given"), so that one given to the wrong
    # model is caught; the trainers' own defaults apply otherwise.
    t = sub.add_parser("train", help="train a tokenizer on UTF-8 text files")
    t.add_argument("files", nargs="*", help="UTF-8 text files to train on")
    t.add_argument("--model", choices=sorted(_TRAINED_MODELS), default="bpe",
                   help="unigram: a sentencepiece Unigram LM model, saved as a .model file")
    t.add_argument("--vocab-size", type=int, required=True)
    t.add_argument("--special-token", action="append", default=[], metavar="T")
    t.add_argument("--min-frequency", type=int, default=None, help="default: 1 for BPE, 2 for WordPiece")
    t.add_argument("--max-token-length", type=int, default=None)
    t.add_argument("--threads", type=int, default=None,
                   help="threads that count words (processes for a custom BPE regex); default 1")
    t.add_argument("--workers", dest="threads", type=int, default=None, help=argparse.SUPPRESS)  # the old name
    b = t.add_argument_group("BPE")
    b.add_argument("--pattern", default=None, help="gpt2 (default), gpt4, whitespace, or a regex")
    b.add_argument("--char-level", action="store_true", default=None,
                   help="character-level instead of byte-level BPE")

    w = t.add_argument_group("WordPiece (--unk-token and --continuing-subword-prefix: also --char-level BPE)")
    w.add_argument("--score", choices=["likelihood", "pmi"], default=None, help="merge score (default: likelihood)")
    w.add_argument("--unk-token", default=None, help="default: [UNK] for WordPiece, none for BPE")
    w.add_argument("--continuing-subword-prefix", default=None, help="default: ## for WordPiece, none for BPE")
    w.add_argument("--no-lowercase", action="store_true", default=None)
    w.add_argument("--strip-accents", choices=["auto", "yes", "no"], default=None,
                   help="auto (default): strip when lowercasing (BERT)")
    t.add_argument("--format", choices=["native", "tokenizer.json", "tiktoken", "vocab.txt", "sentencepiece", *FORMAT_ALIASES],
                   default=None, metavar="{native,tokenizer.json,tiktoken,vocab.txt,sentencepiece}",
                   help="tokenizer.json: Hugging Face's (also spelt hf); tiktoken: a .tiktoken rank file "
                        "(byte-level BPE only); vocab.txt: WordPiece only; "
                        "sentencepiece: --model unigram only (its default; native for the others)")
    t.add_argument("-o", "--output", required=True)
    t.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    t.set_defaults(func=cmd_train, parser=t)

    tokenizer = argparse.ArgumentParser(add_help=False)
    tokenizer.add_argument("-t", "--tokenizer", required=True, help="native file, tokenizer.json or vocab.txt")
    tokenizer.add_argument("--trust-pattern", action="store_true",
                           help="run the file's split regex even if it is not a named pattern (see README)")
    bare = tokenizer.add_argument_group("a bare vocab.txt (default: tokenizer_config.json beside it, "
                                        "else BERT uncased)")
    case = bare.add_mutually_exclusive_group()
    case.add_argument("--lowercase", dest="lowercase", action="store_const", const=True, default=None)
    case.add_argument("--cased", dest="lowercase", action="store_const", const=False)
    bare.add_argument("--strip-accents", choices=["auto", "yes", "no"], default=None,
                      help="auto: strip when lowercasing")

    e = sub.add_parser("encode", parents=[tokenizer],
                       help="the ids of the whole input, space-separated on one line (--lines: per line)")
    e.add_argument("file", nargs="?", default="-", help="UTF-8 text (default: stdin)")
    e.add_argument("--lines", action="store_true",
                   help="encode each line on its own (without its \\n) to one line of ids")
    e.set_defaults(func=cmd_encode)

    d = sub.add_parser("decode", parents=[tokenizer],
                       help="the text of whitespace-separated ids (--lines: one line of text per line of ids)")
    d.add_argument("file", nargs="?", default="-", help="ids (default: stdin)")
    d.add_argument("--lines", action="store_true", help="decode each line of ids to a line of text")
    d.set_defaults(func=cmd_decode)

    m = sub.add_parser("demo", help="train on the bundled CPython docs text and report")
    m.add_argument("--vocab-size", type=int, default=8192)
    m.add_argument("-o", "--output", default=None)
    m.set_defaults(func=cmd_demo)
    return p


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"fasttok: warning: {message}", file=sys.stderr, flush=True)


def _describe(error):
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        return f"{error.filename}: {error.strerror}"
    return str(error)


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning  # a command-line user needs the message, not our source line
            return args.func(args)
    except BrokenPipeError:
        # The reader went away (`fasttok encode ... | head`): stop quietly, as Unix tools do.
        sys.stderr.close()
        return 0
    except (FasttokError, ValueError, TypeError, OSError) as e:
        print(f"fasttok: error: {_describe(e)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
