"""Training a Unigram LM vocabulary (Kudo 2018) as sentencepiece's `unigram_model_trainer` does.

    >>> tok = train_unigram(["the cat sat on the mat"] * 20, vocab_size=16)
    >>> tok.model_type, tok.vocab_size
    ('unigram', 16)

The steps (`train_unigram`):

1. words: each line is normalized by sentencepiece's normalizer (identity rules: extra spaces removed,
   `▁` prefixed, spaces become `▁`) and cut before every `▁`; the unique words are counted (int64);
2. required characters: by count, most frequent first (ties: smaller code point), until their share
   of all characters reaches `character_coverage`; the rest are unknown and no piece contains them;
3. seed: every required character, then the substrings of 2..max_piece_length characters of the
   unique words that occur at least twice and are valid pieces, scored count x length, best first
   (ties: smaller string), up to `seed_size` pieces in all; score -> log(score / sum of scores);
4. EM, `n_em_iterations` times: expected counts by forward-backward over every word's lattice
   (the core, fasttok/_unigram_train.pyx), then pieces expected fewer than 0.5 times are dropped and
   the others scored digamma(count) - digamma(total) (sentencepiece's Bayesian update);
5. stop when at most vocab_size x 1.1 pieces are left; else prune: a piece whose own best
   segmentation is not itself, or that no word's best segmentation uses, goes; a piece with no other
   segmentation stays; every other piece is ranked by the likelihood lost if its count moved to its
   second-best segmentation, and the best max(vocab_size x 1.1, shrinking_factor x size) are kept
   (ties: smaller string); back to 4;
6. finish: the required characters (a missing one gets the lowest score minus 0.0001 per place in
   the frequency order), then the best-scoring pieces (ties: smaller string) until the vocabulary
   holds vocab_size ids with the meta pieces (`<unk>` `<s>` `</s>`, the special tokens as control
   pieces, the user-defined symbols, the 256 byte pieces with byte_fallback), sorted by score.

What differs from sentencepiece (so vocabularies are close, not identical): the seed enumerates
substrings of the unique words with the core's hash counter (fasttok/_unigram_train.pyx) instead of
a suffix array over the sentences (it keeps every repeated substring, sentencepiece only right-maximal
ones, and the memory is about (total characters of the unique words) x max_piece_length entries); scores are float64 until the
model is written (sentencepiece sums in float32); the Unicode-script rule uses the first word of
each letter's Unicode name as its script (Python has no script table); only identity normalization
is built in (sentencepiece's nmt_nfkc needs its precompiled character map, which fasttok does not
ship). Training is single-threaded; num_threads is checked and recorded only.
"""
import collections
import dataclasses
import functools
import math
import struct
import unicodedata
import warnings

import numpy as np

from fasttok import _unigram_train
from fasttok._checks import check_int, check_num_threads, check_special_tokens
from fasttok._files import corpus_and_files, read_blocks
from fasttok._protobuf import FIXED32, LEN, VARINT, Field, float_bits, write_message
from fasttok.counts import WordCounts
from fasttok.errors import CorpusError
from fasttok.sentencepiece import SPACE, Normalizer, SentencePieceTokenizer
from fasttok.tokenizer import TrainingWarning

__all__ = ["train_unigram", "UnigramOptions", "digamma"]

_META = ("<unk>", "<s>", "</s>")
_BYTE_PIECES = [f"<0x{b:02X}>" for b in range(256)]
_EXPECTED_THRESHOLD = 0.5          # sentencepiece's kExpectedFrequencyThreshold
_REQUIRED_PENALTY = 0.0001         # sentencepiece's kMinScorePenaltyDelta
_UNK_PENALTY = 10.0


@dataclasses.dataclass(frozen=True, kw_only=True)
class UnigramOptions:
    """train_unigram's options, checked once."""
    vocab_size: int                     # every id: meta pieces + byte pieces + normal pieces
    character_coverage: float = 0.9995  # share of the characters (by count) that must be pieces
    max_piece_length: int = 16          # in characters
    byte_fallback: bool = False         # add <0x00>..<0xFF>; unknown text encodes as bytes
    split_digits: bool = False          # a digit is a piece of its own
    split_by_unicode_script: bool = True   # no piece mixes letters of two scripts, or letters and others
    special_tokens: tuple = ()          # control pieces (never matched in text), after <unk> <s> </s>
    user_defined_symbols: tuple = ()    # always one piece when they occur in text
    normalization: str = "identity"
    add_dummy_prefix: bool = True
    num_threads: int = 1
    progress: object = None             # progress(n_done, n_total) after each EM round
    seed_size: int = 1_000_000
    shrinking_factor: float = 0.75
    n_em_iterations: int = 2

    def __post_init__(self):
        fix = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        fix("vocab_size", check_int("vocab_size", self.vocab_size, 1, 2**31 - 1))
        fix("max_piece_length", check_int("max_piece_length", self.max_piece_length, 1, 1024))
        fix("seed_size", check_int("seed_size", self.seed_size, 1))
        fix("n_em_iterations", check_int("n_em_iterations", self.n_em_iterations, 1, 1000))
        fix("num_threads", check_num_threads(self.num_threads))
        if not isinstance(self.character_coverage, (int, float)) or not 0 < self.character_coverage <= 1:
            raise ValueError(f"character_coverage must be in (0, 1], got {self.character_coverage!r}")
        if not isinstance(self.shrinking_factor, (int, float)) or not 0 < self.shrinking_factor < 1:
            raise ValueError(f"shrinking_factor must be in (0, 1), got {self.shrinking_factor!r}")
        if self.normalization != "identity":
            raise ValueError(f"normalization {self.normalization!r} is not supported: only 'identity' "
                             "(nmt_nfkc needs sentencepiece's precompiled character map)")
        fix("special_tokens", tuple(check_special_tokens(self.special_tokens)))
        fix("user_defined_symbols", tuple(check_special_tokens(self.user_defined_symbols)))
        meta = list(_META) + list(self.special_tokens) + list(self.user_defined_symbols)
        if len(set(meta)) != len(meta):
            raise ValueError("special_tokens and user_defined_symbols must be distinct from each other "
                             "and from <unk>, <s>, </s>")
        if self.progress is not None and not callable(self.progress):
            raise TypeError("progress must be callable")

    @property
    def meta_pieces(self):
        """The pieces before the normal ones, in id order, with their types."""
        out = [("<unk>", 2), ("<s>", 3), ("</s>", 3)] + [(s, 3) for s in self.special_tokens]
        out += [(s, 4) for s in self.user_defined_symbols]
        if self.byte_fallback:
            out += [(b, 6) for b in _BYTE_PIECES]
        return out


def _f32(x: float) -> float:
    """x rounded to float32: scores and losses are ranked by their float32 values (what sentencepiece
    keeps, and what the file holds), so values that differ only by float64 summation noise tie and
    the tie goes to the smaller string, whichever summation order produced them."""
    return struct.unpack("<f", struct.pack("<f", x))[0] if math.isfinite(x) else x


def digamma(x: float) -> float:
    """sentencepiece's Digamma: recurrence up to 7, then the asymptotic series.

    >>> round(digamma(1.0), 6)
    -0.577216
    """
    result = 0.0
    while x < 7:
        result -= 1 / x
        x += 1
    x -= 0.5
    xx = 1.0 / x
    xx2 = xx * xx
    xx4 = xx2 * xx2
    return result + math.log(x) + xx2 / 24.0 - 7.0 / 960.0 * xx4 + 31.0 / 8064.0 * xx4 * xx2 \
        - 127.0 / 30720.0 * xx4 * xx4


# -- 1. words -------------------------------------------------------------------------------------

def _normalizer(options):
    spec = {"precompiled_charsmap": b"", "add_dummy_prefix": options.add_dummy_prefix,
            "remove_extra_whitespaces": True, "escape_whitespaces": True}
    return Normalizer(spec, user_defined_symbols=options.user_defined_symbols)


def _lines(corpus, files):
    """Every line of the corpus (str texts and path files, in order), without its newline."""
    for item in corpus_and_files(corpus, files):
        if isinstance(item, str):
            yield from item.split("\n")
        else:
            for block in read_blocks(item, cut=lambda data: data.rfind(b"\n") + 1):
                yield from block.rstrip("\n").split("\n") if block.endswith("\n") else block.split("\n")


def split_words(normalized: str) -> list:
    """A normalized line cut before every `▁` (sentencepiece's SplitIntoWords).

    >>> split_words("▁the▁cat")
    ['▁the', '▁cat']
    """
    parts = normalized.split(SPACE)
    words = [SPACE + p for p in parts[1:]]
    return ([parts[0]] if parts[0] else []) + words


def count_unigram_words(lines, options, weights=None) -> dict:
    """{word: count} of the normalized lines (each weighted by `weights`, default 1)."""
    normalizer = _normalizer(options)
    counts = collections.Counter()
    batch, batch_weights = [], []

    def flush():
        joined, offsets = normalizer.normalize_many([t.encode("utf-8") for t in batch])
        ends = offsets.tolist()
        if weights is None:
            counts.update(w for a, b in zip(ends[:-1], ends[1:]) for w in split_words(joined[a:b].decode("utf-8")))
        else:
            for (a, b), n in zip(zip(ends[:-1], ends[1:]), batch_weights):
                for w in split_words(joined[a:b].decode("utf-8")):
                    counts[w] += n
        batch.clear()
        batch_weights.clear()

    for k, line in enumerate(lines):
        batch.append(line)
        if weights is not None:
            batch_weights.append(weights[k])
        if len(batch) >= 65536:
            flush()
    if batch:
        flush()
    return dict(counts)


# -- 2. required characters, 3. seed ----------------------------------------------------------------

def required_characters(words: dict, coverage: float) -> list:
    """[(char, count)] most frequent first (ties: smaller code point) until `coverage` of all
    characters is reached (sentencepiece's rule: stop before a character once the share is reached)."""
    chars = collections.Counter()
    for w, n in words.items():
        for ch in w:
            chars[ch] += n
    total = sum(chars.values())
    out, done = [], 0
    for ch, n in sorted(chars.items(), key=lambda kv: (-kv[1], kv[0])):
        if done / total >= coverage:
            break
        out.append((ch, n))
        done += n
    return out


@functools.lru_cache(maxsize=65536)
def _script(ch):
    """A stand-in for the Unicode script: letters by the first word of their name (Hiragana and
    Katakana count as Han, as in sentencepiece), marks as inherited (None), anything else 'common'."""
    category = unicodedata.category(ch)
    if category[0] == "M":
        return None
    if category[0] != "L":
        return "common"
    first = unicodedata.name(ch, "?").split(" ")[0]
    return "CJK" if first in ("CJK", "HIRAGANA", "KATAKANA") else first


def is_valid_piece(piece: str, options) -> bool:
    """sentencepiece's IsValidSentencePiece for whitespace-split training: `▁` only first, no space or
    NUL, at most max_piece_length, a digit alone with split_digits, one script per piece."""
    if not piece or len(piece) > options.max_piece_length:
        return False
    previous = None
    for k, ch in enumerate(piece):
        if ch in ("\0", " ", "\u2047"):
            return False
        if ch == SPACE:
            if k > 0:
                return False
            continue
        if options.split_digits and ch.isdigit() and len(piece) > 1:
            return False
        if options.split_by_unicode_script:
            script = _script(ch)
            if script is None:
                continue
            if previous is not None and script != previous:
                return False
            previous = script
    return True


def code_points(strings) -> tuple:
    """(uint32 code points of all strings joined, int64 offsets): the core's view of a list of str."""
    offsets = np.zeros(len(strings) + 1, dtype=np.int64)       # (n_strings + 1,)
    np.cumsum([len(x) for x in strings], out=offsets[1:])
    chars = np.frombuffer("".join(strings).encode("utf-32-le"), dtype="<u4").astype(np.uint32)  # (n_chars,)
    return chars, offsets


def seed_pieces(words: dict, required: list, options) -> list:
    """[(piece, log score)]: the required characters, then the best repeated substrings (step 3)."""
    allowed = {ch for ch, _ in required}
    word_list = list(words)
    chars, offsets = code_points(word_list)
    counts = np.array([words[w] for w in word_list], dtype=np.int64)
    flat, sub_offsets, totals = _unigram_train.count_substrings(chars, offsets, counts, options.max_piece_length)
    text = flat.astype("<u4").tobytes().decode("utf-32-le")
    bounds = sub_offsets.tolist()
    substrings = np.array([text[a:b] for a, b in zip(bounds[:-1], bounds[1:])], dtype=str)   # (n_subs,)
    scores = totals * np.diff(sub_offsets)                                                   # (n_subs,)
    order = np.lexsort((substrings, -scores))     # score descending, then the smaller string
    chosen = [(ch, n) for ch, n in required]
    for k in order.tolist():
        if len(chosen) >= options.seed_size:
            break
        piece = str(substrings[k])
        if allowed.issuperset(piece) and is_valid_piece(piece, options):
            chosen.append((piece, int(scores[k])))
    log_total = math.log(sum(score for _, score in chosen))
    return [(p, math.log(score) - log_total) for p, score in chosen]


# -- lattices ---------------------------------------------------------------------------------------

class Lattices:
    """The edges of every seed piece in every word, as the core's flat arrays (built once)."""

    def __init__(self, words, pieces, longest):
        """Edges of `pieces` (a list of str, index = piece number) in each of `words` (core: build_lattices)."""
        piece_chars, piece_offsets = code_points(pieces)
        chars, offsets = code_points(words)
        self.starts, self.ends, self.pieces, self.word_edges = _unigram_train.build_lattices(
            piece_chars, piece_offsets, chars, offsets, longest)               # (n_edges,) x 3, (n_words + 1,)
        self.word_chars = np.diff(offsets).astype(np.int32)                    # (n_words,)

    def expected_counts(self, counts, scores, alive, unk_score):
        return _unigram_train.expected_counts(self.word_edges, self.word_chars, self.starts, self.ends,
                                              self.pieces, counts, scores, alive, unk_score)

    def viterbi(self, scores, alive, unk_score, excluded=None):
        """[[piece, ...] per word] (-1: unknown; [] when `excluded` leaves no path)."""
        if excluded is None:
            excluded = np.full(len(self.word_chars), -1, dtype=np.int32)
        offsets, pieces = _unigram_train.viterbi_paths(self.word_edges, self.word_chars, self.starts, self.ends,
                                                       self.pieces, scores, alive, unk_score, excluded)
        return offsets, pieces


def unk_score_of(scores, alive):
    """min score - 10 (sentencepiece's unknown score) over the alive pieces."""
    return float(scores[alive.astype(bool)].min()) - _UNK_PENALTY


def m_step(expected, alive):
    """(scores, alive) after the M-step: pieces expected < 0.5 times drop, the rest score
    digamma(count) - digamma(total of the kept counts)."""
    keep = alive.astype(bool) & (expected >= _EXPECTED_THRESHOLD)
    kept = np.flatnonzero(keep)
    total = float(np.sum(expected[kept]))
    scores = np.full(len(expected), -np.inf)
    log_total = digamma(total)
    for i in kept.tolist():
        scores[i] = digamma(float(expected[i])) - log_total
    return scores, keep.astype(np.uint8)


def pruning_losses(words_lattice, counts, piece_lattice, scores, alive):
    """{piece index: loss or None}: None for a piece that stays whatever happens (no alternative),
    no entry for one that goes (its best segmentation is not itself, or no word's uses it)."""
    unk_score = unk_score_of(scores, alive)
    n = len(scores)
    offsets1, path1 = piece_lattice.viterbi(scores, alive, unk_score)
    offsets2, path2 = piece_lattice.viterbi(scores, alive, unk_score, np.arange(n, dtype=np.int32))
    offsets, path = words_lattice.viterbi(scores, alive, unk_score)
    word_of = np.repeat(np.arange(len(counts)), np.diff(offsets))
    freq = np.zeros(n + 1, dtype=np.float64)            # the last slot collects the unknowns
    np.add.at(freq, np.where(path >= 0, path, n), counts[word_of].astype(np.float64))
    freq = freq[:n]
    total = float(freq.sum())
    n_sentences = float(counts.sum())
    o1, o2 = offsets1.tolist(), offsets2.tolist()
    out = {}
    for i in np.flatnonzero(alive).tolist():
        own = o1[i + 1] - o1[i]
        if freq[i] == 0 or own >= 2:
            continue
        alternative = path2[o2[i]:o2[i + 1]].tolist()
        if not alternative:
            out[i] = None
            continue
        logprob_piece = math.log(freq[i]) - math.log(total)
        logsum_alt = math.log(total + freq[i] * (len(alternative) - 1))
        logprob_alt = 0.0
        for j in alternative:
            logprob_alt += math.log((freq[j] if j >= 0 else 0.0) + freq[i]) - logsum_alt
        out[i] = freq[i] / n_sentences * (logprob_piece - logprob_alt)
    return out


def prune(losses, strings, target):
    """alive mask after pruning: the pieces that must stay, then the highest losses (ties: smaller
    string) until `target` pieces."""
    alive = np.zeros(len(strings), dtype=np.uint8)
    kept = [i for i, loss in losses.items() if loss is None]
    alive[kept] = 1
    n = len(kept)
    ranked = sorted((i for i, loss in losses.items() if loss is not None), key=lambda i: (-_f32(losses[i]), strings[i]))
    for i in ranked:
        if n >= target:
            break
        alive[i] = 1
        n += 1
    return alive


# -- the trainer ------------------------------------------------------------------------------------

def train_unigram(corpus=None, *, files=None, vocab_size, character_coverage=0.9995, max_piece_length=16,
                  byte_fallback=False, split_digits=False, split_by_unicode_script=True, special_tokens=(),
                  user_defined_symbols=(), normalization="identity", add_dummy_prefix=True, num_threads=1,
                  progress=None, seed_size=1_000_000, shrinking_factor=0.75, n_em_iterations=2):
    """Learn a Unigram LM vocabulary; a SentencePieceTokenizer (model_type unigram) whose `.model`
    sentencepiece loads with the same ids.

    corpus: a str text, a path, an iterable of texts and paths, or a WordCounts (each pre-token is one
    line with its count: with the whitespace pattern punctuation is then a word of its own, which
    sentencepiece's whitespace split would keep attached); files: paths read after `corpus`. Every
    line is one sentence.
    vocab_size: every id (`<unk>` `<s>` `</s>` = 0 1 2, special tokens, user-defined symbols, byte
    pieces, then the learned pieces by score). The steps and the tie rules: the module docstring.
    """
    options = UnigramOptions(
        vocab_size=vocab_size, character_coverage=character_coverage, max_piece_length=max_piece_length,
        byte_fallback=byte_fallback, split_digits=split_digits, split_by_unicode_script=split_by_unicode_script,
        special_tokens=special_tokens, user_defined_symbols=user_defined_symbols, normalization=normalization,
        add_dummy_prefix=add_dummy_prefix, num_threads=num_threads, progress=progress, seed_size=seed_size,
        shrinking_factor=shrinking_factor, n_em_iterations=n_em_iterations)
    # 1. the unique words
    if isinstance(corpus, WordCounts):
        if files is not None:
            raise TypeError("pass a WordCounts alone, without files")
        pieces, weights = corpus.items()
        words = count_unigram_words([p.decode("utf-8") for p in pieces], options, weights.tolist())
    else:
        words = count_unigram_words(_lines(corpus, files), options)
    if not words:
        raise CorpusError("the corpus is empty: no words to learn from")
    return train_from_words(words, options)


def train_from_words(words: dict, options: UnigramOptions) -> SentencePieceTokenizer:
    """Steps 2-6 on a {word: count} table."""
    # 2.-3. required characters and the seed
    required = required_characters(words, options.character_coverage)
    n_normal = options.vocab_size - len(options.meta_pieces)
    if n_normal < len(required):
        raise ValueError(f"vocab_size {options.vocab_size} leaves {max(n_normal, 0)} ids after the "
                         f"{len(options.meta_pieces)} meta pieces, but {len(required)} characters are required")
    seed = [(p, s) for p, s in seed_pieces(words, required, options) if p not in options.user_defined_symbols]
    strings = [p for p, _ in seed]
    scores = np.array([s for _, s in seed], dtype=np.float64)      # (n_seed,)
    alive = np.ones(len(seed), dtype=np.uint8)                     # (n_seed,)
    word_list = sorted(words)
    counts = np.array([words[w] for w in word_list], dtype=np.int64)   # (n_words,)
    word_lattice = Lattices(word_list, strings, options.max_piece_length)
    piece_lattice = Lattices(strings, strings, options.max_piece_length)
    # 4.-5. EM, then prune, until the size is reached
    desired = int(options.vocab_size * 1.1)
    rounds = 0
    while True:
        for _ in range(options.n_em_iterations):
            expected, _ = word_lattice.expected_counts(counts, scores, alive, unk_score_of(scores, alive))
            scores, alive = m_step(expected, alive)
        rounds += 1
        n_alive = int(alive.sum())
        if options.progress is not None:
            options.progress(rounds, rounds + max(0, math.ceil(math.log(max(n_alive, 1) / desired)
                                                                / -math.log(options.shrinking_factor))))
        if n_alive <= desired:
            break
        losses = pruning_losses(word_lattice, counts, piece_lattice, scores, alive)
        alive = prune(losses, strings, max(desired, int(options.shrinking_factor * n_alive)))
    # 6. the final pieces
    return _finish(strings, scores, alive, required, options, n_normal)


def final_pieces(strings, scores, alive, required, n_normal):
    """[(piece, score)] in id order (score descending, ties: smaller string)."""
    live = {strings[i]: float(scores[i]) for i in np.flatnonzero(alive).tolist()}
    min_score = min(live.values())
    final, penalty = {}, 0.0
    for ch, _ in required:
        if ch in live:
            final[ch] = live[ch]
        else:
            final[ch] = min_score - penalty
            penalty += _REQUIRED_PENALTY
    for piece, score in sorted(live.items(), key=lambda kv: (-_f32(kv[1]), kv[0])):
        if len(final) >= n_normal:
            break
        final.setdefault(piece, score)
    return sorted(final.items(), key=lambda kv: (-_f32(kv[1]), kv[0]))


def _finish(strings, scores, alive, required, options, n_normal):
    normal = final_pieces(strings, scores, alive, required, n_normal)
    if len(normal) < n_normal:
        warnings.warn(f"the corpus gave only {len(normal)} pieces: the vocabulary has "
                      f"{len(normal) + len(options.meta_pieces)} ids, not vocab_size {options.vocab_size} "
                      "(sentencepiece would refuse this vocab_size)", TrainingWarning, stacklevel=3)
    pieces = options.meta_pieces + [(p, s, 1) for p, s in normal]
    pieces = [(p[0], 0.0, p[1]) if len(p) == 2 else p for p in pieces]
    fields = [Field(1, LEN, write_message([Field(1, LEN, p.encode("utf-8")), Field(2, FIXED32, float_bits(s)),
                                           Field(3, VARINT, t)]))
              for p, s, t in pieces]
    trainer = [Field(3, VARINT, 1), Field(4, VARINT, len(pieces)),
               Field(10, FIXED32, float_bits(options.character_coverage)),
               Field(14, VARINT, options.seed_size), Field(15, FIXED32, float_bits(options.shrinking_factor)),
               Field(16, VARINT, options.num_threads), Field(17, VARINT, options.n_em_iterations),
               Field(20, VARINT, options.max_piece_length),
               Field(21, VARINT, int(options.split_by_unicode_script)), Field(25, VARINT, int(options.split_digits))]
    trainer += [Field(30, LEN, s.encode("utf-8")) for s in options.special_tokens]
    trainer += [Field(31, LEN, s.encode("utf-8")) for s in options.user_defined_symbols]
    trainer += [Field(35, VARINT, int(options.byte_fallback)), Field(40, VARINT, 0), Field(41, VARINT, 1),
                Field(42, VARINT, 2)]
    normalizer = [Field(1, LEN, options.normalization.encode("utf-8")),
                  Field(3, VARINT, int(options.add_dummy_prefix)), Field(4, VARINT, 1), Field(5, VARINT, 1)]
    fields += [Field(2, LEN, write_message(trainer)), Field(3, LEN, write_message(normalizer))]
    return SentencePieceTokenizer.from_bytes(write_message(fields))
