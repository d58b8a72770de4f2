"""WordPiece in one place: WordPieceTokenizer with the exact BERT pipeline, its files (native,
tokenizer.json, BERT's vocab.txt + tokenizer_config.json) and its likelihood-scored trainer.

Policy lives here (corpus reading, normalisation of non-ASCII text, special tokens, files); the
mechanism (pre-tokenizing, counting, merging, longest-match encoding) is fasttok/_wordpiece.pyx.

>>> tok = WordPieceTokenizer(["[UNK]", "un", "##aff", "##able"], special_tokens=["[UNK]"])
>>> tok.encode("Unaffable!")                    # lowercased, "!" is a word of its own, not in the vocab
[1, 2, 3, 0]
>>> tok = load_bert_vocab("vocab.txt")          # doctest: +SKIP
>>> tok.encode("Hello, unaffable world!")       # doctest: +SKIP
[7592, 1010, 14477, 20961, 3468, 2088, 999]
"""
import dataclasses
import itertools
import json
import os
import re
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from fasttok import _format, _wordpiece
from fasttok._checks import check_int, check_num_threads, check_optional_num_threads
from fasttok._files import (BLOCK_SIZE, atomic_write, check_output_path, corpus_and_files, corpus_items,
                            read_blocks)
from fasttok.errors import CorpusError, FasttokError, ModelFileError, UnknownTokenError
from fasttok.normalize import bert_char_classes
from fasttok.normalize import lowercase as lowercase_text
from fasttok.tokenizer import Tokenizer, TrainerOptions, checked_texts

__all__ = ["WordPieceTokenizer", "WordPieceOptions", "train_wordpiece", "load_bert_vocab", "count_bert_words",
           "BERT_SPECIAL_TOKENS", "BERT_CONFIG_NAME"]

BERT_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
# HF keeps a vocab.txt's settings in this file beside it (transformers' save_pretrained).
BERT_CONFIG_NAME = "tokenizer_config.json"
# The special-token roles of HF's BertTokenizer and the token each defaults to.
_BERT_ROLES = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
               "mask_token": "[MASK]"}
# The trained tokenizer's max_input_chars_per_word (WordPieceTokenizer's default): train_wordpiece counts
# no longer word, since the tokenizer encodes it as [UNK].
_MAX_WORD_CHARS = 100
# transformers' "no length limit" (int(1e30)), what save_pretrained writes when no model set one.
_NO_MAX_LENGTH = int(1e30)


def _utf32(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated code points of `texts` and their offsets: text i is cps[off[i]:off[i+1]]."""
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)  # (n_texts + 1,)
    np.cumsum([len(t) for t in texts], out=offsets[1:])
    data = "".join(texts).encode("utf-32-le", "surrogatepass")
    return np.frombuffer(data, dtype=np.uint32), offsets  # (n_chars,), (n_texts + 1,)


def _prepare(texts: list[str], lowercase: bool, strip_accents: bool | None):
    """Core input for `texts`, and whether the core strips nonspacing marks.

    The core does BERT's clean-up, CJK spacing and splitting from the class table, and ASCII
    lowercasing; Python decomposes (NFD, when stripping accents) and lowercases non-ASCII texts
    first. Doing those two before the clean-up, not after as HF does, gives the same text: neither
    creates or removes controls, whitespace or CJK ideographs (checked against HF for every BMP
    character in the tests).
    """
    strip = lowercase if strip_accents is None else strip_accents
    lower_ascii = np.full(len(texts), lowercase, dtype=np.uint8)  # (n_texts,)
    all_ascii = all(t.isascii() for t in texts)
    if not all_ascii:
        texts = [t if t.isascii() else _decompose_lower(t, strip, lowercase) for t in texts]
    cps, offsets = _utf32(texts)
    return cps, offsets, lower_ascii, bert_char_classes(0x80 if all_ascii else 0x110000), strip


def _decompose_lower(text: str, strip: bool, lower: bool) -> str:
    if strip:
        text = unicodedata.normalize("NFD", text)
    return lowercase_text(text) if lower else text


# ---------------------------------------------------------------------------------------------
# The tokenizer
# ---------------------------------------------------------------------------------------------

class WordPieceTokenizer(Tokenizer):
    """A WordPiece vocabulary with BERT's normaliser and pre-tokenizer. Immutable.

    Build one with `train_wordpiece`, `load_bert_vocab`, or `fasttok.load` (native or HF json).
    """

    model = "wordpiece"
    formats = ("native", "tokenizer.json", "vocab.txt")
    native_versions = (1, 2, 3)  # 2 ends with `end N`; 3 with `end N sha256=...`
    native_hash_since = 3
    default_allowed_special = "all"  # BERT matches typed special tokens like [SEP]

    def __init__(self, vocab, *, special_tokens=BERT_SPECIAL_TOKENS, unk_token="[UNK]",
                 continuing_subword_prefix="##", max_input_chars_per_word=100, lowercase=True,
                 strip_accents=None, info=None):
        """vocab: the tokens in id order. info: what training recorded (as BPETokenizer.info)."""
        max_input_chars_per_word = check_int("max_input_chars_per_word", max_input_chars_per_word, 1)
        vocab = list(vocab)
        if not vocab:
            raise ModelFileError("the WordPiece vocabulary is empty")
        token_to_id = {}
        for i, token in enumerate(vocab):
            if not isinstance(token, str) or not token:
                raise ModelFileError(f"vocabulary entry {i} is {token!r}: tokens must be non-empty str")
            if token in token_to_id:
                raise ModelFileError(f"token {token!r} appears twice in the vocabulary (ids {token_to_id[token]} and {i})")
            token_to_id[token] = i
        if unk_token not in token_to_id:
            raise ModelFileError(f"the unknown token {unk_token!r} is not in the vocabulary")
        if isinstance(special_tokens, (str, dict)) or len(set(special_tokens)) != len(special_tokens):
            raise ModelFileError(f"special_tokens must be a list of distinct tokens, got {str(special_tokens)[:80]}")
        special_tokens = list(special_tokens)
        missing = [t for t in special_tokens if t not in token_to_id]
        if missing:
            raise ModelFileError(f"special tokens {missing} are not in the vocabulary")
        if not isinstance(continuing_subword_prefix, str):
            raise ModelFileError(f"continuing_subword_prefix must be a str, got {continuing_subword_prefix!r}")
        if not isinstance(lowercase, bool):
            raise TypeError(f"lowercase must be True or False, got {lowercase!r}")
        if strip_accents not in (None, True, False):
            raise TypeError(f"strip_accents must be None, True or False, got {strip_accents!r}")
        self._id_to_token = vocab
        self._token_to_id = token_to_id
        self.unk_token = unk_token
        self.continuing_subword_prefix = continuing_subword_prefix
        self.max_input_chars_per_word = max_input_chars_per_word
        self.lowercase = bool(lowercase)
        self.strip_accents = strip_accents
        self.info = dict(info or {})
        super().__init__(special_tokens={t: token_to_id[t] for t in special_tokens})
        self._core = self._build_core()

    def _build_core(self):
        prefix = self.continuing_subword_prefix
        pieces, trie, ids = [], [], []
        for i, token in enumerate(self._id_to_token):
            pieces.append(token)
            trie.append(0)
            ids.append(i)
            if token.startswith(prefix) and len(token) > len(prefix):
                pieces.append(token[len(prefix):])
                trie.append(1)
                ids.append(i)
        chars, offsets = _utf32(pieces)
        return _wordpiece.WordPieceEncoder(
            chars, offsets, np.asarray(ids, dtype=np.int32), np.asarray(trie, dtype=np.uint8),
            unk_id=self._token_to_id[self.unk_token], max_chars=self.max_input_chars_per_word)

    # -- overrides of the base class -----------------------------------------------------------

    def encode_batch(self, texts, *, num_threads=None, allowed_special=None, disallowed_special="all"):
        """Encode many texts (special tokens as in `encode`); the core releases the GIL."""
        texts = checked_texts(texts)
        num_threads = check_optional_num_threads(num_threads)
        # Fast path: one regex scan over the whole batch instead of one split per text. Joining
        # with a newline cannot create a match, as special tokens never contain one here.
        if self._special_regex is not None \
                and not any("\n" in s for s in self._special) \
                and self._special_regex.search("\n".join(texts)) is None:
            return self._encode_chunks(texts, num_threads)
        return super().encode_batch(texts, num_threads=num_threads, allowed_special=allowed_special,
                                    disallowed_special=disallowed_special)

    def decode(self, ids, *, errors="replace"):
        """Text of the ids as HF's WordPiece decoder gives it (special tokens spaced like words)."""
        return self._decode(self._check_ids(ids), errors)

    def _model_stream_cut(self):
        return _cut_after_space  # a BERT word never spans white space

    # -- the model hooks the base class calls --------------------------------------------------

    def _encode_ordinary_many(self, texts: list[str]) -> list[list[int]]:
        """Ids of each text (no special-token handling): normalise, split, longest-match."""
        if not texts:
            return []
        cps, offsets, lower_ascii, classes, strip = _prepare(texts, self.lowercase, self.strip_accents)
        return self._core.encode_texts(cps, offsets, lower_ascii, classes, strip, as_lists=True)

    def _decode(self, ids: list[int], errors: str) -> str:
        """HF's WordPiece decoder: join with spaces, glue continuation pieces, tidy punctuation."""
        prefix = self.continuing_subword_prefix
        n = len(self._id_to_token)
        parts = []
        for k, i in enumerate(ids):
            if not 0 <= i < n:
                raise UnknownTokenError(f"id {i} is not in the vocabulary (size {n})")
            token = self._id_to_token[i]
            if k:
                token = token[len(prefix):] if prefix and token.startswith(prefix) else " " + token
            parts.append(_cleanup(token))
        return "".join(parts)

    def _settings(self) -> dict:
        # `info` stays out of the files (and so out of ==): it describes one training run, and the
        # native files, the golden ones included, predate it.
        return {"unk_token": self.unk_token, "continuing_subword_prefix": self.continuing_subword_prefix,
                "max_input_chars_per_word": self.max_input_chars_per_word, "lowercase": self.lowercase,
                "strip_accents": self.strip_accents, "special_tokens": sorted(self._special, key=self._special.get)}

    def with_normalizer(self, *, lowercase=None, strip_accents=None) -> "WordPieceTokenizer":
        """This tokenizer with lowercase and/or strip_accents replaced (None keeps the current value)."""
        settings = self._settings()
        for name, value in (("lowercase", lowercase), ("strip_accents", strip_accents)):
            if value is not None:
                settings[name] = value
        return WordPieceTokenizer(self._id_to_token, **settings, info=self.info)

    # -- files ---------------------------------------------------------------------------------

    def _write(self, path, format):
        if format == "vocab.txt":
            self._write_vocab_txt(path)
        else:
            super()._write(path, format)

    def _write_vocab_txt(self, path):
        """vocab.txt, and beside it the tokenizer_config.json that carries its settings, as HF saves them."""
        config_path = os.path.join(os.path.dirname(os.fspath(path)), BERT_CONFIG_NAME)
        if os.path.basename(os.fspath(path)) == BERT_CONFIG_NAME:
            raise ValueError(f"{path}: a vocab.txt cannot be named {BERT_CONFIG_NAME}, the name of its settings file")
        lines, config = self._vocab_txt(), self._tokenizer_config()
        for target in (path, config_path):
            check_output_path(target)
        with atomic_write(path) as f:
            for token in lines:
                f.write(token + "\n")
        with atomic_write(config_path) as f:
            f.write(json.dumps(config, ensure_ascii=False, indent=2, sort_keys=True) + "\n")

    def to_native(self) -> tuple[dict, list[str]]:
        """Settings, then one token per line in id order (JSON-quoted when not plain), then `end N`.

        A token is never written as `end N`: one holding a space is always quoted.
        """
        return self._settings(), _format.with_end([_quote(t) for t in self._id_to_token])

    @classmethod
    def from_native(cls, settings: dict, records: list[str], version: int = 3):
        # Version 1 files, from before the `end N` record, are still read.
        records = _format.without_end(records) if version >= 2 else records
        _format.check_settings(settings, _NATIVE_SETTINGS)
        try:
            vocab = [_unquote(r) for r in records]
            return cls(vocab, **settings)
        except (TypeError, ValueError) as e:
            raise ModelFileError(f"corrupt WordPiece model file: {e}") from None

    def to_hf_json(self) -> dict:
        """A HF `tokenizer.json` (BertNormalizer, BertPreTokenizer, WordPiece, WordPiece decoder)."""
        return {
            "version": "1.0", "truncation": None, "padding": None,
            "added_tokens": _format.hf_added_tokens(self._special),
            "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                           "strip_accents": self.strip_accents, "lowercase": self.lowercase},
            "pre_tokenizer": {"type": "BertPreTokenizer"},
            "post_processor": None,
            "decoder": {"type": "WordPiece", "prefix": self.continuing_subword_prefix, "cleanup": True},
            "model": {"type": "WordPiece", "unk_token": self.unk_token,
                      "continuing_subword_prefix": self.continuing_subword_prefix,
                      "max_input_chars_per_word": self.max_input_chars_per_word,
                      "vocab": {t: i for i, t in enumerate(self._id_to_token)}},
        }

    @classmethod
    def from_hf_json(cls, data: dict):
        model = data.get("model") or {}
        if model.get("type") != "WordPiece":
            raise ModelFileError(f"not a WordPiece tokenizer.json (model type {str(model.get('type'))[:40]!r})")
        unknown = set(model) - {"type", "unk_token", "continuing_subword_prefix", "max_input_chars_per_word", "vocab"}
        if unknown:
            raise ModelFileError(f"WordPiece model option {sorted(unknown)[0]!r} is not supported")
        normalizer = data.get("normalizer") or {}
        if not isinstance(normalizer, dict) or normalizer.get("type") != "BertNormalizer" \
                or normalizer.get("clean_text", True) is not True \
                or normalizer.get("handle_chinese_chars", True) is not True \
                or not isinstance(normalizer.get("lowercase", True), bool) \
                or not isinstance(normalizer.get("strip_accents"), (bool, type(None))):
            raise ModelFileError(f"unsupported normalizer {str(normalizer)[:80]}: fasttok reads BertNormalizer "
                                 "with clean_text and handle_chinese_chars on (and true/false/null options)")
        pre = data.get("pre_tokenizer") or {}
        if not isinstance(pre, dict) or pre.get("type") != "BertPreTokenizer":
            raise ModelFileError(f"unsupported pre_tokenizer {str(pre)[:80]}: fasttok reads BertPreTokenizer")
        vocab_map = model.get("vocab")
        added = data.get("added_tokens") or []
        if not isinstance(vocab_map, dict) or not isinstance(added, list) \
                or not all(isinstance(a, dict) and isinstance(a.get("content"), str) for a in added):
            raise ModelFileError("a WordPiece model needs a 'vocab' object and 'added_tokens' objects with a 'content'")
        vocab_map = dict(vocab_map)
        for entry in added:
            _format.check_id(entry.get("id"), f"the id of added token {entry['content'][:40]!r}")
            if vocab_map.setdefault(entry["content"], entry["id"]) != entry["id"]:
                raise ModelFileError(f"added token {entry['content']!r} has id {entry['id']} but the "
                                     f"vocabulary gives it {vocab_map[entry['content']]}")
        vocab = [None] * len(vocab_map)
        for token, i in vocab_map.items():
            if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < len(vocab) or vocab[i] is not None:
                raise ModelFileError(f"vocabulary ids must be 0..{len(vocab) - 1}, each once; "
                                     f"token {token!r} has id {str(i)[:40]}")
            vocab[i] = token
        specials = list(dict.fromkeys(a["content"] for a in added if a.get("special", True)))
        return cls(vocab, special_tokens=specials, unk_token=model.get("unk_token", "[UNK]"),
                   continuing_subword_prefix=model.get("continuing_subword_prefix", "##"),
                   max_input_chars_per_word=model.get("max_input_chars_per_word", 100),
                   lowercase=normalizer.get("lowercase", True), strip_accents=normalizer.get("strip_accents"))

    def _vocab_txt(self) -> list[str]:
        """BERT's vocab.txt lines: one token per line, id = line number (settings: _tokenizer_config)."""
        bad = [t for t in self._id_to_token if t != t.strip() or "\n" in t or "\r" in t]
        if bad:
            raise FasttokError(f"tokens {bad[:3]} cannot be written to vocab.txt (whitespace at an end or a line break)")
        return list(self._id_to_token)

    def _tokenizer_config(self) -> dict:
        """The tokenizer_config.json HF's BertTokenizer saves beside vocab.txt, for these settings.

        A prefix other than "##" and a word limit other than 100 are kept under the names HF's
        tokenizers gives them (wordpieces_prefix, max_input_chars_per_word); transformers' BertTokenizer
        ignores both, so write a tokenizer.json (format="hf") for such a vocabulary.
        """
        by_id = sorted(self._special, key=self._special.get)
        roles = {role: self.unk_token if role == "unk_token" else (token if token in self._special else None)
                 for role, token in _BERT_ROLES.items()}
        config = {
            "tokenizer_class": "BertTokenizer",
            "do_lower_case": self.lowercase,
            "strip_accents": self.strip_accents,
            "tokenize_chinese_chars": True,
            "do_basic_tokenize": True,
            "never_split": None,
            "clean_up_tokenization_spaces": True,  # decode tidies spaces as HF's clean-up does
            "model_max_length": _NO_MAX_LENGTH,
            **roles,
            "added_tokens_decoder": {
                str(self._special[t]): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                                        "single_word": False, "special": True} for t in by_id},
        }
        extra = [t for t in by_id if t not in roles.values()]
        if extra:
            config["additional_special_tokens"] = extra
        if self.continuing_subword_prefix != "##":
            config["wordpieces_prefix"] = self.continuing_subword_prefix
        if self.max_input_chars_per_word != 100:
            config["max_input_chars_per_word"] = self.max_input_chars_per_word
        return config


# The native settings line: {key: (JSON types, required)}. Any other key is refused.
_NATIVE_SETTINGS = {"unk_token": ((str,), True), "continuing_subword_prefix": ((str,), True),
                    "max_input_chars_per_word": ((int,), True), "lowercase": ((bool,), True),
                    "strip_accents": ((bool, type(None)), True), "special_tokens": ((list,), True)}

_CLEANUP = ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
            (" 'm", "'m"), (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"))


def _cleanup(piece: str) -> str:
    for old, new in _CLEANUP:
        piece = piece.replace(old, new)
    return piece


def _quote(token: str) -> str:
    plain = token and token[0] != '"' and not any(ch.isspace() or not ch.isprintable() for ch in token)
    return token if plain else json.dumps(token)


def _unquote(record: str) -> str:
    if not record.startswith('"'):
        return record
    token = _format.json_loads(record, f"corrupt quoted token {record[:40]!r}")
    if not isinstance(token, str) or _quote(token) != record:
        raise ModelFileError(f"corrupt quoted token {record[:40]!r}")
    return token


# ---------------------------------------------------------------------------------------------
# Loading BERT files
# ---------------------------------------------------------------------------------------------

def load_bert_vocab(vocab_txt, *, lowercase=None, strip_accents=None, unk_token=None,
                    continuing_subword_prefix=None, max_input_chars_per_word=None,
                    special_tokens=None) -> WordPieceTokenizer:
    """Read BERT's vocab.txt (one token per line, id = line number) into a tokenizer.

    Each setting left None comes from the tokenizer_config.json beside the file when there is one (as
    HF's save_pretrained writes it, and fasttok's save(format="vocab.txt")), else from BERT uncased:
    lowercase=True, strip_accents=None (strip when lowercasing), unk_token="[UNK]",
    continuing_subword_prefix="##", max_input_chars_per_word=100, and as special tokens those of
    [PAD] [UNK] [CLS] [SEP] [MASK] that the file has. A value given here wins over the config.
    """
    path = Path(vocab_txt)
    vocab = _read_vocab_lines(path)
    settings = {"lowercase": True, "strip_accents": None, "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                "max_input_chars_per_word": 100,
                "special_tokens": [t for t in BERT_SPECIAL_TOKENS if t in set(vocab)]}
    config_path = path.with_name(BERT_CONFIG_NAME)
    if config_path.is_file():
        settings.update(_settings_from_config(config_path, vocab))
    given = {"lowercase": lowercase, "strip_accents": strip_accents, "unk_token": unk_token,
             "continuing_subword_prefix": continuing_subword_prefix,
             "max_input_chars_per_word": max_input_chars_per_word, "special_tokens": special_tokens}
    settings.update({k: v for k, v in given.items() if v is not None})
    try:
        return WordPieceTokenizer(vocab, **settings)
    except ModelFileError as e:
        raise ModelFileError(f"{path}: {e}") from None


def _read_vocab_lines(path: Path) -> list[str]:
    text = _format.read_text(path, "vocabulary file")
    if text.startswith("\ufeff"):
        # HF (transformers' load_vocab, tokenizers' WordPiece.read_file) keeps the mark as part of the first
        # token, which makes "[PAD]" an ordinary token; rather than differ from HF or repeat that, refuse.
        raise ModelFileError(f"{path}: the file starts with a UTF-8 byte-order mark (U+FEFF), which Hugging Face "
                             f"reads as part of the first token; remove it")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise ModelFileError(f"{path}: the vocabulary file is empty")
    vocab = []
    for n, line in enumerate(lines, 1):
        token = line.rstrip()  # HF trims trailing whitespace (and a \r)
        if not token:
            raise ModelFileError(f"{path}: line {n} is empty")
        if any(ch.isspace() for ch in token):
            # BERT's pre-tokenizer splits at whitespace, so such a token could never be matched: the file
            # is something else (a damaged native file, say) or damaged itself.
            raise ModelFileError(f"{path}: line {n} ({token[:40]!r}) holds whitespace; it is not a vocab.txt token")
        vocab.append(token)
    return vocab


def _settings_from_config(config_path: Path, vocab: list[str]) -> dict:
    """load_bert_vocab's settings from HF's tokenizer_config.json; appends tokens it adds to `vocab`.

    Keys the config leaves out take BertTokenizer's defaults, as transformers does.
    """
    config = _format.json_loads(_format.read_text(config_path, "tokenizer config"),
                                f"{config_path}: corrupt tokenizer config")
    if not isinstance(config, dict):
        raise ModelFileError(f"{config_path}: a tokenizer config is a JSON object")

    def fail(message):
        raise ModelFileError(f"{config_path}: {message}")

    for key in ("tokenize_chinese_chars", "do_basic_tokenize"):
        if config.get(key, True) is not True:
            fail(f"{key}={config[key]!r} is not supported (fasttok runs BERT's whole basic tokenizer)")
    settings = {}
    for key, name, kinds in (("do_lower_case", "lowercase", (bool,)),
                             ("strip_accents", "strip_accents", (bool, type(None))),
                             ("wordpieces_prefix", "continuing_subword_prefix", (str,)),
                             ("max_input_chars_per_word", "max_input_chars_per_word", (int,))):
        if key in config:
            if not isinstance(config[key], kinds) or (kinds == (int,) and isinstance(config[key], bool)):
                fail(f"{key} is {config[key]!r}, not a {' or '.join(k.__name__ for k in kinds)}")
            settings[name] = config[key]

    def content(value):  # a token as a config gives it: a str, or an AddedToken {"content": ...}
        if isinstance(value, dict):
            value = value.get("content")
        if value is not None and not isinstance(value, str):
            fail(f"a token is {value!r}, not a string")
        return value

    # Tokens HF adds beyond vocab.txt get the next ids, in id order.
    added = config.get("added_tokens_decoder") or {}
    try:
        entries = sorted((int(i), entry) for i, entry in added.items() if isinstance(entry, dict))
    except (AttributeError, TypeError, ValueError):
        entries = None
    if entries is None or len(entries) != len(added):
        fail("added_tokens_decoder is not a map of token ids to tokens")
    specials = []
    for i, entry in entries:
        token = content(entry)
        if not entry.get("special", True):
            fail(f"added token {token!r} is not special; fasttok reads special added tokens only")
        if i == len(vocab):
            vocab.append(token)
        elif not 0 <= i < len(vocab) or vocab[i] != token:
            fail(f"added token {token!r} has id {i}, which the vocabulary gives to "
                 f"{vocab[i] if 0 <= i < len(vocab) else 'no token'!r}")
        specials.append(token)
    present = set(vocab)
    for role, default in _BERT_ROLES.items():
        token = content(config[role]) if role in config else (default if default in present else None)
        if role == "unk_token":
            if token is None and role in config:
                fail("sets no unk_token; a WordPiece vocabulary needs one")
            settings["unk_token"] = token or default
        if token is not None:
            specials.append(token)
    for key in ("additional_special_tokens", "never_split"):
        if not isinstance(config.get(key) or [], list):
            fail(f"{key} is {config[key]!r}, not a list of tokens")
    specials.extend(content(token) for token in config.get("additional_special_tokens") or [])
    specials = list(dict.fromkeys(specials))
    unsplit = [t for t in config.get("never_split") or [] if t not in specials]
    if unsplit:
        fail(f"never_split {unsplit[:3]} is not supported (only special tokens are kept whole)")
    settings["special_tokens"] = specials
    return settings


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------

# A BERT word never spans ASCII white space, so a block may end after any of these (and only these:
# other controls vanish in BERT's clean-up without ending a word).
_SPACES = (" ", "\n", "\t", "\r")
_SPACE = re.compile(r"[ \n\t\r]")


def _cut_after_space(data):
    return max(data.rfind(c.encode()) for c in _SPACES) + 1


def _split_text(text):
    """A long text as pieces of about BLOCK_SIZE characters, each ending after white space (so each
    has exactly its own words); a stretch without white space stays whole."""
    start = 0
    while len(text) - start > BLOCK_SIZE:
        cut = max(text.rfind(c, start, start + BLOCK_SIZE) for c in _SPACES) + 1
        if cut <= start:
            found = _SPACE.search(text, start + BLOCK_SIZE)
            if found is None:
                break
            cut = found.end()
        yield text[start:cut]
        start = cut
    yield text[start:] if start else text


def _iter_texts(corpus):
    """Texts of a corpus: a str, a path, or an iterable of str texts and paths (files streamed), in
    pieces of about BLOCK_SIZE cut after white space, so that memory is bounded by the block, not by
    the longest line."""
    for item in corpus_items(corpus):
        if isinstance(item, str):
            yield from _split_text(item)
        else:
            yield from read_blocks(item, cut=_cut_after_space, block_size=BLOCK_SIZE)


def _text_batches(texts):
    """The texts joined with newlines into batches of about BLOCK_SIZE characters. A BERT word never
    spans a newline, so a batch has exactly the words of its texts, in one core call."""
    batch, size = [], 0
    for text in texts:
        batch.append(text)
        size += len(text)
        if size >= BLOCK_SIZE:
            yield "\n".join(batch)
            batch, size = [], 0
    if batch:
        yield "\n".join(batch)


def count_bert_words(corpus, *, lowercase=True, strip_accents=None, num_threads=1, max_word_chars=None):
    """Unique BERT pre-tokenized words of `corpus` with their counts (a core WordCounter).

    max_word_chars: words longer than this are not counted, only tallied in the counter's `n_skipped`
    (train_wordpiece passes the trained tokenizer's max_input_chars_per_word, 100: it encodes such a word
    as [UNK], so there is nothing to learn from it); None counts every word.

    The words are those of BERT's normaliser and pre-tokenizer (fasttok.pretokenize.bert_pre_tokenize),
    not the pre-tokens of a split pattern that fasttok.count_words counts. num_threads > 1 counts
    batches of text in parallel threads (the core releases the GIL), each into its own table, and adds
    the tables up; the counts never depend on it.
    """
    num_threads = check_num_threads(num_threads)
    limit = -1 if max_word_chars is None else max_word_chars
    counters = [_wordpiece.WordCounter(limit)]  # one per thread, made as threads get work (not num_threads up front)

    def count(counter, text):
        cps, offsets, lower_ascii, classes, strip = _prepare([text], lowercase, strip_accents)
        counter.add_text(cps, classes, lowercase, strip)

    batches = _text_batches(_iter_texts(corpus))
    if num_threads == 1:
        for text in batches:
            count(counters[0], text)
        return counters[0]
    with ThreadPoolExecutor(num_threads) as pool:
        while group := list(itertools.islice(batches, num_threads)):
            counters.extend(_wordpiece.WordCounter(limit) for _ in range(len(group) - len(counters)))
            list(pool.map(count, counters, group))  # one batch per thread and table
    total = counters[0]
    for counter in counters[1:]:
        for word, n in counter.items():
            total.add_word(word, n)
        total.n_skipped += counter.n_skipped
    return total


@dataclasses.dataclass(frozen=True, kw_only=True)
class WordPieceOptions(TrainerOptions):
    """train_wordpiece's options, checked once (the shared rules of TrainerOptions, and WordPiece's own)."""
    special_tokens: tuple = BERT_SPECIAL_TOKENS
    min_frequency: int = 2
    unk_token: str = "[UNK]"
    continuing_subword_prefix: str = "##"
    score: str = "likelihood"          # "likelihood" (the exact gain in log-likelihood) or "pmi"
    lowercase: bool = True
    strip_accents: bool | None = None  # None: strip when lowercasing (BERT)

    def __post_init__(self):
        if self.score not in _wordpiece.SCORE_MODES:
            raise ValueError(f"score must be 'pmi' or 'likelihood', got {self.score!r}")
        super().__post_init__()
        if self.unk_token is None or self.continuing_subword_prefix is None:
            raise TypeError("a WordPiece vocabulary needs an unk_token and a continuing_subword_prefix")


def train_wordpiece(corpus=None, *, files=None, vocab_size: int, score: str = "likelihood",
                    min_frequency: int = 2, special_tokens=BERT_SPECIAL_TOKENS, unk_token: str = "[UNK]",
                    continuing_subword_prefix: str = "##", max_token_length: int | None = None,
                    lowercase: bool = True, strip_accents: bool | None = None,
                    progress=None, num_threads: int = 1) -> WordPieceTokenizer:
    """Learn a WordPiece vocabulary of `vocab_size` tokens (special tokens + characters + merges).

    corpus and files as in `train_bpe` (texts and/or paths; a bare str naming a file is refused).
    score: "likelihood" (default) merges the pair maximising the exact gain in corpus log-likelihood
    under a unigram model of the units, the objective of Schuster & Nakajima; "pmi" the pair
    maximising count(ab) / (count(a) count(b)).
    min_frequency: a pair occurring fewer times is never merged. max_token_length: no merged
    unit longer than this many characters (the prefix not counted). progress(n_done, n_total) is
    called as merges are made. Ties: higher score, then higher pair count, then the pair of
    smaller ids. `unk_token` is added to the special tokens when missing. num_threads: parallel word
    counting (see count_bert_words); the result does not depend on it. Options are checked by the
    same rules as train_bpe's (fasttok.tokenizer.TrainerOptions). If the corpus runs out of pairs
    first, a TrainingWarning says so and `tok.info` records it. Words longer than 100 characters (the
    trained tokenizer's max_input_chars_per_word) are not counted: it encodes them as [UNK]. Files and
    long texts are read in blocks cut after white space, so memory does not grow with line length.
    """
    options = WordPieceOptions(vocab_size=vocab_size, score=score, min_frequency=min_frequency,
                               special_tokens=special_tokens, unk_token=unk_token,
                               continuing_subword_prefix=continuing_subword_prefix,
                               max_token_length=max_token_length, lowercase=lowercase,
                               strip_accents=strip_accents, progress=progress)
    num_threads = check_num_threads(num_threads)
    # Words longer than the trained tokenizer's max_input_chars_per_word (100) encode as [UNK]: not counted.
    counter = count_bert_words(corpus_and_files(corpus, files), lowercase=options.lowercase,
                               strip_accents=options.strip_accents, num_threads=num_threads,
                               max_word_chars=_MAX_WORD_CHARS)
    if len(counter) == 0:
        skipped = (f" (words longer than {_MAX_WORD_CHARS} characters, which encode as {options.unk_token}, are "
                   f"not counted: {counter.n_skipped} occurrences)") if counter.n_skipped else ""
        raise CorpusError(f"the corpus has no words to learn from{skipped}")
    return _learn(counter, options)


def _learn(counter, options):
    prefix = options.continuing_subword_prefix
    trainer = _wordpiece.WordPieceTrainer(counter, score_mode=_wordpiece.SCORE_MODES[options.score],
                                          min_frequency=options.min_frequency,
                                          max_token_length=options.max_token_length or 0)
    vocab = dict.fromkeys(options.special_tokens)  # insertion-ordered set of tokens
    n_units = 0

    def add_new_units():
        nonlocal n_units
        for text, cont in trainer.vocab_units(n_units):
            vocab.setdefault(prefix + text if cont else text)
            n_units += 1

    # 1. the base characters, and how many merges fit beside them and the special tokens
    add_new_units()
    n_base = len(vocab) - len(options.special_tokens)
    n_planned = options.check_vocab_size(n_base, f"{n_base} base characters of this corpus")
    # 2. merge in steps, reporting progress, until the vocabulary is full or no pair is left
    step = max(64, n_planned // 100)
    while len(vocab) < options.vocab_size:
        want = min(step, options.vocab_size - len(vocab))
        got = trainer.merge(want)
        add_new_units()
        if options.progress is not None:
            options.progress(n_planned - (options.vocab_size - len(vocab)), n_planned)
        if got < want:
            break
    info = options.early_stop(n_planned - (options.vocab_size - len(vocab)), n_planned)
    return WordPieceTokenizer(vocab, special_tokens=options.special_tokens, unk_token=options.unk_token,
                              continuing_subword_prefix=prefix, lowercase=options.lowercase,
                              strip_accents=options.strip_accents, info=info)
