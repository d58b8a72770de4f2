"""Tokenizer objects: immutable once built, picklable; encode / encode_batch / decode / save.

`Tokenizer` holds what every model shares (special tokens, batching, the public methods); a model
subclass (`BPETokenizer` here, `WordPieceTokenizer` in fasttok/wordpiece.py) supplies:

- `_encode_ordinary_many(texts) -> list[list[int]]`, no special tokens inside the texts;
- `_decode(ids, errors) -> str` for ids that are not special tokens;
- `_id_to_token` (list of str) and `_token_to_id` (dict);
- `_native() -> (settings, records)` and classmethod `_from_native(settings, records)`;
- `_hf_json() -> dict` and classmethod `_from_hf_json(data)`;
- class attributes `model` (its name in files) and `default_allowed_special`.
"""
import operator
import os
from concurrent.futures import ThreadPoolExecutor

import re

import numpy as np

from fasttok import _bpe, _pretok
from fasttok.errors import UnknownTokenError
from fasttok.normalize import repair_surrogates
from fasttok.pretokenize import PATTERNS, pattern_name, pattern_source, safe_cut, splitter

# Below this many texts per thread, starting threads costs more than it saves.
_MIN_TEXTS_PER_THREAD = 16


class Tokenizer:
    model = None
    default_allowed_special = frozenset()

    def __init__(self, *, special_tokens):
        self._special = dict(special_tokens)                 # str -> id
        self._special_by_id = {i: s for s, i in self._special.items()}
        self._special_regex = None
        if self._special:
            alternatives = sorted(self._special, key=len, reverse=True)  # longest match first
            self._special_regex = re.compile("|".join(re.escape(s) for s in alternatives))

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
        if self._special_regex is None:
            return [(text, None)]
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
        return self.encode_batch([text], allowed_special=allowed_special,
                                 disallowed_special=disallowed_special, num_threads=1)[0]

    def encode_ordinary(self, text):
        """Encode text ignoring special tokens entirely."""
        return self._encode_ordinary_many([_checked_text(text)])[0]

    def encode_batch(self, texts, *, num_threads=None, allowed_special=None, disallowed_special="all"):
        """Encode many texts; the core releases the GIL, so threads run in parallel.

        Output does not depend on num_threads (default: os.cpu_count()). Surrogates are repaired as
        tiktoken does (`fasttok.normalize.repair_surrogates`), so every str can be encoded.
        """
        texts = _checked_texts(texts)
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

    def _stream_cut(self):
        """Where a long text may be cut into blocks whose ids, concatenated, are the ids of the whole.

        Returns a `cut(data: bytes) -> offset` rule as `fasttok.pretokenize.read_blocks` takes (the
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

    # Whether decode_bytes of consecutive chunks of ids, joined, equals decode_bytes of all of them.
    _decodes_in_pieces = False

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

    def save(self, path, *, format="native"):
        """Write the tokenizer atomically. Formats: "native" (fasttok's own), "hf" (tokenizer.json)."""
        from fasttok import io
        io.save(self, path, format=format)

    def __eq__(self, other):
        return type(self) is type(other) and self._native() == other._native()

    def __hash__(self):
        return hash((self.model, self.vocab_size))

    def __reduce__(self):
        settings, records = self._native()
        return (type(self)._from_native, (settings, records))

    def __repr__(self):
        return f"<{type(self).__name__} vocab_size={self.vocab_size} special_tokens={len(self._special)}>"


def _checked_text(text):
    if not isinstance(text, str):
        raise TypeError(f"text must be str, not {type(text).__name__}")
    return repair_surrogates(text)


def _checked_texts(texts):
    if isinstance(texts, str):
        raise TypeError("encode_batch takes a list of texts, not one str (use encode)")
    return [_checked_text(t) for t in texts]


def _token_id(value):
    """One token id as an int; TypeError names what it got instead."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"token ids must be integers, not {type(value).__name__} ({value!r})")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"token ids must be integers, not {type(value).__name__} ({value!r})") from None


# ------------------------------------------------------------------------------------------------

def bytes_to_unicode():
    """GPT-2's reversible map from the 256 byte values to printable characters (for vocab files).

    Printable Latin-1 bytes map to themselves; the rest go to code points 256, 257, ... in order.
    """
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    mapping, extra = {}, 0
    for b in range(256):
        if b in keep:
            mapping[b] = chr(b)
        else:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


BYTE_TO_CHAR = bytes_to_unicode()
CHAR_TO_BYTE = {c: b for b, c in BYTE_TO_CHAR.items()}


def bytes_to_token(data):
    """Bytes as a GPT-2 style printable token string."""
    return "".join(BYTE_TO_CHAR[b] for b in data)


class BPETokenizer(Tokenizer):
    """A byte-pair-encoding tokenizer: base symbols plus merges applied in rank order.

    Byte-level (default): the base symbols are the 256 bytes, any text round-trips exactly.
    Character-level: the base symbols are characters seen in training (optionally with a
    continuing-subword prefix on non-initial characters and an end-of-word suffix on final ones).
    """
    model = "bpe"

    def __init__(self, *, base, merges, special_tokens=None, pattern="gpt2", byte_level=True,
                 continuing_subword_prefix=None, end_of_word_suffix=None, unk_token=None, info=None):
        """base: {base id: bytes (byte-level) or str (character-level)}; merges: (left, right, new_id) rows."""
        super().__init__(special_tokens=special_tokens or {})
        self.byte_level = bool(byte_level)
        self._pattern = pattern_source(pattern)
        self.prefix = continuing_subword_prefix or ""
        self.suffix = end_of_word_suffix or ""
        self.unk_token = unk_token
        self.info = dict(info or {})
        merges = np.ascontiguousarray(np.asarray(merges, dtype=np.int32).reshape(-1, 3))  # (n_merges, 3)
        self._merges = merges
        merges.setflags(write=False)

        n = len(base) + len(merges) + len(self._special)
        data = [None] * n   # id -> bytes (byte-level) or str (character-level)
        for i, tok in base.items():
            data[i] = tok
        for left, right, new in merges.tolist():
            if data[left] is None or data[right] is None or data[new] is not None:
                from fasttok.errors import ModelFileError
                raise ModelFileError(f"merge ({left}, {right}) -> {new} refers to an unknown id or reuses id {new}")
            data[new] = self._join(data[left], data[right])
        for s, i in self._special.items():
            if not 0 <= i < n or data[i] is not None:
                from fasttok.errors import ModelFileError
                raise ModelFileError(f"special token {s!r} has id {i}, which is taken or out of range 0..{n - 1}")
        self._data = data
        if self.byte_level:
            self._byte_ids = np.full(256, -1, dtype=np.int32)
            for i, tok in base.items():
                if len(tok) == 1:
                    self._byte_ids[tok[0]] = i
            if (self._byte_ids < 0).any():
                from fasttok.errors import ModelFileError
                raise ModelFileError("a byte-level BPE needs one base token for each of the 256 bytes")
            self._id_to_token = [None if t is None else bytes_to_token(t) for t in data]
        else:
            self._char_ids = {tok: i for i, tok in base.items()}
            self._id_to_token = list(data)
        for s, i in self._special.items():
            self._id_to_token[i] = s
        self._token_to_id = {}
        for i, tok in enumerate(self._id_to_token):
            self._token_to_id.setdefault(tok, i)
        self._unk_id = None
        if unk_token is not None:
            self._unk_id = self._token_to_id.get(unk_token)
            if self._unk_id is None:
                raise ValueError(f"unk_token {unk_token!r} is not in the vocabulary")
        self._table = _bpe.MergeTable(merges)
        self._split = splitter(self._pattern)
        self._base = dict(base)
        self._scanner_id = None
        if self.byte_level and self._pattern is not None and self.pattern in _pretok.PATTERNS:
            self._scanner_id = _pretok.pattern_id(self.pattern)

    @property
    def _decodes_in_pieces(self):
        return self.byte_level  # every id is a fixed byte string; character-level decoding adds spaces

    def _model_stream_cut(self):
        # The named patterns (and WordCounts' file blocks) rest on pretokenize's proof that no piece
        # can straddle its cuts; a custom regex or pattern=None (one piece per text) has no such cut.
        return safe_cut(self._pattern) if self._pattern in PATTERNS.values() else None

    def _join(self, left, right):
        if self.byte_level:
            return left + right
        if self.prefix and right.startswith(self.prefix):
            right = right[len(self.prefix):]
        return left + right

    # -- properties -------------------------------------------------------------------------------

    @property
    def pattern(self):
        """The split pattern: a name from fasttok.pretokenize.PATTERNS, a regex string, or None."""
        return None if self._pattern is None else pattern_name(self._pattern)

    @property
    def merges(self):
        """The merges in rank order, as a list of (left_id, right_id) pairs."""
        return [tuple(m) for m in self._merges[:, :2].tolist()]

    def token_bytes(self, token_id):
        """The bytes a (non-special) token decodes to."""
        token_id = self._check_ids([token_id])[0]
        if token_id in self._special_by_id:
            return self._special_by_id[token_id].encode("utf-8")
        tok = self._data[token_id]
        return tok if self.byte_level else self._strip_markers(tok).encode("utf-8")

    # -- encoding ---------------------------------------------------------------------------------

    def _encode_ordinary_many(self, texts):
        if self._scanner_id is not None:
            # Fused path: the core splits and merges; Python only encodes the texts to UTF-8 once.
            raw = [t.encode("utf-8") for t in texts]
            offsets = np.zeros(len(raw) + 1, dtype=np.int64)  # (n_texts + 1,)
            np.cumsum(np.fromiter(map(len, raw), dtype=np.int64, count=len(raw)), out=offsets[1:])
            ids, ends = self._table.encode_utf8(b"".join(raw), offsets, self._scanner_id, self._byte_ids)
            return [ids[a:b].tolist() for a, b in zip(ends[:-1].tolist(), ends[1:].tolist())]
        pieces_per_text = [self._split(t) for t in texts]
        pieces = [p for ps in pieces_per_text for p in ps]
        if self.byte_level:
            raw = [p.encode("utf-8") for p in pieces]
            lengths = np.fromiter(map(len, raw), dtype=np.int64, count=len(raw))
            symbols = self._byte_ids[np.frombuffer(b"".join(raw), dtype=np.uint8)]  # (n_bytes,)
        else:
            words = [self._char_symbols(p) for p in pieces]
            lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
            symbols = np.fromiter((s for w in words for s in w), dtype=np.int32, count=int(lengths.sum()))
        offsets = np.zeros(len(pieces) + 1, dtype=np.int64)  # (n_pieces + 1,)
        np.cumsum(lengths, out=offsets[1:])
        ids, ends = self._table.encode_words(symbols, offsets)   # ids (n_out,), ends (n_pieces + 1,)
        out, start = [], 0
        for ps in pieces_per_text:
            stop = start + len(ps)
            out.append(ids[ends[start]:ends[stop]].tolist())
            start = stop
        return out

    def _char_symbols(self, piece):
        out = []
        last = len(piece) - 1
        for k, ch in enumerate(piece):
            sym = (self.prefix if k and self.prefix else "") + ch + (self.suffix if k == last else "")
            i = self._char_ids.get(sym)
            if i is None:
                if self._unk_id is None:
                    raise UnknownTokenError(
                        f"character {ch!r} is not in the vocabulary and the tokenizer has no unk_token")
                i = self._unk_id
            out.append(i)
        return out

    # -- decoding ---------------------------------------------------------------------------------

    def _strip_markers(self, tok):
        if self.prefix and tok.startswith(self.prefix):
            tok = tok[len(self.prefix):]
        if self.suffix and tok.endswith(self.suffix):
            tok = tok[: -len(self.suffix)] + " "
        return tok

    def _decode(self, ids, errors):
        if self.byte_level:
            return b"".join([self._data[i] for i in ids]).decode("utf-8", errors=errors)
        out = []
        for k, i in enumerate(ids):
            tok = self._data[i]
            if i == self._unk_id:
                tok = self.unk_token
            glued = self.prefix and tok.startswith(self.prefix)
            tok = self._strip_markers(tok)
            if self.prefix and k and not glued:
                tok = " " + tok
            out.append(tok)
        text = "".join(out)
        return text.rstrip(" ") if self.suffix else text

    def decode_bytes(self, ids):
        """Decode to raw bytes (byte-level: exact, even when the bytes are not valid UTF-8)."""
        ids = self._check_ids(ids)
        if not self.byte_level:
            return super().decode_bytes(ids)
        return b"".join([self._data[i] if i not in self._special_by_id else self._special_by_id[i].encode("utf-8")
                         for i in ids])

    # -- interop ----------------------------------------------------------------------------------

    def to_tiktoken_ranks(self):
        """{token bytes: rank} for `tiktoken.Encoding(mergeable_ranks=...)` (byte-level only)."""
        if not self.byte_level:
            raise ValueError("to_tiktoken_ranks needs a byte-level tokenizer")
        ranks = {}
        for i, tok in enumerate(self._data):
            if tok is None:
                continue
            if tok in ranks:
                raise ValueError(f"tokens {ranks[tok]} and {i} both decode to {tok!r}; tiktoken needs unique bytes")
            ranks[tok] = i
        return ranks

    # -- files ------------------------------------------------------------------------------------

    def _native(self):
        settings = {
            "byte_level": self.byte_level,
            "pattern": self.pattern,
            "special_tokens": self._special,
            "continuing_subword_prefix": self.prefix or None,
            "end_of_word_suffix": self.suffix or None,
            "unk_token": self.unk_token,
            "info": self.info,
        }
        records = []
        for i, tok in sorted(self._base.items()):
            raw = tok if self.byte_level else tok.encode("utf-8")
            records.append(f"b {i} {raw.hex()}")
        records.extend(f"m {l} {r} {n}" for l, r, n in self._merges.tolist())
        records.append(f"end {len(records)}")  # makes a truncated file detectable
        return settings, records

    @classmethod
    def _from_native(cls, settings, records):
        from fasttok.io import parse_bpe_records
        base, merges = parse_bpe_records(records, byte_level=settings.get("byte_level", True))
        return cls(base=base, merges=merges, special_tokens=settings.get("special_tokens") or {},
                   pattern=settings.get("pattern"), byte_level=settings.get("byte_level", True),
                   continuing_subword_prefix=settings.get("continuing_subword_prefix"),
                   end_of_word_suffix=settings.get("end_of_word_suffix"),
                   unk_token=settings.get("unk_token"), info=settings.get("info"))

    def _hf_json(self):
        from fasttok.io import bpe_to_hf_json
        return bpe_to_hf_json(self)

    @classmethod
    def _from_hf_json(cls, data):
        from fasttok.io import bpe_from_hf_json
        return bpe_from_hf_json(cls, data)
