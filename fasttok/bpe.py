"""Byte-pair encoding in one place: BPETokenizer, its files (native, tokenizer.json, OpenAI's GPT-2
encoder.json + vocab.bpe) and its trainer, train_bpe (the policy around one core call).

    >>> tok = train_bpe(["low lower lowest"] * 10, vocab_size=260)
    >>> [tok.id_to_token(i) for i in tok.encode("lowest")]
    ['low', 'e', 's', 't']
"""
import base64
import dataclasses
import re
import warnings

try:  # the standard library's regex parser, used only to bound a pattern's match width (see _may_match_empty)
    from re import _parser as _sre_parser
except ImportError:  # Python 3.10
    import sre_parse as _sre_parser

import numpy as np

from fasttok import _bpe, _files, _format, _pretok
from fasttok._checks import check_num_threads
from fasttok.counts import WordCounts, count_words
from fasttok.errors import CorpusError, ModelFileError, UnknownTokenError
from fasttok.pretokenize import (GPT2_PATTERN, PATTERNS, WHITESPACE_PATTERN, check_stored_pattern, hf_pattern,
                                 pattern_from_hf, pattern_name, pattern_source, safe_cut, splitter)
from fasttok.tokenizer import Tokenizer, TrainerOptions

__all__ = ["BPETokenizer", "BPEOptions", "train_bpe", "train_bpe_from_counts", "load_gpt2", "from_tiktoken",
           "load_tiktoken", "read_tiktoken_ranks", "tiktoken_merges",
           "BYTE_TO_CHAR", "CHAR_TO_BYTE", "bytes_to_token"]


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


_OPTIONAL_STR = (str, type(None))
# The native settings line: {key: (JSON types, required)}. Any other key is refused.
_NATIVE_SETTINGS = {"byte_level": ((bool,), True), "pattern": (_OPTIONAL_STR, True),
                    "special_tokens": ((dict,), True), "continuing_subword_prefix": (_OPTIONAL_STR, False),
                    "end_of_word_suffix": (_OPTIONAL_STR, False), "unk_token": (_OPTIONAL_STR, False),
                    "info": ((dict,), False)}


class BPETokenizer(Tokenizer):
    """A byte-pair-encoding tokenizer: base symbols plus merges applied in rank order.

    Byte-level (default): the base symbols are the 256 bytes, any text round-trips exactly.
    Character-level: the base symbols are characters seen in training (optionally with a
    continuing-subword prefix on non-initial characters and an end-of-word suffix on final ones).
    """
    model = "bpe"
    formats = ("native", "tokenizer.json", "tiktoken")
    native_versions = (1, 2)  # 2: the closing record carries the content hash
    native_hash_since = 2

    def __init__(self, *, base, merges, special_tokens=None, pattern="gpt2", byte_level=True,
                 continuing_subword_prefix=None, end_of_word_suffix=None, unk_token=None, info=None):
        """base: {base id: bytes (byte-level) or str (character-level)}; merges: (left, right, new_id) rows."""
        super().__init__(special_tokens=special_tokens or {})
        self.byte_level = bool(byte_level)
        self._pattern = pattern_source(pattern)
        self.continuing_subword_prefix = continuing_subword_prefix or None
        self.end_of_word_suffix = end_of_word_suffix or None
        self._prefix = continuing_subword_prefix or ""   # "" when absent: what the hot paths test
        self._suffix = end_of_word_suffix or ""
        self.unk_token = unk_token
        self.info = dict(info or {})
        base, merges = _checked_parts(base, merges, self._special, self.byte_level)
        self._merges = merges  # (n_merges, 3) int32, read-only
        n = len(base) + len(merges) + len(self._special)
        data = [None] * n   # id -> bytes (byte-level) or str (character-level)
        for i, tok in base.items():
            data[i] = tok
        for left, right, new in merges.tolist():
            data[new] = self._join(data[left], data[right])
        self._data = data
        if self.byte_level:
            self._byte_ids = np.full(256, -1, dtype=np.int32)
            for i, tok in base.items():
                if tok:
                    self._byte_ids[tok[0]] = i
            self._id_to_token = [None if t is None else bytes_to_token(t) for t in data]
        else:
            self._char_ids = {tok: i for i, tok in base.items()}
            for tok in base.values():
                if tok != unk_token and len(_without_markers(tok, self._prefix, self._suffix)) != 1:
                    raise ModelFileError(f"base token {tok!r} is not one character (with its markers): no text "
                                         f"can ever encode to it")
            self._id_to_token = list(data)
        taken = {t: i for i, t in enumerate(self._id_to_token) if t is not None}
        for s, i in self._special.items():
            if s in taken:
                raise ValueError(f"special token {s!r} is also the vocabulary token {taken[s]}; a tokenizer.json "
                                 f"could not tell them apart (Hugging Face gives other ids): choose another string")
            self._id_to_token[i] = s
        self._token_to_id = {}
        for i, tok in enumerate(self._id_to_token):
            self._token_to_id.setdefault(tok, i)
        self._unk_id = None
        if unk_token is not None:
            self._unk_id = self._token_to_id.get(unk_token)
            if self._unk_id is None:
                raise ModelFileError(f"unk_token {unk_token!r} is not in the vocabulary")
        self._table = _bpe.MergeTable(merges)
        self._split = splitter(self._pattern)
        self._base = dict(base)
        self._scanner_id = None
        if self.byte_level and self._pattern is not None and self.pattern in _pretok.PATTERNS:
            self._scanner_id = _pretok.pattern_id(self.pattern)

    @property
    def decodes_in_pieces(self):
        return self.byte_level  # every id is a fixed byte string; character-level decoding adds spaces

    @property
    def prefix(self):
        """Deprecated: `continuing_subword_prefix` ("" when there is none)."""
        warnings.warn("BPETokenizer.prefix is renamed continuing_subword_prefix (None when there is none); "
                      "prefix will be removed in the next release", DeprecationWarning, stacklevel=2)
        return self._prefix

    @property
    def suffix(self):
        """Deprecated: `end_of_word_suffix` ("" when there is none)."""
        warnings.warn("BPETokenizer.suffix is renamed end_of_word_suffix (None when there is none); "
                      "suffix will be removed in the next release", DeprecationWarning, stacklevel=2)
        return self._suffix

    def _model_stream_cut(self):
        # The named patterns (and WordCounts' file blocks) rest on pretokenize's proof that no piece
        # can straddle its cuts; a custom regex or pattern=None (one piece per text) has no such cut.
        return safe_cut(self._pattern) if self._pattern in PATTERNS.values() else None

    def _join(self, left, right):
        if self.byte_level:
            return left + right
        if self._prefix and right.startswith(self._prefix):
            right = right[len(self._prefix):]
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

    def _encode_ordinary_one(self, text):
        if self._scanner_id is not None:
            return self._table.encode_text(text.encode("utf-8"), self._scanner_id, self._byte_ids)
        return self._encode_ordinary_many([text])[0]

    def _encode_ordinary_many(self, texts):
        if self._scanner_id is not None:
            # Fused path: the core splits and merges; Python only encodes the texts to UTF-8 once.
            return self._table.encode_texts([t.encode("utf-8") for t in texts], self._scanner_id, self._byte_ids)
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
            sym = (self._prefix if k and self._prefix else "") + ch + (self._suffix if k == last else "")
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
        if self._prefix and tok.startswith(self._prefix):
            tok = tok[len(self._prefix):]
        if self._suffix and tok.endswith(self._suffix):
            tok = tok[: -len(self._suffix)] + " "
        return tok

    def _decode(self, ids, errors):
        if self.byte_level:
            return b"".join([self._data[i] for i in ids]).decode("utf-8", errors=errors)
        out = []
        for k, i in enumerate(ids):
            tok = self._data[i]
            if i == self._unk_id:
                tok = self.unk_token
            glued = self._prefix and tok.startswith(self._prefix)
            tok = self._strip_markers(tok)
            if self._prefix and k and not glued:
                tok = " " + tok
            out.append(tok)
        text = "".join(out)
        return text.rstrip(" ") if self._suffix else text

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

    # -- tiktoken's surface ------------------------------------------------------------------------
    # The names and semantics of tiktoken.Encoding, for code written against it (README: "tiktoken ->
    # fasttok"). Errors are tiktoken's too: KeyError for a token or id that is not there.

    @classmethod
    def from_tiktoken(cls, *, pat_str, mergeable_ranks, special_tokens, name=None):
        """What `tiktoken.Encoding(name, pat_str=..., mergeable_ranks=..., special_tokens=...)` takes."""
        return from_tiktoken(pat_str=pat_str, mergeable_ranks=mergeable_ranks, special_tokens=special_tokens,
                             name=name)

    def to_tiktoken(self):
        """A `tiktoken.Encoding` with the same ranks, special tokens and split pattern (same ids)."""
        try:
            import tiktoken
        except ImportError:
            raise ImportError("to_tiktoken needs the tiktoken package: pip install tiktoken") from None
        if self._pattern is None:
            raise ValueError("tiktoken needs a split pattern; this tokenizer has none (pattern=None)")
        return tiktoken.Encoding(self.name or "fasttok", pat_str=self._pattern,
                                 mergeable_ranks=self.to_tiktoken_ranks(), special_tokens=dict(self._special))

    @property
    def name(self):
        """The name given to from_tiktoken (tiktoken's `Encoding.name`), else None."""
        return self.info.get("name")

    @property
    def pat_str(self):
        """The split pattern's regex source (tiktoken's `pat_str`); `pattern` is its name when it has one."""
        return self._pattern

    @property
    def n_vocab(self):
        """tiktoken's n_vocab: the largest id + 1 (= vocab_size: fasttok's ids have no gaps)."""
        return self.vocab_size

    @property
    def max_token_value(self):
        return self.vocab_size - 1

    @property
    def eot_token(self):
        """The id of `<|endoftext|>` (KeyError when there is none, as in tiktoken)."""
        return self._special["<|endoftext|>"]

    @property
    def special_tokens_set(self):
        return set(self._special)

    def encode_single_token(self, text_or_bytes):
        """The id of one whole token, ordinary or special (KeyError(bytes) when it is not one token)."""
        raw = text_or_bytes.encode("utf-8") if isinstance(text_or_bytes, str) else bytes(text_or_bytes)
        i = self._tiktoken_ids.get(raw)
        if i is None:
            i = self._special.get(raw.decode("utf-8", "replace"))
            if i is None or self._special_by_id[i].encode("utf-8") != raw:
                raise KeyError(raw)
        return i

    def decode_single_token_bytes(self, token):
        """The bytes of one id (KeyError when the id is not in the vocabulary)."""
        if isinstance(token, bool) or not hasattr(token, "__index__") or not 0 <= token.__index__() < self.vocab_size:
            raise KeyError(token)
        return self.token_bytes(token.__index__())

    def decode_tokens_bytes(self, tokens):
        return [self.decode_single_token_bytes(t) for t in tokens]

    def encode_ordinary_batch(self, text, *, num_threads=None):
        """encode_ordinary over a list of texts (special tokens are ordinary text)."""
        return self.encode_batch(text, num_threads=num_threads, allowed_special=(), disallowed_special=())

    def decode_batch(self, batch, *, errors="replace", num_threads=None):
        return [self.decode(ids, errors=errors) for ids in batch]

    def decode_bytes_batch(self, batch, *, num_threads=None):
        return [self.decode_bytes(ids) for ids in batch]

    def is_special_token(self, token):
        return token in self._special_by_id

    def decode_with_offsets(self, tokens):
        """(text, offsets): offsets[k] is the index in `text` of the character where token k starts; a token
        that starts inside a character (a UTF-8 continuation byte) gets that character's index. Strict UTF-8."""
        pieces = self.decode_tokens_bytes(tokens)
        n_chars, offsets = 0, []
        for piece in pieces:
            offsets.append(max(0, n_chars - (bool(piece) and 0x80 <= piece[0] < 0xC0)))
            n_chars += sum(1 for c in piece if not 0x80 <= c < 0xC0)
        return b"".join(pieces).decode("utf-8", errors="strict"), offsets

    def encode_bytes(self, data):
        """Ids of raw bytes, as tiktoken's `Encoding._encode_bytes` gives them: valid UTF-8 is encode_ordinary; otherwise
        the valid prefix is split and encoded, and its last piece (with the all-whitespace tokens before it)
        is joined to the rest of the bytes and byte-pair encoded as one piece."""
        if not self.byte_level:
            raise ValueError("encode_bytes needs a byte-level tokenizer")
        data = bytes(data)
        try:
            return self.encode_ordinary(data.decode("utf-8"))
        except UnicodeDecodeError as e:
            valid = e.start
        per_piece = self._encode_pieces([p.encode("utf-8") for p in self._split(data[:valid].decode("utf-8"))])
        ids = [i for piece in per_piece for i in piece]
        last = len(per_piece[-1]) if per_piece else 0
        if last and _all_space(self._data[ids[-last]]):
            while last < len(ids) and _all_space(self._data[ids[-last - 1]]):
                last += 1
        rest = data[valid:]
        if last:
            rest = b"".join(self._data[i] for i in ids[-last:]) + rest
            del ids[-last:]
        whole = self._tiktoken_ids.get(rest)
        return ids + ([whole] if whole is not None else self._encode_pieces([rest])[0])

    @property
    def _tiktoken_ids(self):
        """{token bytes: id}, built on first use (the vocabulary's inverse; never in files)."""
        ids = self.__dict__.get("_tiktoken_ids_cache")
        if ids is None:
            ids = self.__dict__["_tiktoken_ids_cache"] = self.to_tiktoken_ranks()
        return ids

    def _encode_pieces(self, pieces):
        """Byte-level BPE of each bytes piece on its own (no splitting): a list of id lists."""
        lengths = np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces))
        symbols = self._byte_ids[np.frombuffer(b"".join(pieces), dtype=np.uint8)]  # (n_bytes,)
        offsets = np.zeros(len(pieces) + 1, dtype=np.int64)  # (n_pieces + 1,)
        np.cumsum(lengths, out=offsets[1:])
        ids, ends = self._table.encode_words(symbols, offsets)
        return [ids[a:b].tolist() for a, b in zip(ends[:-1].tolist(), ends[1:].tolist())]

    def to_tiktoken_file(self):
        """The bytes of a `.tiktoken` rank file: `<base64 token> <rank>` per line in rank order, the empty
        token as `=` as whisper writes it (special tokens are not in such a file; tiktoken takes them apart)."""
        ranks = sorted(self.to_tiktoken_ranks().items(), key=lambda kv: kv[1])
        return b"".join((base64.b64encode(tok) or b"=") + b" " + str(i).encode() + b"\n" for tok, i in ranks)

    def _write(self, path, format):
        if format != "tiktoken":
            return super()._write(path, format)
        data = self.to_tiktoken_file()
        with _files.atomic_write(path, "wb") as f:
            f.write(data)

    # -- files ------------------------------------------------------------------------------------

    def to_native(self):
        """(settings, records) of the native file: `b <id> <hex bytes>` per base token, `m <left> <right>
        <new>` per merge in rank order, then `end N`."""
        settings = {
            "byte_level": self.byte_level,
            "pattern": self.pattern,
            "special_tokens": self._special,
            "continuing_subword_prefix": self.continuing_subword_prefix,
            "end_of_word_suffix": self.end_of_word_suffix,
            "unk_token": self.unk_token,
            "info": self.info,
        }
        records = []
        for i, tok in sorted(self._base.items()):
            raw = tok if self.byte_level else tok.encode("utf-8")
            records.append(f"b {i} {raw.hex()}")
        records.extend(f"m {l} {r} {n}" for l, r, n in self._merges.tolist())
        return settings, _format.with_end(records)

    @classmethod
    def from_native(cls, settings, records, version=2, *, trust_pattern=True):
        """trust_pattern=False refuses a custom split regex (see pretokenize.check_stored_pattern)."""
        _format.check_settings(settings, _NATIVE_SETTINGS)
        byte_level = settings["byte_level"]
        special = settings["special_tokens"]
        for tok, i in special.items():
            _format.check_id(i, f"the id of special token {tok!r}")
        pattern = check_stored_pattern(settings["pattern"], trust_pattern=trust_pattern)
        base, merges = _parse_records(_format.without_end(records), byte_level=byte_level)
        return cls(base=base, merges=merges, special_tokens=special,
                   pattern=pattern, byte_level=byte_level,
                   continuing_subword_prefix=settings.get("continuing_subword_prefix"),
                   end_of_word_suffix=settings.get("end_of_word_suffix"),
                   unk_token=settings.get("unk_token"), info=settings.get("info"))

    def to_hf_json(self):
        """A Hugging Face tokenizer.json that gives the same ids and the same decoded text."""
        # Special tokens are in the model's vocab too, as HF's trainers put them: the BPE model needs
        # its unk_token there.
        vocab = {t: i for i, t in enumerate(self._id_to_token)}
        if len(vocab) != self.vocab_size:
            raise ValueError("two tokens share one string; this vocabulary cannot be written as tokenizer.json")
        merges = [[self._id_to_token[l], self._id_to_token[r]] for l, r in self.merges]
        if self.byte_level:
            decoder = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}
        else:
            decoder = _char_level_decoder(self._prefix, self._suffix)
        return {
            "version": "1.0", "truncation": None, "padding": None,
            "added_tokens": _format.hf_added_tokens(self._special),
            "normalizer": None, "pre_tokenizer": _hf_pre_tokenizer(self._pattern, self.byte_level),
            "post_processor": None, "decoder": decoder,
            "model": {"type": "BPE", "dropout": None, "unk_token": self.unk_token,
                      "continuing_subword_prefix": self.continuing_subword_prefix,
                      "end_of_word_suffix": self.end_of_word_suffix,
                      "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                      "vocab": vocab, "merges": merges},
        }

    @classmethod
    def from_hf_json(cls, data, *, trust_pattern=True):
        """The tokenizer of a Hugging Face tokenizer.json with a BPE model (ModelFileError for what it cannot
        read, or would read as a different model).

        trust_pattern=False refuses a custom Split regex (see pretokenize.check_stored_pattern)."""
        model = data["model"]
        unknown = set(model) - _HF_MODEL_KEYS
        if unknown:
            raise ModelFileError(f"BPE model option {sorted(unknown)[0]!r} is not supported")
        if model.get("byte_fallback") or model.get("dropout") or model.get("ignore_merges") or model.get("fuse_unk"):
            raise ModelFileError("BPE options byte_fallback, dropout, ignore_merges and fuse_unk are not supported")
        if data.get("normalizer"):
            raise ModelFileError("tokenizer.json normalizers are not supported for BPE models")
        options = {}
        for key in ("unk_token", "continuing_subword_prefix", "end_of_word_suffix"):
            if not isinstance(model.get(key), _OPTIONAL_STR):
                raise ModelFileError(f"model {key} is {str(model[key])[:40]!r}, not a string or null")
            options[key] = model.get(key)
        byte_level, pattern = _read_hf_pre_tokenizer(data.get("pre_tokenizer"), trust_pattern)
        vocab, merges = model.get("vocab"), model.get("merges")
        if not isinstance(vocab, dict) or not isinstance(merges, list):
            raise ModelFileError("a BPE model needs a 'vocab' object and a 'merges' list")
        for token, i in vocab.items():
            _format.check_id(i, f"the id of token {token[:40]!r}")
        pairs = []
        for k, m in enumerate(merges):
            pair = m.split(" ") if isinstance(m, str) else m
            if not isinstance(pair, list) or len(pair) != 2 or not all(isinstance(t, str) for t in pair):
                raise ModelFileError(f"merge {k} is {str(m)[:40]!r}, not 'left right' or [left, right]")
            pairs.append(tuple(pair))
        special = _hf_special_tokens(data.get("added_tokens", []), vocab)
        vocab = {t: i for t, i in vocab.items() if t not in special}
        return _from_string_vocab(vocab, pairs, special_tokens=special, pattern=pattern, byte_level=byte_level,
                                  **options)


_HF_MODEL_KEYS = {"type", "dropout", "unk_token", "continuing_subword_prefix", "end_of_word_suffix", "fuse_unk",
                  "byte_fallback", "ignore_merges", "vocab", "merges"}


def _hf_special_tokens(added_tokens, vocab):
    """{content: id} of tokenizer.json's added_tokens, checked (and against the model's vocab)."""
    if not isinstance(added_tokens, list):
        raise ModelFileError("added_tokens is not a list")
    special = {}
    for entry in added_tokens:
        if not isinstance(entry, dict) or not isinstance(entry.get("content"), str) or not entry["content"]:
            raise ModelFileError(f"an added token is {str(entry)[:60]!r}, not an object with a non-empty 'content'")
        token, i = entry["content"], _format.check_id(entry.get("id"), f"the id of added token {entry['content'][:40]!r}")
        if special.setdefault(token, i) != i or vocab.get(token, i) != i:
            raise ModelFileError(f"added token {token[:40]!r} has two ids")
    return special


# ------------------------------------------------------------------------------------------------
# Hugging Face tokenizer.json and OpenAI's GPT-2 files
# ------------------------------------------------------------------------------------------------

def _hf_pre_tokenizer(source, byte_level):
    """The HF pre-tokenizer that cuts text into the pieces `source` does."""
    if source is None:
        split = None
    elif source == WHITESPACE_PATTERN:
        split = {"type": "Whitespace"}  # the pattern is HF's Whitespace (same \w: UTS #18, tested)
    else:
        # Removed + invert keeps exactly the matches, i.e. regex.findall semantics.
        split = {"type": "Split", "pattern": {"Regex": hf_pattern(source)}, "behavior": "Removed", "invert": True}
    if not byte_level:
        return split
    to_bytes = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}
    if source == GPT2_PATTERN:
        return dict(to_bytes, use_regex=True)  # HF's ByteLevel regex is GPT-2's pattern
    return to_bytes if split is None else {"type": "Sequence", "pretokenizers": [split, to_bytes]}


def _char_level_decoder(prefix, suffix):
    """HF decoders that give BPETokenizer.decode's text for a character-level vocabulary.

    HF joins what the decoders leave with nothing (and, with no decoder at all, with spaces): a
    prefix-marked token glues to the one before and an unmarked one starts a word (WordPiece); a
    suffix ends a word with a space (BPEDecoder); the text is then one piece (Fuse) whose trailing
    spaces go, as decode drops them after a final suffix (Replace; HF's Strip decoder would panic
    on an empty text).
    """
    steps = []
    if prefix:
        steps.append({"type": "WordPiece", "prefix": prefix, "cleanup": False})
    if suffix:
        steps.append({"type": "BPEDecoder", "suffix": suffix})
    steps.append({"type": "Fuse"})
    if suffix:
        steps.append({"type": "Replace", "pattern": {"Regex": " +\\z"}, "content": ""})
    return steps[0] if len(steps) == 1 else {"type": "Sequence", "decoders": steps}


def _find_pretokenizers(node):
    """The steps of a tokenizer.json pre_tokenizer, Sequences flattened (at most 8 deep), in order."""
    steps, stack = [], [(node, 0)]
    while stack:
        node, depth = stack.pop()
        if node is None:
            continue
        if not isinstance(node, dict) or not isinstance(node.get("type"), str):
            raise ModelFileError(f"a pre-tokenizer is {str(node)[:60]!r}, not an object with a 'type'")
        if node["type"] != "Sequence":
            steps.append(node)
            continue
        children = node.get("pretokenizers")
        if depth >= 8 or not isinstance(children, list):
            raise ModelFileError("a Sequence pre-tokenizer needs a list of pretokenizers (nested at most 8 deep)")
        stack.extend((child, depth + 1) for child in reversed(children))
    return steps


_NAME_LIKE = re.compile(r"[A-Za-z][A-Za-z0-9_\-]*")
# HF's Split behaviours, as tokenizer.json spells them.
SPLIT_BEHAVIORS = ("Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous")
# Patterns that match at every position of every text, so that a Split with them never leaves a gap.
_GAPLESS = {PATTERNS["gpt2"], PATTERNS["gpt4"]}
# What a pattern may not contain when split_pattern writes it twice into one regex: references to
# groups by number or name, recursion, and anchors to the previous match.
_NOT_REPEATABLE = re.compile(r"\\(?:[1-9]|g|k|G|K)|\(\?(?:P[=>]|&|R\)|[0-9]|[+-][0-9])")


def split_pattern(source, behavior, invert):
    r"""A pattern whose matches (regex findall) are exactly the pieces HF's Split(pattern=source,
    behavior, invert) makes, or ModelFileError when there is none.

    Writing M for the pattern and G = (?:(?!M)[\s\S])++ for a gap (the text up to where M next matches):

    - Removed, invert (the matches): M;   Isolated (matches and gaps): M|G;
    - MergedWithPrevious, or MergedWithNext + invert (a gap with the match after it): (?:(?!M)[\s\S])*+M|G;
    - MergedWithNext, or MergedWithPrevious + invert (a match with the gap after it): M(?:(?!M)[\s\S])*+|G;
    - Contiguous (runs of matches, and gaps): (?>M+)|G;
    - Removed without invert (only the gaps) has no such pattern and is refused.

    With GPT-2's and GPT-4's patterns there are no gaps, so all but Contiguous are the pattern itself.
    The way a pattern is matched is fasttok.pretokenize's; this is only how matches and gaps become pieces.

    >>> regex.findall(split_pattern("X", "MergedWithPrevious", False), "aXXb")  # doctest: +SKIP
    ['aX', 'X', 'b']
    """
    if behavior not in SPLIT_BEHAVIORS or not isinstance(invert, bool):
        raise ModelFileError(f"Split behavior {str(behavior)[:40]!r} invert={str(invert)[:10]} is not a Split "
                             f"pre-tokenizer (behaviors: {', '.join(SPLIT_BEHAVIORS)}; invert: true or false)")
    if behavior == "Removed":
        if not invert:
            raise ModelFileError("Split behavior 'Removed' without invert (keep only the text between matches) "
                                 "is not supported")
        return source
    if source in _GAPLESS and behavior != "Contiguous":
        return source
    if _NOT_REPEATABLE.search(source):
        raise ModelFileError(f"Split behavior {behavior!r} is supported for patterns without backreferences, "
                             f"recursion, \\G or \\K; this one has one: {source[:60]!r}")
    if _may_match_empty(source):
        raise ModelFileError(f"Split behavior {behavior!r} is supported for patterns that cannot match the empty "
                             f"string (Oniguruma and `regex` step past empty matches differently); this one may: "
                             f"{source[:60]!r}")
    m = f"(?:{source})"
    gap = rf"(?:(?!{m})[\s\S])"
    if behavior == "Isolated":
        piece = m
    elif behavior == "Contiguous":
        piece = rf"(?>{m}+)"
    elif (behavior == "MergedWithPrevious") != invert:
        piece = rf"{gap}*+{m}"
    else:
        piece = rf"{m}{gap}*+"
    return rf"{piece}|{gap}++"


_ONE_CHAR_ESCAPES = re.compile(r"\\(?:[pPN]\{[^}]*\}|[pP][A-Za-z]|x\{[0-9A-Fa-f]+\}|X)|\\.")


def _may_match_empty(source):
    """Whether a match of `source` may be empty: its minimum width as the standard library's parser
    measures it (lookarounds and anchors have none) is 0, or the parser cannot read it. The `regex`
    escapes it does not know (\\p{..}, \\x{..}, \\X) each match one character or more, so each is
    measured as one.

    >>> _may_match_empty(r" ?\\p{L}+"), _may_match_empty(r"\\b"), _may_match_empty("a|")
    (False, True, True)
    """
    one = _ONE_CHAR_ESCAPES.sub(lambda e: e.group() if len(e.group()) == 2 and e.group() != "\\X" else "x", source)
    try:
        return _sre_parser.parse(one).getwidth()[0] == 0
    except Exception:  # noqa: BLE001 -- any failure to parse means "cannot tell", which refuses
        return True


def _read_hf_pre_tokenizer(node, trust_pattern=True):
    """(byte_level, pattern) of a tokenizer.json pre_tokenizer; ModelFileError for one fasttok cannot run.

    trust_pattern=False refuses a Split regex that is not a named pattern or a literal
    (pretokenize.check_stored_pattern), checked as the file states it, before the Split behaviour is
    written around it (split_pattern only adds possessive and atomic steps, so a safe pattern stays safe).

    fasttok runs at most one splitting step (a Split, Whitespace, or ByteLevel with use_regex), before the
    ByteLevel byte mapping if there is one: a Split after it would see byte glyphs, not the text.
    """
    byte_level, pattern, n_splits = False, None, 0
    for p in _find_pretokenizers(node):
        kind = p["type"]
        if byte_level:
            raise ModelFileError(f"pre-tokenizer {kind!r} after ByteLevel is not supported (it would see byte "
                                 f"glyphs, not the text)")
        if kind == "Split":
            unknown = set(p) - {"type", "pattern", "behavior", "invert"}
            if unknown:
                raise ModelFileError(f"Split option {sorted(unknown)[0]!r} is not supported")
            spec = p.get("pattern")
            if not isinstance(spec, dict) or len(spec) != 1 or not isinstance(next(iter(spec.values())), str) \
                    or next(iter(spec)) not in ("Regex", "String") or not next(iter(spec.values())):
                raise ModelFileError(f"Split pattern {str(spec)[:60]!r} is not {{'Regex': str}} or {{'String': str}} "
                                     f"(non-empty)")
            source = pattern_from_hf(spec["Regex"]) if "Regex" in spec else re.escape(spec["String"])
            source = check_stored_pattern(source, trust_pattern=trust_pattern)
            if _NAME_LIKE.fullmatch(source):
                source = f"(?:{source})"  # a regex that matches a word, not the pattern of that name
            pattern = split_pattern(pattern_source(source), p.get("behavior"), p.get("invert", False))
        elif kind == "ByteLevel":
            for key, default in (("add_prefix_space", True), ("use_regex", True), ("trim_offsets", True)):
                if not isinstance(p.get(key, default), bool):
                    raise ModelFileError(f"ByteLevel {key} is {str(p[key])[:20]!r}, not true or false")
            if p.get("add_prefix_space", True):
                raise ModelFileError("ByteLevel add_prefix_space=True is not supported")
            byte_level = True
            if not p.get("use_regex", True):
                continue
            pattern = GPT2_PATTERN  # HF's ByteLevel regex is GPT-2's pattern, Isolated
        elif kind == "Whitespace":
            pattern = WHITESPACE_PATTERN
        else:
            raise ModelFileError(f"pre-tokenizer {kind!r} is not supported")
        n_splits += 1
        if n_splits > 1:
            raise ModelFileError("more than one splitting pre-tokenizer (Split, Whitespace, ByteLevel with "
                                 "use_regex) is not supported")
    return byte_level, pattern


def _from_string_vocab(vocab, merges, *, special_tokens, pattern, byte_level, **options):
    """Build a BPETokenizer from {token string: id} and [(left, right)] merges in rank order.

    Byte-level token strings use GPT-2's byte-to-character map. Base tokens are those no merge makes.
    """
    rows = []
    made = set()
    for k, (left, right) in enumerate(merges):
        joined = left + (right[len(options["continuing_subword_prefix"]):]
                         if options.get("continuing_subword_prefix") and right.startswith(options["continuing_subword_prefix"])
                         else right)
        try:
            rows.append((vocab[left], vocab[right], vocab[joined]))
        except KeyError as e:
            raise ModelFileError(f"merge {k} ({left!r} {right!r}) uses a token missing from the vocabulary: {e}") from None
        made.add(vocab[joined])
    base = {}
    for token, i in vocab.items():
        if i in made:
            continue
        if byte_level:
            try:
                base[i] = bytes(CHAR_TO_BYTE[c] for c in token)
            except KeyError:
                raise ModelFileError(f"token {token!r} is not a byte-level token string") from None
        else:
            base[i] = token
    return BPETokenizer(base=base, merges=np.array(rows, dtype=np.int32).reshape(-1, 3),
                        special_tokens=special_tokens, pattern=pattern, byte_level=byte_level, **options)


def load_gpt2(encoder_json, vocab_bpe):
    """Load OpenAI's GPT-2 `encoder.json` + `vocab.bpe` (ids identical to tiktoken's "gpt2")."""
    encoder = _format.json_loads(_format.read_text(encoder_json, "encoder.json"),
                                 f"{encoder_json}: corrupt encoder.json")
    if not isinstance(encoder, dict):
        raise ModelFileError(f"{encoder_json}: an encoder.json is a JSON object of token: id")
    for token, i in encoder.items():
        _format.check_id(i, f"{encoder_json}: the id of token {token[:40]!r}")
    lines = _format.read_text(vocab_bpe, "vocab.bpe").split("\n")
    if not lines or not lines[0].startswith("#version"):
        raise ModelFileError(f"{vocab_bpe}: missing '#version' header line")
    merges = [tuple(line.split(" ")) for line in lines[1:] if line]
    if any(len(m) != 2 for m in merges):
        raise ModelFileError(f"{vocab_bpe}: a merge line does not have exactly two tokens")
    special = {t: i for t, i in encoder.items() if t.startswith("<|") and t.endswith("|>")}
    vocab = {t: i for t, i in encoder.items() if t not in special}
    try:
        return _from_string_vocab(vocab, merges, special_tokens=special, pattern="gpt2", byte_level=True)
    except (ModelFileError, ValueError) as e:
        raise ModelFileError(f"{encoder_json}, {vocab_bpe}: {e}") from None


# ------------------------------------------------------------------------------------------------
# tiktoken: building from its inputs, and `.tiktoken` rank files
# ------------------------------------------------------------------------------------------------

# Deriving a token's merge runs BPE over its bytes in Python, quadratic in its length, so a file's work is
# bounded before it starts: tokens of at most 1024 bytes (published files: 128), and the sum of their squared
# lengths at most 2**26 (whisper's gpt2.tiktoken: 2.5 million; 2**26 is about 3 s of work).
MAX_TIKTOKEN_TOKEN_BYTES = 1024
MAX_TIKTOKEN_WORK = 1 << 26
_TIKTOKEN_LINE = re.compile(rb"([A-Za-z0-9+/]*={0,2}) ([0-9]{1,10})")


def looks_like_tiktoken(head):
    """Whether bytes that open a file look like a `.tiktoken` rank file: its first line `<base64> <int>`."""
    line = head.split(b"\n", 1)[0]
    return bool(line) and _TIKTOKEN_LINE.fullmatch(line) is not None and len(line.split(b" ")[0]) % 4 == 0


def read_tiktoken_ranks(raw):
    r"""{token bytes: rank} of a `.tiktoken` file's bytes (ModelFileError naming the bad line).

    >>> read_tiktoken_ranks(b"IQ== 0\nIg== 1\n")
    {b'!': 0, b'"': 1}
    """
    ranks = {}
    for k, line in enumerate(raw.split(b"\n"), 1):
        if not line:
            continue
        m = _TIKTOKEN_LINE.fullmatch(line)
        try:  # whisper's multilingual.tiktoken writes the empty token as "=", which base64 does not
            token = (b"" if m.group(1) == b"=" else base64.b64decode(m.group(1), validate=True)) if m else None
        except ValueError:
            token = None
        if token is None:
            raise ModelFileError(f"line {k} is not '<base64 token> <rank>': {line[:60]!r}")
        if ranks.setdefault(token, int(m.group(2))) != int(m.group(2)):
            raise ModelFileError(f"line {k}: token {token[:40]!r} is listed twice")
    return ranks


def tiktoken_merges(ranks):
    """The merges equivalent to tiktoken's ranks, as (left, right, new) id rows in rank order: the merge
    that makes the token of rank r is what is left of its bytes after BPE with the ranks below r only,
    which is exactly two parts.

    >>> tiktoken_merges({b"a": 0, b"b": 1, b"ab": 2, b"abb": 3})
    [(0, 1, 2), (2, 1, 3)]
    """
    longest = max(map(len, ranks), default=0)
    if longest > MAX_TIKTOKEN_TOKEN_BYTES:
        raise ModelFileError(f"a token has {longest} bytes; fasttok reads tiktoken tokens of at most "
                             f"{MAX_TIKTOKEN_TOKEN_BYTES}")
    if sum(len(token) ** 2 for token in ranks) > MAX_TIKTOKEN_WORK:
        raise ModelFileError(f"the tokens' squared lengths sum to more than {MAX_TIKTOKEN_WORK}: deriving their "
                             f"merges would take too long (published vocabularies need a tenth of that)")
    rows = []
    for token, rank in sorted(ranks.items(), key=lambda kv: kv[1]):
        if len(token) < 2:
            continue
        parts = [token[i:i + 1] for i in range(len(token))]
        while len(parts) > 2:
            best, i = min((ranks.get(parts[i] + parts[i + 1], rank), i) for i in range(len(parts) - 1))
            if best >= rank:
                break
            parts[i:i + 2] = [parts[i] + parts[i + 1]]
        left, right = (ranks.get(p, rank) for p in parts[:2]) if len(parts) == 2 else (rank, rank)
        if left >= rank or right >= rank:
            raise ModelFileError(f"token {token[:40]!r} (rank {rank}) is not made by merging two tokens of lower "
                                 f"rank, so BPE could never produce it")
        rows.append((left, right, rank))
    return rows


def from_tiktoken(*, pat_str, mergeable_ranks, special_tokens, name=None, trust_pattern=True):
    """A BPETokenizer from what `tiktoken.Encoding` takes: the split regex, {token bytes: rank} and
    {special token: id}. Ids are the ranks, so the ids are tiktoken's.

    fasttok numbers its ids 0..n-1 without holes: the ranks must be 0..len(ranks)-1 and the special
    tokens must take the ids right after them (whisper's files: yes; cl100k_base, whose specials are
    100257-100260 and 100276 after ranks 0..100255, is refused by name).
    """
    if not isinstance(mergeable_ranks, dict) or not isinstance(special_tokens, dict):
        raise TypeError("mergeable_ranks and special_tokens must be dicts ({bytes: rank}, {str: id})")
    n = len(mergeable_ranks)
    if sorted(mergeable_ranks.values()) != list(range(n)):
        raise ValueError(f"the ranks must be 0..{n - 1}, each once: fasttok's ids have no gaps")
    if sorted(special_tokens.values()) != list(range(n, n + len(special_tokens))):
        raise ValueError(f"special token ids {sorted(special_tokens.values())[:8]} are not {n}.."
                         f"{n + len(special_tokens) - 1}: fasttok's ids have no gaps, so the special tokens must "
                         f"follow the {n} ranks directly (ids between ranks and specials are not supported)")
    base = {rank: token for token, rank in mergeable_ranks.items() if len(token) < 2}
    merges = np.array(tiktoken_merges(mergeable_ranks), dtype=np.int32).reshape(-1, 3)
    pattern = check_stored_pattern(pat_str, trust_pattern=trust_pattern)
    return BPETokenizer(base=base, merges=merges, special_tokens=special_tokens, pattern=pattern,
                        byte_level=True, info={"name": name} if name is not None else None)


def load_tiktoken(path, *, pattern="gpt2", special_tokens=None, name=None, trust_pattern=True):
    """A `.tiktoken` rank file as a BPETokenizer. The file has no split pattern and no special tokens:
    `pattern` is a name from fasttok.pretokenize.PATTERNS or a regex; special_tokens: {str: id} or None."""
    return from_tiktoken_file(_format.read_bytes(path, ".tiktoken file"), pattern, special_tokens=special_tokens,
                              name=name, trust_pattern=trust_pattern)


def from_tiktoken_file(raw, pattern="gpt2", *, special_tokens=None, name=None, trust_pattern=True):
    """load_tiktoken on a file's bytes (fasttok.load reads the file once and hands them here)."""
    return from_tiktoken(pat_str=pattern_source(pattern), mergeable_ranks=read_tiktoken_ranks(raw),
                         special_tokens=dict(special_tokens or {}), name=name, trust_pattern=trust_pattern)


def _all_space(token):
    """tiktoken's test for a token of only spaces, newlines and tabs (in encode_bytes)."""
    return all(b in b" \n\t" for b in token)


# ------------------------------------------------------------------------------------------------
# Native records
# ------------------------------------------------------------------------------------------------

# Bounds on what a file may make us build (checked before anything is built, in O(n_merges) integer
# arithmetic): real vocabularies have tokens of at most a few hundred bytes, but 40 self-doubling merges
# in a 3 KB file describe a 2**40-byte token.
MAX_TOKEN_BYTES = 1 << 20            # one token
MAX_VOCAB_BYTES = 64 << 20           # all tokens together, plus 256 bytes per token


def _without_markers(tok, prefix, suffix):
    if prefix and tok.startswith(prefix) and len(tok) > len(prefix):
        tok = tok[len(prefix):]
    if suffix and tok.endswith(suffix) and len(tok) > len(suffix):
        tok = tok[:-len(suffix)]
    return tok


def _checked_parts(base, merges, special, byte_level):
    """(base, merges) checked before anything is built: ModelFileError (or ValueError for a caller's bad
    special token) unless every id is an int in range and used once, every merge joins ids defined before
    it, no pair is merged twice, byte-level base tokens are the 256 bytes once each, and no token is longer
    than MAX_TOKEN_BYTES nor all of them together than MAX_VOCAB_BYTES + 256 per token. The merges come
    back as a read-only (n_merges, 3) int32 array."""
    # 1. the merge rows as integers small enough for the core
    try:
        rows = np.asarray(merges, dtype=np.int64)
    except (OverflowError, ValueError, TypeError):
        raise ModelFileError("merge ids must be integers 0..2**31-2") from None
    if rows.size % 3 or (rows.ndim != 2 and rows.size) or (rows.size and rows.shape[1] != 3):
        raise ModelFileError("merges must be (left, right, new id) rows")
    rows = rows.reshape(-1, 3)
    n = len(base) + len(rows) + len(special)
    if rows.size and (rows.min() < 0 or rows.max() >= n):
        raise ModelFileError(f"a merge refers to id {int(rows.max() if rows.max() >= n else rows.min())}, "
                             f"outside 0..{n - 1}")
    # 2. base tokens: ids in range, tokens of the right kind, distinct
    sizes = [-1] * n   # token byte lengths, -1 while undefined (a list: numpy scalar indexing is slow per merge)
    for i, tok in base.items():
        _format.check_id(i, "a base token id")
        if i >= n or sizes[i] >= 0:
            raise ModelFileError(f"base token id {i} is out of range 0..{n - 1} or used twice")
        if not isinstance(tok, bytes if byte_level else str) or not (tok or byte_level):
            raise ModelFileError(f"base token {i} is {tok!r}: expected {'bytes' if byte_level else 'a non-empty str'}")
        sizes[i] = len(tok) if byte_level else len(tok.encode("utf-8", "surrogatepass"))
    if len(set(base.values())) != len(base):
        raise ModelFileError("two base tokens are the same token (one of them could never be produced)")
    # A byte-level base is the 256 bytes; the empty token, which no text encodes to, is let through
    # because a published vocabulary has one (whisper's multilingual.tiktoken, rank 50256).
    odd = [t for t in base.values() if len(t) > 1] if byte_level else []
    if byte_level and (odd or sum(len(t) == 1 for t in base.values()) != 256):
        raise ModelFileError("a byte-level BPE has exactly one base token for each of the 256 bytes and no "
                             f"other, except the empty one (found {len(base)} base tokens"
                             + (f", among them {odd[0]!r}, which no merge makes" if odd else "") + ")")
    # 3. merges in rank order: parts defined before, new id fresh, lengths bounded
    total = sum(size for size in sizes if size > 0)
    budget = MAX_VOCAB_BYTES + 256 * n
    seen = set()
    for k, (left, right, new) in enumerate(rows.tolist()):
        if sizes[left] < 0 or sizes[right] < 0 or sizes[new] >= 0:
            raise ModelFileError(f"merge {k} ({left}, {right}) -> {new} uses an id not defined before it "
                                 f"or reuses id {new}")
        if (left, right) in seen:
            raise ModelFileError(f"merge {k} ({left}, {right}) repeats an earlier merge (it could never apply)")
        seen.add((left, right))
        size = sizes[left] + sizes[right]
        if size > MAX_TOKEN_BYTES:
            raise ModelFileError(f"merge {k} makes a token of {size} bytes; fasttok refuses tokens longer than "
                                 f"{MAX_TOKEN_BYTES} bytes")
        total += size
        if total > budget:
            raise ModelFileError(f"the merges make more than {budget} bytes of tokens in all; fasttok refuses "
                                 f"vocabularies larger than {MAX_VOCAB_BYTES} bytes + 256 per token")
        sizes[new] = size
    # 4. special tokens: strings with ids the base and the merges leave free
    for tok, i in special.items():
        if not isinstance(tok, str) or not tok:
            raise ValueError(f"special tokens must be non-empty strings, got {tok!r}")
        _format.check_id(i, f"the id of special token {tok!r}")
        if i >= n or sizes[i] >= 0:
            raise ModelFileError(f"special token {tok!r} has id {i}, which is taken or out of range 0..{n - 1}")
        sizes[i] = 0
    rows = np.ascontiguousarray(rows.astype(np.int32))
    rows.setflags(write=False)
    return base, rows


def _parse_records(records, *, byte_level):
    """Native BPE records (without `end N`) -> ({id: bytes|str}, [(left, right, new)]), every number a
    plain ASCII decimal id below 2**31 - 1."""
    base, merges = {}, []
    for k, line in enumerate(records):
        parts = line.split(" ")
        try:
            if parts[0] == "b" and len(parts) == 3 and _is_id(parts[1]):
                raw = bytes.fromhex(parts[2])
                if int(parts[1]) in base or raw.hex() != parts[2].lower():
                    raise ValueError
                base[int(parts[1])] = raw if byte_level else raw.decode("utf-8")
            elif parts[0] == "m" and len(parts) == 4 and all(map(_is_id, parts[1:])):
                merges.append((int(parts[1]), int(parts[2]), int(parts[3])))
            else:
                raise ValueError
        except ValueError:  # UnicodeDecodeError included
            raise ModelFileError(f"corrupt record on line {k + 3}: {line[:60]!r}") from None
    return base, merges


def _is_id(text):
    return text.isascii() and text.isdigit() and len(text) <= 10 and int(text) < 2**31 - 1


# ------------------------------------------------------------------------------------------------
# Training
# ------------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True, kw_only=True)
class BPEOptions(TrainerOptions):
    """train_bpe's options, checked once (the shared rules of TrainerOptions, and BPE's own)."""
    byte_level: bool = True            # base symbols: the 256 bytes, or the characters of the corpus
    end_of_word_suffix: str | None = None   # marks a symbol that ends a word (character-level)

    def __post_init__(self):
        super().__post_init__()
        self._set("byte_level", bool(self.byte_level))
        self._set("end_of_word_suffix", self.end_of_word_suffix or None)
        if self.byte_level and (self.continuing_subword_prefix or self.end_of_word_suffix or self.unk_token):
            raise ValueError("continuing_subword_prefix, end_of_word_suffix and unk_token are for "
                             "character-level BPE (byte_level=False); byte-level BPE never needs an unk token")


def train_bpe(corpus=None, *, files=None, vocab_size, pattern="gpt2", byte_level=True, special_tokens=(),
              min_frequency=1, max_token_length=None, continuing_subword_prefix=None, end_of_word_suffix=None,
              unk_token=None, progress=None, num_threads=1, num_workers=None):
    """Learn a BPE tokenizer from a corpus.

    corpus: a str text, a pathlib.Path, or an iterable of str texts and Path files (files are streamed).
    files: a path (str or Path) or a list of them, read as UTF-8 files after `corpus`. Every path is
    checked before counting starts; a bare str corpus that names an existing file is a CorpusError.
    vocab_size: every id counts (base symbols + merges + special tokens).
    Merge rule: the pair with the highest count; ties go to the smallest (left_id, right_id).
    Byte-level: ids 0..255 are the bytes, merge k gets id 256 + k, special tokens follow the merges.
    Character-level: base symbols are numbered in code-point order of their strings, then merges,
    then special tokens (`unk_token` is added to them when missing).
    max_token_length: in bytes (byte-level) or characters (character-level), markers excluded.
    progress: called as progress(merges_done, merges_planned) about 100 times.
    num_threads: parallel pre-token counting (see count_words); the result does not depend on it.
    (num_workers: its old name, deprecated.)
    If the corpus runs out of pairs first, a TrainingWarning says so and `tok.info` records it.
    """
    options = BPEOptions(vocab_size=vocab_size, byte_level=byte_level, special_tokens=special_tokens,
                         min_frequency=min_frequency, max_token_length=max_token_length,
                         continuing_subword_prefix=continuing_subword_prefix,
                         end_of_word_suffix=end_of_word_suffix, unk_token=unk_token, progress=progress)
    num_threads = check_num_threads(num_threads, num_workers)
    counts = count_words(corpus, files=files, pattern=pattern, num_threads=num_threads)
    table = _word_table(counts, options)
    del counts  # the table is all training needs: free the hash table before the learner allocates
    return _learn(table, options)


def train_bpe_from_counts(counts, *, vocab_size, byte_level=True, special_tokens=(), min_frequency=1,
                          max_token_length=None, continuing_subword_prefix=None, end_of_word_suffix=None,
                          unk_token=None, progress=None):
    """Learn a BPE tokenizer from a WordCounts table; identical to train_bpe on the same text.

    The split pattern is the one the counts were made with.
    """
    if not isinstance(counts, WordCounts):
        raise TypeError(f"counts must be a fasttok.WordCounts, not {type(counts).__name__}")
    options = BPEOptions(vocab_size=vocab_size, byte_level=byte_level, special_tokens=special_tokens,
                         min_frequency=min_frequency, max_token_length=max_token_length,
                         continuing_subword_prefix=continuing_subword_prefix,
                         end_of_word_suffix=end_of_word_suffix, unk_token=unk_token, progress=progress)
    return _learn(_word_table(counts, options), options)


def _word_table(counts, options):
    """The unique-word table as flat arrays: what the core learns from."""
    pieces, weights = counts.items()  # bytes sorted bytewise (= code-point order), (n_words,) int64
    if not pieces:
        raise CorpusError("the corpus is empty: no pre-tokens to learn from")
    if options.byte_level:
        clash = set(options.special_tokens) & set(BYTE_TO_CHAR.values())
        if clash:
            raise ValueError(f"special tokens {sorted(clash)} are also byte tokens of a byte-level vocabulary; a "
                             f"tokenizer.json could not tell them apart: choose other strings")
        lengths = np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces))
        symbols = np.frombuffer(b"".join(pieces), dtype=np.uint8).astype(np.int32)  # (n_symbols,)
        base = {b: bytes([b]) for b in range(256)}
    else:
        prefix, suffix = options.continuing_subword_prefix or "", options.end_of_word_suffix or ""
        words = [_char_word(p.decode("utf-8"), prefix, suffix) for p in pieces]
        alphabet = sorted({s for w in words for s in w})
        index = {s: i for i, s in enumerate(alphabet)}
        lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
        symbols = np.fromiter((index[s] for w in words for s in w), dtype=np.int32, count=int(lengths.sum()))
        base = dict(enumerate(alphabet))
        clash = set(options.special_tokens) & set(alphabet)
        if clash:
            raise ValueError(f"special tokens {sorted(clash)} are also characters of the corpus alphabet")
    offsets = np.zeros(len(pieces) + 1, dtype=np.int64)  # (n_words + 1,)
    np.cumsum(lengths, out=offsets[1:])
    return {"symbols": symbols, "offsets": offsets, "weights": weights, "base": base, "pattern": counts.pattern}


def _learn(table, options):
    base = table["base"]
    # 1. how many merges fit beside the base symbols and the special tokens
    what = "256 byte tokens" if options.byte_level else f"{len(base)} characters of the corpus alphabet"
    n_merges = options.check_vocab_size(len(base), what)
    # 2. learn them in the core
    merges = _bpe.learn_merges(table["symbols"], table["offsets"], table["weights"],
                               np.ones(len(base), dtype=np.int64), n_merges=n_merges,
                               min_frequency=options.min_frequency, max_token_length=options.max_token_length or 0,
                               progress=options.progress)  # (n_learned, 2)
    n_learned = len(merges)
    info = options.early_stop(n_learned, n_merges)
    # 3. number them: base, merges, then the special tokens
    first = len(base)
    rows = np.column_stack([merges, np.arange(first, first + n_learned, dtype=np.int32)]).astype(np.int32)
    special_ids = {s: first + n_learned + k for k, s in enumerate(options.special_tokens)}
    return BPETokenizer(base=base, merges=rows, special_tokens=special_ids, pattern=table["pattern"],
                        byte_level=options.byte_level, continuing_subword_prefix=options.continuing_subword_prefix,
                        end_of_word_suffix=options.end_of_word_suffix, unk_token=options.unk_token, info=info)


def _char_word(piece, prefix, suffix):
    """Base symbols of one pre-token: prefix on non-initial characters, suffix on the last."""
    last = len(piece) - 1
    return [(prefix if k else "") + ch + (suffix if k == last else "") for k, ch in enumerate(piece)]
