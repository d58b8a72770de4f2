"""Tokenizer objects (immutable once built, picklable; encode / encode_batch / decode / save) and what
both trainers share: one set of option rules and TrainingWarning.

`Tokenizer` holds what every model shares (special tokens, batching, the public methods); a model
subclass (`BPETokenizer` in fasttok/bpe.py, `WordPieceTokenizer` in fasttok/wordpiece.py) supplies:

- `_encode_ordinary_many(texts) -> list[list[int]]`, no special tokens inside the texts;
- `_decode(ids, errors) -> str` for ids that are not special tokens;
- `_id_to_token` (list of str) and `_token_to_id` (dict);
- `to_native() -> (settings, records)` and classmethod `from_native(settings, records, version)`;
- `to_hf_json() -> dict` and classmethod `from_hf_json(data)`;
- class attributes `model` (its name in files), `native_versions` (the versions of its native
  files it reads, the last one written), `formats` (what `save` writes) and `default_allowed_special`.
"""
import dataclasses
import operator
import os
import re
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from fasttok import _format
from fasttok._checks import check_int, check_optional_num_threads, check_special_tokens
from fasttok.errors import UnknownTokenError
from fasttok.normalize import repair_surrogates

# Below this many texts per thread, starting threads costs more than it saves.
_MIN_TEXTS_PER_THREAD = 16


# The formats `save` writes, by the name of the file each one is: fasttok's own, Hugging Face's
# tokenizer.json, BERT's vocab.txt (WordPiece only). "hf" is the older, still accepted, name of
# "tokenizer.json".
FORMAT_ALIASES = {"hf": "tokenizer.json"}


class Tokenizer:
    model = None
    formats = ("native", "tokenizer.json")
    native_versions = (1,)  # the native format versions from_native reads; the last is the one written
    native_hash_since = None  # the first of them whose files must end with `end N sha256=...`
    default_allowed_special = frozenset()

    def __init__(self, *, special_tokens):
        self._special = dict(special_tokens)                 # str -> id
        self._special_by_id = {i: s for s, i in self._special.items()}
        self._special_regex = None
        if self._special:
            alternatives = sorted(self._special, key=len, reverse=True)  # longest match first
            self._special_regex = re.compile("|".join(re.escape(s) for s in alternatives))
        self._special_firsts = tuple(sorted({s[0] for s in self._special if s}))
        self._default_sets = None  # encode()'s (allowed, disallowed) for the default options, once computed

    # -- vocabulary -------------------------------------------------------------------------------

    @property
    def vocab_size(self):
        """Number of ids: every token, special tokens included."""
        return len(self._id_to_token)

    @property
    def special_tokens(self):
        """{special token: id}."""
        return dict(self._special)

    def id_to_token(self, token_id):
        try:
            if token_id < 0:
                raise IndexError
            return self._id_to_token[token_id]
        except (IndexError, TypeError):
            raise UnknownTokenError(f"token id {token_id!r} is not in the vocabulary (ids 0..{self.vocab_size - 1})") from None

    def token_to_id(self, token):
        try:
            return self._token_to_id[token]
        except KeyError:
            raise UnknownTokenError(f"token {token!r} is not in the vocabulary") from None

    def get_vocab(self):
        """{token: id} for every token."""
        return dict(self._token_to_id)

    # -- encoding ---------------------------------------------------------------------------------

    def _special_sets(self, allowed_special, disallowed_special):
        if allowed_special is None:
            allowed_special = self.default_allowed_special
        allowed = set(self._special) if allowed_special == "all" else set(allowed_special)
        unknown = allowed - set(self._special)
        if unknown:
            raise ValueError(f"allowed_special names tokens that are not special tokens: {sorted(unknown)}")
        if disallowed_special == "all":
            disallowed = set(self._special) - allowed
        else:
            disallowed = set(disallowed_special)
        return allowed, disallowed

    def _split_special(self, text, allowed, disallowed):
        """[(text_segment, None) | (None, special_id)], checking for disallowed specials."""
        if self._special_regex is None or not any(map(text.__contains__, self._special_firsts)):
            return [(text, None)]  # no special token's first character: the regex cannot match
        parts, start = [], 0
        for m in self._special_regex.finditer(text):
            token = m.group()
            if token in disallowed:
                raise ValueError(
                    f"encountered text corresponding to disallowed special token {token!r} at character "
                    f"{m.start()}; pass allowed_special={{{token!r}}} (or 'all') to encode it as a special token, "
                    f"or disallowed_special=() to encode it as ordinary text")
            if token in allowed:
                parts.append((text[start:m.start()], None))
                parts.append((None, self._special[token]))
                start = m.end()
        parts.append((text[start:], None))
        return parts

    def encode(self, text, *, allowed_special=None, disallowed_special="all"):
        """Encode text to ids.

        Special tokens in the text are encoded as such only when allowed (`allowed_special`: a set or
        "all"); a disallowed one raises ValueError; `disallowed_special=()` treats them as plain text.
        """
        text = checked_text(text)
        if allowed_special is None and disallowed_special == "all":
            # The default options: their sets never change, so they are checked once per tokenizer.
            if self._default_sets is None:
                self._default_sets = self._special_sets(None, "all")
            allowed, disallowed = self._default_sets
        else:
            allowed, disallowed = self._special_sets(allowed_special, disallowed_special)
        if not (allowed or disallowed):
            return self._encode_ordinary_one(text)
        # The special regex runs only when the text holds a special token's first character: one scan
        # in C per distinct first character (one for GPT-2's "<|endoftext|>", one for BERT's "[CLS]"...).
        for first in self._special_firsts:
            if first in text:
                break
        else:
            return self._encode_ordinary_one(text)
        return self.encode_batch([text], allowed_special=allowed_special, disallowed_special=disallowed_special,
                                 num_threads=1)[0]

    def encode_ordinary(self, text):
        """Encode text ignoring special tokens entirely."""
        return self._encode_ordinary_one(checked_text(text))

    def _encode_ordinary_one(self, text):
        # One text with no special tokens in it; a model overrides this when it has a path cheaper
        # than a batch of one.
        return self._encode_ordinary_many([text])[0]

    def encode_batch(self, texts, *, num_threads=None, allowed_special=None, disallowed_special="all"):
        """Encode many texts; the core releases the GIL, so threads run in parallel.

        Output does not depend on num_threads (default: os.cpu_count()). Surrogates are repaired as
        tiktoken does (`fasttok.normalize.repair_surrogates`), so every str can be encoded.
        """
        texts = checked_texts(texts)
        num_threads = check_optional_num_threads(num_threads)
        allowed, disallowed = self._special_sets(allowed_special, disallowed_special)
        if self._special_regex is not None and (allowed or disallowed):
            split = [self._split_special(t, allowed, disallowed) for t in texts]
        else:
            split = [[(t, None)] for t in texts]
        segments = [seg for parts in split for seg, _ in parts if seg]
        encoded = iter(self._encode_chunks(segments, num_threads))
        out = []
        for parts in split:
            ids = []
            for seg, special_id in parts:
                if special_id is not None:
                    ids.append(special_id)
                elif seg:
                    ids.extend(next(encoded))
            out.append(ids)
        return out

    def _encode_chunks(self, texts, num_threads):
        n_threads = num_threads or os.cpu_count() or 1
        n_threads = max(1, min(n_threads, len(texts) // _MIN_TEXTS_PER_THREAD))
        if n_threads == 1:
            return self._encode_ordinary_many(texts)
        bounds = np.linspace(0, len(texts), n_threads + 1).astype(int)
        chunks = [texts[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
        with ThreadPoolExecutor(n_threads) as pool:
            results = list(pool.map(self._encode_ordinary_many, chunks))
        return [ids for chunk in results for ids in chunk]

    def stream_cut(self):
        """Where a long text may be cut into blocks whose ids, concatenated, are the ids of the whole.

        Returns a `cut(data: bytes) -> offset` rule as `fasttok._files.stream_blocks` takes (the
        last offset a block may end at, or -1), or None when no cut is known to be safe. Every rule
        cuts next to a whitespace character, so a special token can straddle a cut only if it holds
        whitespace: then there is no safe cut.
        """
        if any(ch.isspace() for token in self._special for ch in token):
            return None
        return self._model_stream_cut()

    def _model_stream_cut(self):
        return None  # a model that knows where its pre-tokenizer cannot straddle overrides this

    # -- decoding ---------------------------------------------------------------------------------

    # Whether decode_bytes of consecutive chunks of ids, joined, equals decode_bytes of all of them
    # (then a stream of ids can be decoded chunk by chunk, as `fasttok decode` does).
    decodes_in_pieces = False

    def _check_ids(self, ids):
        """`ids` as a list of ints in the vocabulary: TypeError for anything that is not an integer
        (floats, strings, bools; numpy and other integer types are fine), UnknownTokenError when
        out of range."""
        if isinstance(ids, np.ndarray):
            if ids.ndim != 1 or ids.dtype.kind not in "iu":
                raise TypeError(f"ids must be a 1-D array of integers, not a {ids.ndim}-D {ids.dtype} array")
            ids = ids.tolist()
        elif isinstance(ids, (str, bytes, bytearray)) or not hasattr(ids, "__iter__"):
            raise TypeError(f"ids must be a sequence of integers, not {type(ids).__name__}")
        else:
            ids = list(ids)
            if not all(type(i) is int for i in ids):  # exact int: the common case, checked in C
                ids = [_token_id(i) for i in ids]
        n = self.vocab_size
        if ids and (min(ids) < 0 or max(ids) >= n):
            bad = next(i for i in ids if not 0 <= i < n)
            raise UnknownTokenError(f"token id {bad} is not in the vocabulary (ids 0..{n - 1})")
        return ids

    def decode(self, ids, *, errors="replace"):
        """Decode ids to text. Bytes that are not valid UTF-8 follow `errors` (as in bytes.decode)."""
        ids = self._check_ids(ids)
        if not self._special_by_id:
            return self._decode(ids, errors)
        out, run = [], []
        for i in ids:
            if i in self._special_by_id:
                if run:
                    out.append(self._decode(run, errors))
                    run = []
                out.append(self._special_by_id[i])
            else:
                run.append(i)
        if run:
            out.append(self._decode(run, errors))
        return "".join(out)

    def decode_bytes(self, ids):
        """The decoded text as UTF-8 bytes (byte-level BPE: the exact bytes, even invalid UTF-8)."""
        return self.decode(ids).encode("utf-8")

    # -- files ------------------------------------------------------------------------------------

    def save(self, path, *, format=None):
        """Write the tokenizer atomically, in one of `self.formats` (None: the first, the model's own):
        "native" (fasttok's own), "tokenizer.json" (Hugging Face's; "hf" is accepted too), "vocab.txt"
        (WordPiece: BERT's), "sentencepiece" (a `.model` file)."""
        if format is None:
            format = self.formats[0]
        canonical = FORMAT_ALIASES.get(format, format) if isinstance(format, str) else format
        if canonical not in self.formats:
            names = ", ".join(repr(f) for f in self.formats)
            raise ValueError(f"unknown format {format!r} for a {self.model} tokenizer; use one of {names}")
        self._write(path, canonical)

    def _write(self, path, format):
        """Write one of `self.formats`; a model with a format of its own extends this."""
        if format == "native":
            settings, records = self.to_native()
            _format.write_native(path, self.model, self.native_versions[-1], settings, records)
        else:
            _format.write_json(path, self.to_hf_json())

    def __eq__(self, other):
        return type(self) is type(other) and self.to_native() == other.to_native()

    def __hash__(self):
        return hash((self.model, self.vocab_size))

    def __reduce__(self):
        settings, records = self.to_native()
        return (type(self).from_native, (settings, records, self.native_versions[-1]))

    def __repr__(self):
        return f"<{type(self).__name__} vocab_size={self.vocab_size} special_tokens={len(self._special)}>"


def checked_text(text):
    if not isinstance(text, str):
        raise TypeError(f"text must be str, not {type(text).__name__}")
    return repair_surrogates(text)


def checked_texts(texts):
    if isinstance(texts, str):
        raise TypeError("encode_batch takes a list of texts, not one str (use encode)")
    return [checked_text(t) for t in texts]


def _token_id(value):
    """One token id as an int; TypeError names what it got instead."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"token ids must be integers, not {type(value).__name__} ({value!r})")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"token ids must be integers, not {type(value).__name__} ({value!r})") from None


# ------------------------------------------------------------------------------------------------
# Training: what both trainers share

class TrainingWarning(UserWarning):
    """Training finished but could not do everything asked (e.g. the corpus ran out of pairs)."""


# The largest vocabulary the int32 core ids can address (one id is kept free as a sentinel).
MAX_VOCAB_SIZE = 2**31 - 2


def _check_optional_str(name, value):
    if value is not None and (not isinstance(value, str) or not value):
        raise TypeError(f"{name} must be a non-empty str or None, not {value!r}")
    return value


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrainerOptions:
    """The options both trainers take, checked by one set of rules when the object is made.

    A trainer's keyword arguments become one of these (fasttok.bpe.BPEOptions,
    fasttok.wordpiece.WordPieceOptions); everything after that reads the checked values.
    """
    vocab_size: int                   # every id: special tokens + base symbols + merges
    special_tokens: tuple = ()        # distinct non-empty strings; unk_token is added when missing
    min_frequency: int = 1            # a pair seen fewer times is never merged
    max_token_length: int | None = None   # no merged token longer than this (markers excluded)
    unk_token: str | None = None      # the token for what the vocabulary cannot spell
    continuing_subword_prefix: str | None = None   # marks a symbol that continues a word ("##")
    progress: object = None           # progress(n_done, n_total), called as merges are made

    def __post_init__(self):
        fix = self._set
        fix("vocab_size", check_int("vocab_size", self.vocab_size, 1, MAX_VOCAB_SIZE))
        fix("min_frequency", check_int("min_frequency", self.min_frequency, 1))
        if self.max_token_length is not None:
            fix("max_token_length", check_int("max_token_length", self.max_token_length, 1))
        special = check_special_tokens(self.special_tokens)
        if _check_optional_str("unk_token", self.unk_token) is not None and self.unk_token not in special:
            special.append(self.unk_token)
        fix("special_tokens", tuple(special))
        fix("continuing_subword_prefix", _check_optional_str("continuing_subword_prefix",
                                                             self.continuing_subword_prefix or None))
        if self.progress is not None and not callable(self.progress):
            raise TypeError("progress must be callable")

    def _set(self, name, value):
        object.__setattr__(self, name, value)  # a checked value replaces the given one, once, in __post_init__

    def check_vocab_size(self, n_base, what):
        """The number of merges that fit beside the special tokens and `n_base` base symbols (`what`
        says which, for the message); ValueError when vocab_size leaves no room for those."""
        n_fixed = n_base + len(self.special_tokens)
        if self.vocab_size < n_fixed:
            raise ValueError(f"vocab_size {self.vocab_size} is below the {len(self.special_tokens)} special tokens "
                             f"plus the {what} (at least {n_fixed} needed)")
        return self.vocab_size - n_fixed

    def early_stop(self, n_made, n_planned):
        """`tok.info` for a training that made `n_made` of `n_planned` merges, warning when it stopped early."""
        info = {"requested_vocab_size": self.vocab_size, "n_merges": n_made, "stopped_early": n_made < n_planned}
        if n_made < n_planned:
            info["reason"] = (f"the corpus ran out of pairs (min_frequency={self.min_frequency}) after {n_made} "
                              f"of {n_planned} merges; vocab_size is {self.vocab_size - (n_planned - n_made)}")
            # stacklevel: early_stop <- the model's _learn <- train_bpe / train_wordpiece <- their caller
            warnings.warn(info["reason"], TrainingWarning, stacklevel=4)
        return info

