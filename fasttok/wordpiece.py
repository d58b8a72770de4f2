"""WordPiece: likelihood-scored training, the exact BERT pipeline, and BERT/HF file formats.

Policy lives here (corpus reading, normalisation of non-ASCII text, special tokens, files); the
mechanism (pre-tokenizing, counting, merging, longest-match encoding) is fasttok/_wordpiece.pyx.

>>> tok = load_bert_vocab("vocab.txt")          # doctest: +SKIP
>>> tok.encode("Hello, unaffable world!")       # doctest: +SKIP
[7592, 1010, 14477, 20961, 3468, 2088, 999]
"""
import functools
import json
import unicodedata
import warnings
from pathlib import Path

import numpy as np

from . import _wordpiece
from .counts import corpus_and_files
from .errors import CorpusError, FasttokError, ModelFileError, UnknownTokenError
from .normalize import _ASCII_PUNCTUATION, _CJK_RANGES, _CONTROL_CATEGORIES, WHITESPACE, is_punctuation
from .normalize import lowercase as lowercase_text
from .pretokenize import corpus_items, read_blocks
from .tokenizer import Tokenizer, _checked_texts
from .train import TrainingWarning, _check_int, _check_special_tokens

__all__ = ["WordPieceTokenizer", "train_wordpiece", "load_bert_vocab", "bert_pre_tokenize",
           "BERT_SPECIAL_TOKENS"]

BERT_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
_CHUNK_BYTES = 1 << 20  # corpus files are read this much at a time, cut at the last newline


def bert_pre_tokenize(text: str) -> list[str]:
    """BERT's basic pre-tokenizer: split on whitespace, each punctuation character its own word.

    >>> bert_pre_tokenize("don't stop--now")
    ['don', "'", 't', 'stop', '-', '-', 'now']
    """
    words, current = [], []
    for ch in text:
        if ch in WHITESPACE or is_punctuation(ch):
            if current:
                words.append("".join(current))
                current = []
            if ch not in WHITESPACE:
                words.append(ch)
        else:
            current.append(ch)
    if current:
        words.append("".join(current))
    return words


@functools.cache
def _char_classes(size: int = 0x110000) -> np.ndarray:
    """Class bits per code point for the core: 1 whitespace, 2 a word alone (punctuation, CJK),
    4 dropped by the clean-up, 8 nonspacing mark. The full table (about 0.3 s to build, once per
    process) is only needed once non-ASCII text arrives; pure-ASCII batches use the first 128."""
    categories = [unicodedata.category(chr(cp)) for cp in range(size)]
    codes = {cat: k for k, cat in enumerate(sorted(set(categories)))}
    cat = np.fromiter((codes[c] for c in categories), dtype=np.uint8, count=size)  # (size,)
    table = np.zeros(size, dtype=np.uint8)  # (size,)
    punct = [codes[c] for c in codes if c.startswith("P")]
    table[np.isin(cat, punct)] |= 2
    table[[ord(ch) for ch in _ASCII_PUNCTUATION]] |= 2
    for lo, hi in _CJK_RANGES:
        table[lo:hi + 1] |= 2
    table[np.isin(cat, [codes[c] for c in _CONTROL_CATEGORIES if c in codes])] |= 4
    table[[cp for cp in (0, 0xFFFD) if cp < size]] |= 4
    table[np.isin(cat, [codes[c] for c in ("Mn",) if c in codes])] |= 8
    for ch in WHITESPACE:
        if ord(ch) < size:
            table[ord(ch)] = 1 if ch in "\t\n\r" or not table[ord(ch)] & 4 else table[ord(ch)]
    table.flags.writeable = False
    return table


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
    return cps, offsets, lower_ascii, _char_classes(0x80 if all_ascii else 0x110000), strip


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
    default_allowed_special = "all"  # BERT matches typed special tokens like [SEP]

    def __init__(self, vocab, *, special_tokens=BERT_SPECIAL_TOKENS, unk_token="[UNK]",
                 continuing_subword_prefix="##", max_input_chars_per_word=100, lowercase=True,
                 strip_accents=None):
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
        missing = [t for t in special_tokens if t not in token_to_id]
        if missing:
            raise ModelFileError(f"special tokens {missing} are not in the vocabulary")
        if not isinstance(max_input_chars_per_word, int) or max_input_chars_per_word < 1:
            raise ValueError(f"max_input_chars_per_word must be a positive int, got {max_input_chars_per_word!r}")
        if strip_accents not in (None, True, False):
            raise TypeError(f"strip_accents must be None, True or False, got {strip_accents!r}")
        self._id_to_token = vocab
        self._token_to_id = token_to_id
        self.unk_token = unk_token
        self.continuing_subword_prefix = continuing_subword_prefix
        self.max_input_chars_per_word = max_input_chars_per_word
        self.lowercase = bool(lowercase)
        self.strip_accents = strip_accents
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
        texts = _checked_texts(texts)
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
        return _cut_after_newline  # a BERT word never spans a newline

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
        return {"unk_token": self.unk_token, "continuing_subword_prefix": self.continuing_subword_prefix,
                "max_input_chars_per_word": self.max_input_chars_per_word, "lowercase": self.lowercase,
                "strip_accents": self.strip_accents, "special_tokens": sorted(self._special, key=self._special.get)}

    def _native(self) -> tuple[dict, list[str]]:
        """Settings, then one token per line in id order (JSON-quoted when not plain)."""
        return self._settings(), [_quote(t) for t in self._id_to_token]

    @classmethod
    def _from_native(cls, settings: dict, records: list[str]):
        try:
            vocab = [_unquote(r) for r in records]
            return cls(vocab, **settings)
        except (TypeError, json.JSONDecodeError) as e:
            raise ModelFileError(f"corrupt WordPiece model file: {e}") from None

    def _hf_json(self) -> dict:
        """A HF `tokenizer.json` (BertNormalizer, BertPreTokenizer, WordPiece, WordPiece decoder)."""
        return {
            "version": "1.0", "truncation": None, "padding": None,
            "added_tokens": [
                {"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                 "normalized": False, "special": True}
                for t, i in sorted(self._special.items(), key=lambda kv: kv[1])],
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
    def _from_hf_json(cls, data: dict):
        model = data.get("model") or {}
        if model.get("type") != "WordPiece":
            raise ModelFileError(f"not a WordPiece tokenizer.json (model type {model.get('type')!r})")
        normalizer = data.get("normalizer") or {}
        if normalizer.get("type") != "BertNormalizer" or not normalizer.get("clean_text", True) \
                or not normalizer.get("handle_chinese_chars", True):
            raise ModelFileError(f"unsupported normalizer {normalizer!r}: fasttok reads BertNormalizer "
                                 "with clean_text and handle_chinese_chars on")
        pre = data.get("pre_tokenizer") or {}
        if pre.get("type") != "BertPreTokenizer":
            raise ModelFileError(f"unsupported pre_tokenizer {pre!r}: fasttok reads BertPreTokenizer")
        vocab_map = dict(model.get("vocab") or {})
        for added in data.get("added_tokens") or []:
            if vocab_map.setdefault(added["content"], added["id"]) != added["id"]:
                raise ModelFileError(f"added token {added['content']!r} has id {added['id']} but the "
                                     f"vocabulary gives it {vocab_map[added['content']]}")
        vocab = [None] * len(vocab_map)
        for token, i in vocab_map.items():
            if not isinstance(i, int) or not 0 <= i < len(vocab) or vocab[i] is not None:
                raise ModelFileError(f"vocabulary ids must be 0..{len(vocab) - 1}, each once; "
                                     f"token {token!r} has id {i!r}")
            vocab[i] = token
        specials = [a["content"] for a in data.get("added_tokens") or [] if a.get("special", True)]
        return cls(vocab, special_tokens=specials, unk_token=model.get("unk_token", "[UNK]"),
                   continuing_subword_prefix=model.get("continuing_subword_prefix", "##"),
                   max_input_chars_per_word=model.get("max_input_chars_per_word", 100),
                   lowercase=normalizer.get("lowercase", True), strip_accents=normalizer.get("strip_accents"))

    def _vocab_txt(self) -> list[str]:
        """BERT's vocab.txt lines: one token per line, id = line number (settings are not kept)."""
        bad = [t for t in self._id_to_token if t != t.strip() or "\n" in t or "\r" in t]
        if bad:
            raise FasttokError(f"tokens {bad[:3]} cannot be written to vocab.txt (whitespace at an end or a line break)")
        return list(self._id_to_token)


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
    return json.loads(record) if record.startswith('"') else record


# ---------------------------------------------------------------------------------------------
# Loading BERT files
# ---------------------------------------------------------------------------------------------

def load_bert_vocab(vocab_txt, *, lowercase=True, strip_accents=None, unk_token="[UNK]",
                    continuing_subword_prefix="##", max_input_chars_per_word=100,
                    special_tokens=None) -> WordPieceTokenizer:
    """Read BERT's vocab.txt (one token per line, id = line number) into a tokenizer.

    special_tokens: default, those of [PAD] [UNK] [CLS] [SEP] [MASK] that the file has.
    """
    path = Path(vocab_txt)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ModelFileError(f"{path}: invalid UTF-8 at byte offset {e.start}") from None
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
        vocab.append(token)
    if special_tokens is None:
        present = set(vocab)
        special_tokens = [t for t in BERT_SPECIAL_TOKENS if t in present]
    try:
        return WordPieceTokenizer(vocab, special_tokens=special_tokens, unk_token=unk_token,
                                  continuing_subword_prefix=continuing_subword_prefix,
                                  max_input_chars_per_word=max_input_chars_per_word,
                                  lowercase=lowercase, strip_accents=strip_accents)
    except ModelFileError as e:
        raise ModelFileError(f"{path}: {e}") from None


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------

def _cut_after_newline(data):
    # A BERT word never spans a newline, so any newline is a safe place to end a block.
    return data.rfind(b"\n") + 1


def _iter_texts(corpus):
    """Texts of a corpus: a str, a path, or an iterable of str texts and paths (files streamed)."""
    for item in corpus_items(corpus):
        if isinstance(item, str):
            yield item
        else:
            yield from read_blocks(item, cut=_cut_after_newline, block_size=_CHUNK_BYTES)


def count_words(corpus, *, lowercase=True, strip_accents=None):
    """Unique BERT pre-tokenized words of `corpus` with their counts (a core WordCounter)."""
    counter = _wordpiece.WordCounter()
    for text in _iter_texts(corpus):
        if not text:
            continue
        cps, offsets, lower_ascii, classes, strip = _prepare([text], lowercase, strip_accents)
        counter.add_text(cps, classes, lowercase, strip)
    return counter


def train_wordpiece(corpus=None, *, files=None, vocab_size: int, score: str = "likelihood",
                    min_frequency: int = 2, special_tokens=BERT_SPECIAL_TOKENS, unk_token: str = "[UNK]",
                    continuing_subword_prefix: str = "##", max_token_length: int | None = None,
                    lowercase: bool = True, strip_accents: bool | None = None,
                    progress=None) -> WordPieceTokenizer:
    """Learn a WordPiece vocabulary of `vocab_size` tokens (special tokens + characters + merges).

    corpus and files as in `train_bpe` (texts and/or paths; a bare str naming a file is refused).
    score: "likelihood" (default) merges the pair maximising the exact gain in corpus log-likelihood
    under a unigram model of the units, the objective of Schuster & Nakajima; "pmi" the pair
    maximising count(ab) / (count(a) count(b)).
    min_frequency: a pair occurring fewer times is never merged. max_token_length: no merged
    unit longer than this many characters (the prefix not counted). progress(n_done, n_total) is
    called as merges are made. Ties: higher score, then higher pair count, then the pair of
    smaller ids. Stops early, with a warning, when no pair is left to merge.
    """
    if score not in _wordpiece.SCORE_MODES:
        raise ValueError(f"score must be 'pmi' or 'likelihood', got {score!r}")
    vocab_size = _check_int("vocab_size", vocab_size, 1)
    min_frequency = _check_int("min_frequency", min_frequency, 1)
    if max_token_length is not None:
        max_token_length = _check_int("max_token_length", max_token_length, 1)
    special_tokens = _check_special_tokens(special_tokens)
    if unk_token not in special_tokens:
        raise ValueError(f"unk_token {unk_token!r} must be one of the special tokens {special_tokens}")
    if progress is not None and not callable(progress):
        raise TypeError("progress must be callable")
    corpus = corpus_and_files(corpus, files)
    counter = count_words(corpus, lowercase=lowercase, strip_accents=strip_accents)
    if len(counter) == 0:
        raise CorpusError("the corpus has no words to learn from")
    trainer = _wordpiece.WordPieceTrainer(counter, score_mode=_wordpiece.SCORE_MODES[score],
                                          min_frequency=min_frequency,
                                          max_token_length=max_token_length or 0)
    vocab = dict.fromkeys(special_tokens)  # insertion-ordered set of tokens
    n_units = 0

    def add_new_units():
        nonlocal n_units
        for text, cont in trainer.vocab_units(n_units):
            vocab.setdefault(continuing_subword_prefix + text if cont else text)
            n_units += 1

    add_new_units()
    if len(vocab) > vocab_size:
        raise CorpusError(f"vocab_size {vocab_size} is below the {len(special_tokens)} special tokens "
                          f"plus the {len(vocab) - len(special_tokens)} base characters of this corpus")
    n_total = vocab_size - len(vocab)
    step = max(64, n_total // 100)
    while len(vocab) < vocab_size:
        want = min(step, vocab_size - len(vocab))
        got = trainer.merge(want)
        add_new_units()
        if progress is not None:
            progress(n_total - (vocab_size - len(vocab)), n_total)
        if got < want:
            warnings.warn(f"the corpus ran out of pairs to merge (min_frequency={min_frequency}): the "
                          f"vocabulary has {len(vocab)} tokens, not {vocab_size}", TrainingWarning, stacklevel=2)
            break
    return WordPieceTokenizer(vocab, special_tokens=special_tokens, unk_token=unk_token,
                              continuing_subword_prefix=continuing_subword_prefix,
                              lowercase=lowercase, strip_accents=strip_accents)
