"""fasttok.load: look at a tokenizer file and hand it to the model module that reads it.

Each model reads and writes its own formats (fasttok/bpe.py, fasttok/wordpiece.py); the framing they
share is fasttok/_format.py. This module only tells the formats apart.
"""
import functools
import os

from fasttok import _format, bpe, sentencepiece
from fasttok.bpe import BPETokenizer
from fasttok.errors import FasttokError, ModelFileError
from fasttok.wordpiece import WordPieceTokenizer, load_bert_vocab

__all__ = ["load", "MODELS"]

# The model classes by their name in native files, and by their type in a tokenizer.json.
MODELS = {"bpe": BPETokenizer, "wordpiece": WordPieceTokenizer}
_HF_MODELS = {"BPE": BPETokenizer, "WordPiece": WordPieceTokenizer}
_HF_KEYS = {"version", "truncation", "padding", "added_tokens", "normalizer", "pre_tokenizer", "post_processor",
            "decoder", "model"}


def load(path, *, lowercase=None, strip_accents=None, trust_pattern=False, pattern="gpt2"):
    """Load a tokenizer: fasttok's native file, a Hugging Face tokenizer.json, a BERT vocab.txt, a
    SentencePiece `.model` file, or a tiktoken `.tiktoken` rank file.

    A `.txt` file that is neither native nor JSON is read as a BERT WordPiece vocab.txt by
    fasttok.load_bert_vocab, with the settings of the tokenizer_config.json beside it if there is one.
    lowercase, strip_accents: None keeps the file's settings (a bare vocab.txt: BERT uncased);
    True/False override them for a WordPiece tokenizer (a BPE tokenizer has no such settings).
    trust_pattern: a BPE file's split pattern is a regex its author chose; only the named patterns and
    literal strings are run unless this is True (ModelFileError otherwise; fasttok.pretokenize,
    "Patterns read from files").
    pattern: the split pattern of a `.tiktoken` file, which has none of its own (a name or a regex; ignored
    for the other formats, which state theirs). Such a file has no special tokens either.
    """
    for name, value in (("lowercase", lowercase), ("strip_accents", strip_accents)):
        if value not in (None, True, False):
            raise TypeError(f"{name} must be None, True or False, got {value!r}")
    if trust_pattern not in (True, False):
        raise TypeError(f"trust_pattern must be True or False, got {trust_pattern!r}")
    tok = _load_any(os.fspath(path), lowercase, strip_accents, trust_pattern, pattern)
    if lowercase is None and strip_accents is None:
        return tok
    if not isinstance(tok, WordPieceTokenizer):
        raise FasttokError(f"{path}: lowercase and strip_accents are WordPiece settings; this is a "
                           f"{tok.model} tokenizer")
    return tok.with_normalizer(lowercase=lowercase, strip_accents=strip_accents)


def _load_any(path, lowercase, strip_accents, trust_pattern, pattern):
    raw = _format.read_bytes(path)  # a regular file, at most MAX_FILE_BYTES: read once, then sniffed
    if sentencepiece.looks_like_model(raw[:64]):  # binary: sniffed before the bytes are read as text
        return _read(path, "sentencepiece model", sentencepiece.SentencePieceTokenizer.from_bytes, raw)
    if bpe.looks_like_tiktoken(raw[:256]):  # `<base64> <rank>` lines: a tiktoken rank file
        return _read(path, ".tiktoken file", bpe.from_tiktoken_file, raw, pattern)
    text = _format.decode_text(raw, path)
    if _format.is_native(text):
        model, version, settings, records = _format.read_native(
            text, path, hash_since=lambda name: MODELS[name].native_hash_since if name in MODELS else None)
        if model not in MODELS:
            raise ModelFileError(f"{path}: unknown model {model!r} in header")
        cls = MODELS[model]
        if version not in cls.native_versions:
            raise ModelFileError(f"{path}: {model} format version {version} is not supported (this fasttok "
                                 f"reads {', '.join(map(str, cls.native_versions))})")
        reader = functools.partial(cls.from_native, trust_pattern=trust_pattern) if cls is BPETokenizer else cls.from_native
        return _read(path, "record", reader, settings, records, version)
    if text.lstrip().startswith("{"):
        data = _format.json_loads(text, f"{path}: truncated or corrupt JSON")
        if not isinstance(data, dict) or not isinstance(data.get("model"), dict):
            raise ModelFileError(f"{path}: JSON without a 'model' object is not a tokenizer.json")
        unknown = sorted(set(data) - _HF_KEYS)
        if unknown:
            raise ModelFileError(f"{path}: unknown tokenizer.json key {unknown[0][:40]!r}")
        kind = data["model"].get("type")
        if not isinstance(kind, str) or kind not in _HF_MODELS:
            raise ModelFileError(f"{path}: tokenizer.json model type {str(kind)[:40]!r} is not supported (BPE, WordPiece)")
        cls = _HF_MODELS[kind]
        reader = functools.partial(cls.from_hf_json, trust_pattern=trust_pattern) if cls is BPETokenizer else cls.from_hf_json
        return _read(path, "tokenizer.json", reader, data)
    if path.endswith(".txt"):
        return load_bert_vocab(path, lowercase=lowercase, strip_accents=strip_accents)
    raise ModelFileError(f"{path}: unknown tokenizer file format (expected a '{_format.HEADER} ...' "
                         f"header, a tokenizer.json or a vocab.txt)")


def _read(path, what, reader, *args):
    """reader(*args), with any error it raises about the contents as a ModelFileError naming `path`."""
    try:
        return reader(*args)
    except ModelFileError as e:
        raise ModelFileError(f"{path}: {e}") from None
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError, RecursionError) as e:
        kind = "corrupt record" if what == "record" else f"malformed {what}"
        raise ModelFileError(f"{path}: {kind} ({type(e).__name__}: {e})") from None
