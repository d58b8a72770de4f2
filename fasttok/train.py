"""train_bpe(): the policy (what the symbols are, how many merges, which ids) around one core call."""
import numbers
import warnings

import numpy as np

from fasttok import _bpe
from fasttok.errors import CorpusError
from fasttok.counts import WordCounts, count_words
from fasttok.tokenizer import BPETokenizer


class TrainingWarning(UserWarning):
    """Training finished but could not do everything asked (e.g. the corpus ran out of pairs)."""


def _check_special_tokens(special_tokens):
    if isinstance(special_tokens, str):
        raise TypeError("special_tokens must be a sequence of strings, not one string")
    special = list(special_tokens)
    for s in special:
        if not isinstance(s, str) or not s:
            raise ValueError(f"special tokens must be non-empty strings, got {s!r}")
    if len(set(special)) != len(special):
        raise ValueError(f"duplicate special tokens in {special}")
    return special


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


# The largest vocabulary the int32 core ids can address (one id is kept free as a sentinel).
MAX_VOCAB_SIZE = 2**31 - 2


def train_bpe(corpus=None, *, files=None, vocab_size, pattern="gpt2", byte_level=True, special_tokens=(),
              min_frequency=1, max_token_length=None, continuing_subword_prefix=None, end_of_word_suffix=None,
              unk_token=None, progress=None, num_workers=1):
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
    num_workers: processes that count pre-tokens; the result does not depend on it.
    If the corpus runs out of pairs first, a TrainingWarning says so and `tok.info` records it.
    """
    options = _check_options(vocab_size=vocab_size, byte_level=byte_level, special_tokens=special_tokens,
                             min_frequency=min_frequency, max_token_length=max_token_length,
                             continuing_subword_prefix=continuing_subword_prefix,
                             end_of_word_suffix=end_of_word_suffix, unk_token=unk_token, progress=progress)
    counts = count_words(corpus, files=files, pattern=pattern, num_workers=num_workers)
    table = _word_table(counts, options)
    del counts  # the table is all training needs: free the hash table before the learner allocates
    return _learn(table, **options)


def train_bpe_from_counts(counts, *, vocab_size, byte_level=True, special_tokens=(), min_frequency=1,
                          max_token_length=None, continuing_subword_prefix=None, end_of_word_suffix=None,
                          unk_token=None, progress=None):
    """Learn a BPE tokenizer from a WordCounts table; identical to train_bpe on the same text.

    The split pattern is the one the counts were made with.
    """
    if not isinstance(counts, WordCounts):
        raise TypeError(f"counts must be a fasttok.WordCounts, not {type(counts).__name__}")
    options = _check_options(vocab_size=vocab_size, byte_level=byte_level, special_tokens=special_tokens,
                             min_frequency=min_frequency, max_token_length=max_token_length,
                             continuing_subword_prefix=continuing_subword_prefix,
                             end_of_word_suffix=end_of_word_suffix, unk_token=unk_token, progress=progress)
    return _learn(_word_table(counts, options), **options)


def _check_options(*, vocab_size, byte_level, special_tokens, min_frequency, max_token_length,
                   continuing_subword_prefix, end_of_word_suffix, unk_token, progress):
    vocab_size = _check_int("vocab_size", vocab_size, 1)
    if vocab_size > MAX_VOCAB_SIZE:
        raise ValueError(f"vocab_size {vocab_size} is larger than the {MAX_VOCAB_SIZE} ids fasttok can address")
    min_frequency = _check_int("min_frequency", min_frequency, 1)
    if max_token_length is not None:
        max_token_length = _check_int("max_token_length", max_token_length, 1)
    special = _check_special_tokens(special_tokens)
    if byte_level and (continuing_subword_prefix or end_of_word_suffix or unk_token):
        raise ValueError("continuing_subword_prefix, end_of_word_suffix and unk_token are for "
                         "character-level BPE (byte_level=False); byte-level BPE never needs an unk token")
    if unk_token is not None and unk_token not in special:
        special.append(unk_token)
    if progress is not None and not callable(progress):
        raise TypeError("progress must be callable")
    return dict(vocab_size=vocab_size, byte_level=bool(byte_level), special=special, min_frequency=min_frequency,
                max_token_length=max_token_length, prefix=continuing_subword_prefix or "",
                suffix=end_of_word_suffix or "", unk_token=unk_token, progress=progress)


def _word_table(counts, options):
    """The unique-word table as flat arrays: what the core learns from."""
    pieces, weights = counts.items()  # bytes sorted bytewise (= code-point order), (n_words,) int64
    if not pieces:
        raise CorpusError("the corpus is empty: no pre-tokens to learn from")
    special = options["special"]
    if options["byte_level"]:
        lengths = np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces))
        symbols = np.frombuffer(b"".join(pieces), dtype=np.uint8).astype(np.int32)  # (n_symbols,)
        base = {b: bytes([b]) for b in range(256)}
    else:
        words = [_char_word(p.decode("utf-8"), options["prefix"], options["suffix"]) for p in pieces]
        alphabet = sorted({s for w in words for s in w})
        index = {s: i for i, s in enumerate(alphabet)}
        lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
        symbols = np.fromiter((index[s] for w in words for s in w), dtype=np.int32, count=int(lengths.sum()))
        base = dict(enumerate(alphabet))
        clash = set(special) & set(alphabet)
        if clash:
            raise ValueError(f"special tokens {sorted(clash)} are also characters of the corpus alphabet")
    offsets = np.zeros(len(pieces) + 1, dtype=np.int64)  # (n_words + 1,)
    np.cumsum(lengths, out=offsets[1:])
    return {"symbols": symbols, "offsets": offsets, "weights": weights, "base": base, "pattern": counts.pattern}


def _learn(table, *, vocab_size, byte_level, special, min_frequency, max_token_length, prefix, suffix,
           unk_token, progress):
    base = table["base"]
    n_fixed = len(base) + len(special)
    if vocab_size < n_fixed:
        what = "256 byte tokens" if byte_level else f"{len(base)} characters of the corpus alphabet"
        raise ValueError(f"vocab_size {vocab_size} is below the {what} plus {len(special)} special tokens "
                         f"(at least {n_fixed} needed)")
    n_merges = vocab_size - n_fixed
    merges = _bpe.learn_merges(table["symbols"], table["offsets"], table["weights"],
                               np.ones(len(base), dtype=np.int64), n_merges=n_merges,
                               min_frequency=min_frequency, max_token_length=max_token_length or 0,
                               progress=progress)  # (n_learned, 2)
    n_learned = len(merges)
    info = {"requested_vocab_size": vocab_size, "n_merges": n_learned, "stopped_early": n_learned < n_merges}
    if n_learned < n_merges:
        info["reason"] = (f"the corpus ran out of pairs (min_frequency={min_frequency}) after {n_learned} "
                          f"of {n_merges} merges; vocab_size is {vocab_size - (n_merges - n_learned)}")
        warnings.warn(info["reason"], TrainingWarning, stacklevel=3)
    first = len(base)
    rows = np.column_stack([merges, np.arange(first, first + n_learned, dtype=np.int32)]).astype(np.int32)
    special_ids = {s: first + n_learned + k for k, s in enumerate(special)}
    return BPETokenizer(base=base, merges=rows, special_tokens=special_ids, pattern=table["pattern"],
                        byte_level=byte_level, continuing_subword_prefix=prefix or None,
                        end_of_word_suffix=suffix or None, unk_token=unk_token, info=info)


def _char_word(piece, prefix, suffix):
    """Base symbols of one pre-token: prefix on non-initial characters, suffix on the last."""
    last = len(piece) - 1
    return [(prefix if k else "") + ch + (suffix if k == last else "") for k, ch in enumerate(piece)]
