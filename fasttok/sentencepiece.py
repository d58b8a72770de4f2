"""SentencePiece: exact `.model` files, normalization, Unigram and BPE encoding, decoding.

A `.model` file is one protobuf `ModelProto` (sentencepiece's `sentencepiece_model.proto`): the pieces
(string, float32 score, type) in id order, a `TrainerSpec` and a `NormalizerSpec`. fasttok reads it with
its own wire-format reader (`fasttok/_protobuf.py`), keeps every field it does not interpret, and writes
it back byte for byte. Encoding follows sentencepiece 0.2's `SentencePieceProcessor::Encode`:

1. normalize (`Normalizer.normalize`): user-defined symbols are kept as they are; otherwise the longest
   rule of the precompiled character map applies (nmt_nfkc, nmt_nfkc_cf, or a custom rule set; none
   for identity); extra whitespace is removed, `▁` is prefixed, spaces become `▁`;
2. segment: Unigram by Viterbi (the core, fasttok/_unigram.pyx), BPE by merging the adjacent pair whose
   joined piece has the highest score (ties: the leftmost pair);
3. unknown pieces: with `byte_fallback`, one `<0xXX>` piece per UTF-8 byte; without it, a run of
   adjacent unknown pieces becomes one.

>>> tok = load_model("m.model")                   # doctest: +SKIP
>>> tok.encode_pieces("Hello world")              # doctest: +SKIP
['▁Hello', '▁world']
"""
import codecs
import os
import struct
from typing import NamedTuple

import numpy as np

from fasttok import _charsmap, _score_bpe, _unigram
from fasttok._files import atomic_write
from fasttok._protobuf import (FIXED32, LEN, VARINT, Field, as_bool, as_float, as_int32, float_bits, read_message,
                               write_message)
from fasttok.errors import ModelFileError
from fasttok.tokenizer import Tokenizer, checked_text, checked_texts

__all__ = ["SentencePieceTokenizer", "SentencePieceModel", "Piece", "Normalizer", "load_model",
           "looks_like_model", "is_model_file", "SPACE", "NORMAL", "UNKNOWN", "CONTROL", "USER_DEFINED", "UNUSED", "BYTE"]

SPACE = "\u2581"                    # ▁, the meta symbol that stands for a space
_SPACE = SPACE.encode("utf-8")
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6
_TYPE_NAMES = {NORMAL: "normal", UNKNOWN: "unknown", CONTROL: "control", USER_DEFINED: "user-defined",
               UNUSED: "unused", BYTE: "byte"}
UNIGRAM, BPE, WORD, CHAR = 1, 2, 3, 4
_MODEL_TYPES = {UNIGRAM: "unigram", BPE: "bpe", WORD: "word", CHAR: "char"}
_UNK_PENALTY = 10.0                 # sentencepiece's kUnkPenalty: the unknown score is min score - 10
_FLT_MIN, _FLT_MAX = 1.1754943508222875e-38, 3.4028234663852886e+38
_BYTE_PIECES = [f"<0x{b:02X}>" for b in range(256)]


def _f32(x: float) -> float:
    """x rounded to float32 (sentencepiece's scores and sums are float32)."""
    return struct.unpack("<f", struct.pack("<f", x))[0]

# -- the spec messages: field number -> (name, kind, default) -------------------------------------
# Only the fields fasttok reads; every other field is kept as it was read (see SentencePieceModel).
_TRAINER_FIELDS = {
    3: ("model_type", "enum", UNIGRAM),
    4: ("vocab_size", "int32", 8000),
    24: ("treat_whitespace_as_suffix", "bool", False),
    25: ("split_digits", "bool", False),
    30: ("control_symbols", "repeated string", ()),
    31: ("user_defined_symbols", "repeated string", ()),
    35: ("byte_fallback", "bool", False),
    40: ("unk_id", "int32", 0),
    41: ("bos_id", "int32", 1),
    42: ("eos_id", "int32", 2),
    43: ("pad_id", "int32", -1),
    44: ("unk_surface", "string", " \u2047 "),
    45: ("unk_piece", "string", "<unk>"),
    46: ("bos_piece", "string", "<s>"),
    47: ("eos_piece", "string", "</s>"),
    48: ("pad_piece", "string", "<pad>"),
}
_NORMALIZER_FIELDS = {
    1: ("name", "string", ""),
    2: ("precompiled_charsmap", "bytes", b""),
    3: ("add_dummy_prefix", "bool", True),
    4: ("remove_extra_whitespaces", "bool", True),
    5: ("escape_whitespaces", "bool", True),
}
_WIRE = {"enum": VARINT, "int32": VARINT, "bool": VARINT, "string": LEN, "bytes": LEN,
         "repeated string": LEN, "float": FIXED32}


def _decode_text(value, what):
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ModelFileError(f"{what} is not valid UTF-8 ({e})") from None


def _read_spec(fields, schema, what):
    """{name: value} for the fields of `schema` (defaults for absent ones; the last occurrence wins)."""
    spec = {name: default for name, _, default in schema.values()}
    repeated = {}
    for number, wire, value in fields:
        if number not in schema:
            continue
        name, kind, _ = schema[number]
        if wire != _WIRE[kind]:
            raise ModelFileError(f"{what}.{name} has wire type {wire}, expected {_WIRE[kind]}")
        if kind == "enum" or kind == "int32":
            spec[name] = as_int32(value)
        elif kind == "bool":
            spec[name] = as_bool(value)
        elif kind == "string":
            spec[name] = _decode_text(value, f"{what}.{name}")
        elif kind == "repeated string":
            repeated.setdefault(name, []).append(_decode_text(value, f"{what}.{name}"))
        else:
            spec[name] = value
    for name, values in repeated.items():
        spec[name] = tuple(values)
    return spec


def _read_nested(data, what):
    try:
        return read_message(data)
    except ModelFileError as e:
        raise ModelFileError(f"{what}: {e} (bytes counted from the start of {what})") from None


def _message_field(fields, number, what):
    """The fields of the nested message `number` (several occurrences merge, as protobuf merges them)."""
    out = []
    for f in fields:
        if f.number == number:
            if f.wire != LEN:
                raise ModelFileError(f"{what} has wire type {f.wire}, expected a nested message")
            out.extend(_read_nested(f.value, what))
    return out


# ---------------------------------------------------------------------------------------------
# The model file
# ---------------------------------------------------------------------------------------------

class Piece(NamedTuple):
    piece: str
    score: float     # a float32 value
    type: int        # NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED or BYTE


class SentencePieceModel:
    """A parsed `ModelProto`: pieces, trainer and normalizer specs, and every field as it was read.

    `to_bytes()` writes the pieces and specs from their typed values into the fields they were read
    from, so a file read and written back is byte-identical (protobuf's serialisers write canonical
    varints, which is what fasttok writes too).
    """

    def __init__(self, fields, pieces, piece_fields):
        self._fields = list(fields)          # top-level fields in file order
        self._piece_fields = piece_fields    # one field list per piece, in id order
        self.pieces = tuple(pieces)
        self.trainer_spec = _read_spec(_message_field(fields, 2, "trainer_spec"), _TRAINER_FIELDS, "trainer_spec")
        self.normalizer_spec = _read_spec(_message_field(fields, 3, "normalizer_spec"), _NORMALIZER_FIELDS,
                                          "normalizer_spec")
        self.denormalizer_spec = None
        if any(f.number == 5 for f in fields):
            self.denormalizer_spec = _read_spec(_message_field(fields, 5, "denormalizer_spec"),
                                                _NORMALIZER_FIELDS, "denormalizer_spec")

    @classmethod
    def from_bytes(cls, data):
        """Parse a serialized ModelProto. Raises ModelFileError on anything malformed."""
        fields = read_message(bytes(data))
        pieces, piece_fields = [], []
        for f in fields:
            if f.number != 1:
                continue
            if f.wire != LEN:
                raise ModelFileError(f"piece {len(pieces)} has wire type {f.wire}, expected a nested message")
            sub = _read_nested(f.value, f"piece {len(pieces)}")
            text, score, kind = None, 0.0, NORMAL
            for number, wire, value in sub:
                if number == 1 and wire == LEN:
                    text = _decode_text(value, f"piece {len(pieces)}")
                elif number == 2 and wire == FIXED32:
                    score = as_float(value)
                elif number == 3 and wire == VARINT:
                    kind = as_int32(value)
                elif number in (1, 2, 3):
                    raise ModelFileError(f"piece {len(pieces)}: field {number} has wire type {wire}")
            if not text:
                raise ModelFileError(f"piece {len(pieces)} is empty (sentencepiece requires a non-empty piece)")
            if kind not in _TYPE_NAMES:
                raise ModelFileError(f"piece {len(pieces)} ({text!r}) has unknown type {kind}")
            pieces.append(Piece(text, score, kind))
            piece_fields.append(sub)
        return cls(fields, pieces, piece_fields)

    def to_bytes(self):
        """The serialized ModelProto."""
        out, k = [], 0
        for f in self._fields:
            if f.number == 1:
                piece = self.pieces[k]
                sub = _replace_fields(self._piece_fields[k], {
                    1: (LEN, piece.piece.encode("utf-8")), 2: (FIXED32, float_bits(piece.score)),
                    3: (VARINT, piece.type)}, defaults={3: NORMAL})
                out.append(Field(1, LEN, write_message(sub)))
                k += 1
            else:
                out.append(f)
        return write_message(out)

    @property
    def model_type(self):
        return _MODEL_TYPES.get(self.trainer_spec["model_type"], str(self.trainer_spec["model_type"]))


def _replace_fields(fields, values, *, defaults):
    """`fields` with the value of each number in `values` set (in place of its last occurrence, else
    appended unless it equals the proto default); earlier duplicates are dropped."""
    last = {f.number: k for k, f in enumerate(fields)}
    out = []
    for k, f in enumerate(fields):
        if f.number in values:
            if last[f.number] != k:
                continue
            wire, value = values[f.number]
            out.append(Field(f.number, wire, value))
        else:
            out.append(f)
    for number, (wire, value) in values.items():
        if number not in last and defaults.get(number) != value:
            out.append(Field(number, wire, value))
    return out


def looks_like_model(head: bytes) -> bool:
    """Whether the first bytes of a file (give at least 32) look like a sentencepiece `.model`: a
    ModelProto whose first field is a piece message that starts with a non-empty piece string followed
    by its score or type. For sniffing; `load_model` does the real checks.

    >>> looks_like_model(b"\\n\\x0e\\n\\x05<unk>\\x15\\x00\\x00\\x00\\x00\\x18\\x02"), looks_like_model(b"\\n\\n\\n\\n")
    (True, False)
    """
    def varint(pos):
        value, shift = 0, 0
        while pos < len(head) and shift < 35:
            value |= (head[pos] & 0x7F) << shift
            pos, shift = pos + 1, shift + 7
            if not head[pos - 1] & 0x80:
                return value, pos
        return None, pos

    if head[:1] != b"\n":
        return False
    message_size, pos = varint(1)
    if message_size is None or head[pos:pos + 1] != b"\n":
        return False
    start = pos
    piece_size, pos = varint(pos + 1)
    if piece_size is None or not 1 <= piece_size or pos - start + piece_size > message_size:
        return False
    after = pos + piece_size
    if pos - start + piece_size < message_size:      # more fields in the piece: the next is score or type
        return after >= len(head) or head[after] in (0x15, 0x18)
    return True


def is_model_file(path) -> bool:
    """Whether the file at `path` starts like a sentencepiece `.model` (False when it cannot be read:
    the caller's reader then reports why). The sniffer for `fasttok.load`."""
    try:
        with open(path, "rb") as f:
            return looks_like_model(f.read(64))
    except OSError:
        return False


def load_model(path):
    """A SentencePieceTokenizer from a `.model` file."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        return SentencePieceTokenizer.from_bytes(data)
    except ModelFileError as e:
        raise ModelFileError(f"{os.fspath(path)}: {e}") from None


# ---------------------------------------------------------------------------------------------
# Normalization
# ---------------------------------------------------------------------------------------------

def _one_byte_replaced(error):
    # Resume one byte after the error: each byte of an invalid sequence becomes its own U+FFFD,
    # exactly sentencepiece's DecodeUTF8 loop (Python's validity rules are the same as its).
    return "\ufffd", error.start + 1


codecs.register_error("fasttok.sentencepiece", _one_byte_replaced)


def decode_utf8_bytes(data: bytes) -> str:
    """Bytes as text the way sentencepiece's decoder reads byte pieces: each byte of an invalid
    sequence is one U+FFFD (Python's "replace" gives one U+FFFD for a whole truncated sequence).

    >>> decode_utf8_bytes(b"\\xe6\\x9d\\xb1\\xe4\\xba" + b"!")
    '東\\ufffd\\ufffd!'
    """
    return data.decode("utf-8", "fasttok.sentencepiece")


class Normalizer:
    """sentencepiece's normalizer: a NormalizerSpec (+ treat_whitespace_as_suffix) applied to text.

    The precompiled character map is `<uint32 trie size><Darts double-array trie><NUL-terminated
    replacement strings>`: the trie maps byte strings to offsets of their replacements, and at each
    position the longest rule that matches wins. The work is done by the core
    (`fasttok/_charsmap.pyx`); the rules are stated in `fasttok/_reference/sentencepiece.py`.
    """

    def __init__(self, spec, *, treat_whitespace_as_suffix=False, user_defined_symbols=()):
        units, replacements = _split_charsmap(spec["precompiled_charsmap"])
        self._core = _charsmap.CharsMapNormalizer(
            units, replacements, [s.encode("utf-8") for s in user_defined_symbols],
            add_dummy_prefix=spec["add_dummy_prefix"], remove_extra_whitespaces=spec["remove_extra_whitespaces"],
            escape_whitespaces=spec["escape_whitespaces"], treat_whitespace_as_suffix=treat_whitespace_as_suffix)

    def normalize(self, text: bytes) -> bytes:
        """The normalized UTF-8 bytes of `text` (UTF-8 bytes), spaces as `▁` when escaping."""
        return self._core.normalize(text)

    def normalize_many(self, texts: list) -> tuple:
        """normalize() of each text (UTF-8 bytes) in one call that releases the GIL: the results
        joined, and their offsets (text i is joined[offsets[i]:offsets[i+1]])."""
        offsets = np.zeros(len(texts) + 1, dtype=np.int64)   # (n_texts + 1,)
        np.cumsum([len(t) for t in texts], out=offsets[1:])
        return self._core.normalize_many(np.frombuffer(b"".join(texts), dtype=np.uint8), offsets)


def _split_charsmap(blob):
    """(double-array units as a uint32 array, replacement strings) of a precompiled charsmap."""
    if not blob:
        return np.zeros(0, dtype=np.uint32), b""
    if len(blob) <= 4:
        raise ModelFileError("normalizer_spec.precompiled_charsmap is broken: shorter than its header")
    size = int.from_bytes(blob[:4], "little")
    if size >= len(blob):
        raise ModelFileError(f"normalizer_spec.precompiled_charsmap claims a {size}-byte trie in a "
                             f"{len(blob)}-byte blob")
    n_units = size // 4
    units = np.frombuffer(blob, dtype="<u4", count=n_units, offset=4).astype(np.uint32)   # (n_units,)
    return units, bytes(blob[4 + size:])


# ---------------------------------------------------------------------------------------------
# The tokenizer
# ---------------------------------------------------------------------------------------------

class SentencePieceTokenizer(Tokenizer):
    """A sentencepiece model (Unigram or BPE) with ids, pieces and decoding identical to sentencepiece.

    Build one with `load_model(path)` or `SentencePieceTokenizer.from_bytes(data)`. Immutable and
    picklable; `save(path)` writes the `.model` file. Control pieces (`<s>`, `</s>`) are never matched
    in text, as in sentencepiece, so there are no special tokens to allow or disallow.
    """

    model = "sentencepiece"
    formats = ("sentencepiece",)

    def __init__(self, model: SentencePieceModel):
        super().__init__(special_tokens={})
        self._model = model
        trainer = model.trainer_spec
        if trainer["model_type"] not in (UNIGRAM, BPE):
            raise ModelFileError(f"model_type {model.model_type} is not supported (fasttok reads unigram and bpe)")
        pieces = model.pieces
        if not pieces:
            raise ModelFileError("the model has no pieces")
        self._id_to_token = [p.piece for p in pieces]
        self._token_to_id = {}
        self._types = [p.type for p in pieces]
        normal, reserved, user = {}, {}, []
        unk_id, byte_ids = None, {}
        for i, p in enumerate(pieces):
            table = normal if p.type in (NORMAL, USER_DEFINED, UNUSED) else reserved
            if p.piece in table:
                raise ModelFileError(f"piece {p.piece!r} is defined twice (ids {table[p.piece]} and {i})")
            table[p.piece] = i
            if p.type == USER_DEFINED:
                user.append(p.piece)
            elif p.type == UNKNOWN:
                if unk_id is not None:
                    raise ModelFileError(f"two unknown pieces (ids {unk_id} and {i})")
                unk_id = i
            elif p.type == BYTE:
                if not trainer["byte_fallback"]:
                    raise ModelFileError(f"byte piece {p.piece!r} (id {i}) in a model without byte_fallback")
                if p.piece not in _BYTE_INDEX:
                    raise ModelFileError(f"byte piece {p.piece!r} (id {i}) is not of the form <0xXX>")
                byte_ids[_BYTE_INDEX[p.piece]] = i
        if unk_id is None:
            raise ModelFileError("the model has no unknown piece")
        if trainer["model_type"] == BPE and normal.keys() & reserved.keys():
            # sentencepiece 0.2.3 refuses this for BPE models (and accepts it for Unigram ones)
            raise ModelFileError(f"piece {min(normal.keys() & reserved.keys())!r} is defined twice")
        if trainer["byte_fallback"] and len(byte_ids) != 256:
            raise ModelFileError(f"byte_fallback is on but the model has {len(byte_ids)} of the 256 byte pieces")
        if trainer["model_type"] == UNIGRAM and not normal:
            raise ModelFileError("a Unigram model needs at least one normal, user-defined or unused piece")
        self._token_to_id = {**normal, **reserved}
        self._normal_ids = {p.encode("utf-8"): i for p, i in normal.items()}
        self._reserved_ids = reserved
        self.unk_id = unk_id
        self.byte_fallback = bool(trainer["byte_fallback"])
        self._byte_ids = [byte_ids.get(b, -1) for b in range(256)]
        self._normalizer = Normalizer(model.normalizer_spec,
                                      treat_whitespace_as_suffix=trainer["treat_whitespace_as_suffix"],
                                      user_defined_symbols=user)
        self._denormalizer = None
        denorm = model.denormalizer_spec
        if denorm is not None and denorm["precompiled_charsmap"]:
            self._denormalizer = Normalizer(denorm)
        if trainer["model_type"] == UNIGRAM:
            self._lattice = self._build_lattice(pieces)
        else:
            self._merger, self._key_to_id = self._build_merger(pieces, user)

    def _build_lattice(self, pieces):
        """The core's Viterbi table: normal and user-defined pieces, with sentencepiece's scores."""
        normal_scores = [p.score for p in pieces if p.type == NORMAL]
        min_score = min(normal_scores, default=_FLT_MAX)
        max_score = max(normal_scores + [_FLT_MIN])
        raw, ids, scores = [], [], []
        for piece, i in self._normal_ids.items():
            kind = pieces[i].type
            if kind == UNUSED:
                continue   # in sentencepiece's trie but never a candidate: leaving it out is the same
            raw.append(piece)
            ids.append(i)
            # a user-defined piece scores length (in bytes) * max_score - 0.1
            scores.append(_f32(_f32(len(piece) * max_score) - 0.1) if kind == USER_DEFINED else pieces[i].score)
        offsets = np.zeros(len(raw) + 1, dtype=np.int64)   # (n_pieces + 1,)
        np.cumsum([len(r) for r in raw], out=offsets[1:])
        return _unigram.UnigramLattice(np.frombuffer(b"".join(raw), dtype=np.uint8), offsets,
                                       np.asarray(ids, dtype=np.int32), np.asarray(scores, dtype=np.float32),
                                       unk_id=self.unk_id, unk_score=_f32(min_score - _UNK_PENALTY))

    def _build_merger(self, pieces, user):
        """The core's BPE tables, and the id each symbol key stands for.

        Keys: every entry of the piece table (normal, user-defined, unused) is keyed by its id; a single
        character inside some piece that is not itself one gets a key above them. Every split of a
        piece into two keyed strings is a pair the core may merge."""
        keys = dict(self._normal_ids)
        n_keys = len(pieces)
        chars = {}
        for piece in self._normal_ids:
            for ch in piece.decode("utf-8"):
                raw = ch.encode("utf-8")
                if raw not in keys:
                    keys[raw] = n_keys
                    n_keys += 1
                chars[raw] = keys[raw]
        key_strings = [b""] * n_keys
        for raw, k in keys.items():
            key_strings[k] = raw
        left, right, joined = [], [], []
        for piece, i in self._normal_ids.items():
            text = piece.decode("utf-8")
            for cut in range(1, len(text)):
                a, b = keys.get(text[:cut].encode("utf-8")), keys.get(text[cut:].encode("utf-8"))
                if a is not None and b is not None:
                    left.append(a)
                    right.append(b)
                    joined.append(i)
        scores = np.zeros(n_keys, dtype=np.float32)            # (n_keys,)
        unused = np.zeros(n_keys, dtype=np.uint8)
        for i in self._normal_ids.values():
            scores[i] = pieces[i].score
            unused[i] = pieces[i].type == UNUSED
        char_list = sorted(chars.items(), key=lambda kv: kv[1])
        char_offsets = np.zeros(len(char_list) + 1, dtype=np.int64)
        np.cumsum([len(c) for c, _ in char_list], out=char_offsets[1:])
        merger = _score_bpe.ScoreMerger(
            np.frombuffer(b"".join(c for c, _ in char_list), dtype=np.uint8), char_offsets,
            np.array([k for _, k in char_list], dtype=np.int32), np.array(left, dtype=np.int32),
            np.array(right, dtype=np.int32), np.array(joined, dtype=np.int32), scores,
            np.array([len(r) for r in key_strings], dtype=np.int32), unused,
            [(u.encode("utf-8"), self._normal_ids[u.encode("utf-8")]) for u in user])
        # A symbol's id is its entry in the piece table, else the unknown id; an unused piece that
        # is still a symbol at the end (one the merges never made, so it cannot be split back) is
        # unknown too. Both are sentencepiece 0.2.3's behaviour, measured (test_sentencepiece_golden):
        # its source would give a character that is only a control piece the control id, and an
        # unused one its own id.
        key_to_id = np.array([i if i is not None and pieces[i].type != UNUSED else self.unk_id
                              for i in map(self._normal_ids.get, key_strings)], dtype=np.int32)   # (n_keys,)
        return merger, key_to_id

    # -- construction and files -------------------------------------------------------------------

    @classmethod
    def from_bytes(cls, data):
        """A tokenizer from the bytes of a `.model` file."""
        return cls(SentencePieceModel.from_bytes(data))

    def to_bytes(self):
        """The `.model` file's bytes."""
        return self._model.to_bytes()

    def _write(self, path, format):
        """Write the `.model` file (the one format a sentencepiece model has here)."""
        data = self.to_bytes()
        with atomic_write(path, "wb") as f:
            f.write(data)

    @property
    def proto(self):
        """The parsed model: pieces, trainer_spec, normalizer_spec."""
        return self._model

    @property
    def model_type(self):
        """"unigram" or "bpe"."""
        return self._model.model_type

    def __eq__(self, other):
        return type(self) is type(other) and self.to_bytes() == other.to_bytes()

    def __hash__(self):
        return hash((self.model, self.vocab_size))

    def __reduce__(self):
        return (type(self).from_bytes, (self.to_bytes(),))

    def __repr__(self):
        return f"<SentencePieceTokenizer {self.model_type} vocab_size={self.vocab_size}>"

    # -- encoding ---------------------------------------------------------------------------------

    def normalize(self, text: str) -> str:
        """The text sentencepiece segments: normalized, `▁` for spaces, with the dummy prefix."""
        return self._normalizer.normalize(text.encode("utf-8")).decode("utf-8", "replace")

    def piece_to_id(self, piece):
        """sentencepiece's PieceToId: reserved pieces, then normal ones, else the unknown id."""
        i = self._reserved_ids.get(piece)
        if i is None:
            i = self._normal_ids.get(piece.encode("utf-8") if isinstance(piece, str) else piece, self.unk_id)
        return i

    def _segment_many(self, texts):
        """(normalized texts joined, their offsets, ids, starts, ends): the core's segmentation of
        every text, before unknown handling."""
        joined, offsets = self._normalizer.normalize_many([t.encode("utf-8") for t in texts])
        data = np.frombuffer(joined, dtype=np.uint8)
        if self._model.trainer_spec["model_type"] == UNIGRAM:
            ids, starts, ends = self._lattice.encode(data, offsets)
        else:
            keys, starts, ends = self._merger.encode(data, offsets)
            ids = np.where(keys >= 0, self._key_to_id[np.maximum(keys, 0)], self.unk_id).astype(np.int32)
        return joined, offsets, ids, starts, ends

    def _pieces_of(self, text, ids, starts):
        """[(piece bytes, id)] of a segmentation of `text` (id -1: PieceToId of the piece itself)."""
        bounds = starts + [len(text)]
        pieces = [text[bounds[j]:bounds[j + 1]] for j in range(len(ids))]
        return [(p, i if i >= 0 else self.piece_to_id(p.decode("utf-8", "replace"))) for p, i in zip(pieces, ids)]

    def _finish(self, segments):
        """(ids, pieces) from segmented pieces: byte fallback, or runs of unknowns merged."""
        ids, pieces = [], []
        prev_unk = False
        for piece, i in segments:
            unk = i == self.unk_id
            if unk and self.byte_fallback:
                for b in piece:
                    ids.append(self._byte_ids[b])
                    pieces.append(_BYTE_PIECES[b])
            elif unk and prev_unk:
                pieces[-1] += piece.decode("utf-8", "replace")
            else:
                ids.append(i)
                pieces.append(piece.decode("utf-8", "replace"))
            prev_unk = unk
        return ids, pieces

    def encode_batch(self, texts, *, num_threads=None, allowed_special=None, disallowed_special="all"):
        """Encode many texts (as sentencepiece's encode of a list); the core releases the GIL.

        A sentencepiece model has no special tokens to match in text (control pieces never are), so
        this skips the base class's special-token pass; the two keyword arguments are checked as
        everywhere (naming a token that is not special is a ValueError) and change nothing."""
        texts = checked_texts(texts)
        self._special_sets(allowed_special, disallowed_special)
        return self._encode_chunks(texts, num_threads)

    def _encode_ordinary_many(self, texts):
        joined, offsets, ids, starts, ends = self._segment_many(texts)
        ids, ends = self._resolve_unknown(joined, offsets, ids, starts, ends)
        ends, all_ids = ends.tolist(), ids.tolist()
        return [all_ids[a:b] for a, b in zip(ends[:-1], ends[1:])]

    def _resolve_unknown(self, joined, offsets, ids, starts, ends):
        """(ids, ends) after sentencepiece's unknown rule, on whole arrays: with byte fallback each
        unknown piece becomes the byte pieces of its UTF-8 bytes; without it, an unknown piece right
        after another one in the same text is dropped (the two are one unknown)."""
        unk = ids == self.unk_id                                  # (n_tokens,)
        if not unk.any():
            return ids, ends
        first = np.zeros(len(ids), dtype=bool)                    # the first token of each text
        first[ends[:-1][np.diff(ends) > 0]] = True
        if not self.byte_fallback:
            keep = ~(unk & ~first & np.concatenate([[False], unk[:-1]]))
            kept = np.concatenate([[0], np.cumsum(keep)])
            return ids[keep], kept[ends]
        # token spans in `joined`: a token ends where the next one starts, the last at its text's end
        text_of = np.repeat(np.arange(len(ends) - 1), np.diff(ends))
        begin = offsets[text_of] + starts                         # (n_tokens,)
        end = np.empty_like(begin)
        end[:-1] = begin[1:]
        last = np.concatenate([first[1:], [True]])
        end[last] = offsets[text_of[last] + 1]
        counts = np.where(unk, end - begin, 1)
        total = np.concatenate([[0], np.cumsum(counts)])          # (n_tokens + 1,)
        token = np.repeat(np.arange(len(ids)), counts)            # (n_out,)
        out = ids[token]
        expand = unk[token]
        position = begin[token] + np.arange(len(token)) - total[token]
        data = np.frombuffer(joined, dtype=np.uint8)
        out[expand] = np.asarray(self._byte_ids, dtype=np.int32)[data[position[expand]]]
        return out, total[ends]

    def encode_pieces(self, text):
        """The pieces of `text` as sentencepiece's `encode(text, out_type=str)` gives them (a run of
        unknown characters is one piece holding those characters)."""
        joined, _, ids, starts, _ = self._segment_many([checked_text(text)])
        return self._finish(self._pieces_of(joined, ids.tolist(), starts.tolist()))[1]

    # -- decoding ---------------------------------------------------------------------------------

    def _decode(self, ids, errors):
        """sentencepiece's Decode: control pieces vanish, the unknown piece is unk_surface, byte pieces
        are joined into UTF-8 (each invalid byte is U+FFFD, whatever `errors` says: sentencepiece has no
        strict mode), `▁` is a space, and the leading `▁` of the text is dropped."""
        strip_leading = self._model.normalizer_spec["add_dummy_prefix"] \
            or self._model.normalizer_spec["remove_extra_whitespaces"]
        remove_extra = self._model.normalizer_spec["remove_extra_whitespaces"]
        unk_surface = self._model.trainer_spec["unk_surface"]
        out, pending = [], bytearray()
        n_text = 0            # characters of text so far (only whether it is empty matters)
        is_bos_ws = True      # still at the start: a leading ▁ may be dropped
        bos_ws_seen = False
        for i in ids:
            kind = self._types[i]
            if kind == BYTE:
                pending.append(_BYTE_INDEX[self._id_to_token[i]])
                continue
            if pending:
                text = decode_utf8_bytes(bytes(pending))
                out.append(text)
                n_text += len(text)
                pending.clear()
            if bos_ws_seen or n_text:
                is_bos_ws = False
            piece = self._id_to_token[i]
            if kind == CONTROL:
                text, bos_ws_seen = "", False
            elif kind == UNKNOWN:
                text, bos_ws_seen = unk_surface, False
            else:
                has_bos_ws = False
                if is_bos_ws and strip_leading and piece.startswith(SPACE):
                    piece = piece[1:]
                    has_bos_ws = not remove_extra
                text, bos_ws_seen = piece.replace(SPACE, " "), has_bos_ws
            out.append(text)
            n_text += len(text)
        if pending:
            out.append(decode_utf8_bytes(bytes(pending)))
        text = "".join(out)
        if self._denormalizer is not None:
            text = self._denormalizer.normalize(text.encode("utf-8")).decode("utf-8", "replace")
        return text


_BYTE_INDEX = {p: b for b, p in enumerate(_BYTE_PIECES)}
