"""The core's shared kernels (fasttok/_hash.pxd, fasttok/_heap.pxd) and the per-module kernels, each
driven through its `_py_*` hook and checked against a plain Python reference under hypothesis."""
import itertools
import math
from collections import Counter

import numpy as np
from hypothesis import given, settings, strategies as st

from fasttok import _bpe, _kernels, _wordpiece
from fasttok._reference import bpe as bpe_reference
from fasttok._reference import wordpiece as reference
from fasttok.wordpiece import WordPieceTokenizer

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


# -- hashing ----------------------------------------------------------------------------------------

def mix64_reference(x):
    x ^= x >> 33
    x = (x * 0xFF51AFD7ED558CCD) & MASK64
    x ^= x >> 33
    x = (x * 0xC4CEB9FE1A85EC53) & MASK64
    x ^= x >> 33
    return x


def hash_bytes_reference(data):
    """The byte hash as documented in _hash.pxd: (head ^ n) * golden, then one round per further
    8 bytes, the last 8 bytes overlapping; words are little-endian (the machines we build on)."""
    n = len(data)
    h = ((int.from_bytes(data[:8], "little") ^ n) * GOLDEN) & MASK64
    k = 8
    while k + 8 <= n:
        h = (((h ^ (h >> 29)) ^ int.from_bytes(data[k:k + 8], "little")) * GOLDEN) & MASK64
        k += 8
    if k < n:
        h = (((h ^ (h >> 29)) ^ int.from_bytes(data[n - 8:], "little")) * GOLDEN) & MASK64
    return h


@given(st.integers(0, MASK64))
def test_mix64_matches_reference(x):
    assert _kernels._py_mix64(x) == mix64_reference(x)


def test_mix64_is_a_bijection_on_structured_keys():
    # pair keys (left << 32 | right) of small ids: the keys the tables really see
    keys = [(a << 32) | b for a in range(64) for b in range(64)]
    assert len({_kernels._py_mix64(k) for k in keys}) == len(keys)


@given(st.binary(max_size=40))
def test_hash_bytes_matches_reference(data):
    # the hook also checks load_head's one-8-byte-load path against the exact-length one
    assert _kernels._py_hash_bytes(data) == hash_bytes_reference(data)


def test_hash_bytes_top_bits_spread_short_keys():
    # tables index by the top bits: every 2-byte key lands in one of 4096 slots, nearly uniformly
    homes = Counter(_kernels._py_hash_bytes(bytes([a, b])) >> 52 for a in range(256) for b in range(256))
    assert len(homes) > 4000
    assert max(homes.values()) < 64


@given(st.integers(0, 10_000), st.sampled_from([2, 16, 1024]))
def test_table_shift_is_the_smallest_half_full_table(expected, min_slots):
    shift, size = _kernels._py_table_shift(expected, min_slots)
    assert size == 1 << (64 - shift)
    assert size >= min_slots and size >= 2 * expected
    assert size == min_slots or size // 2 < 2 * expected


# -- the shared hash tables -------------------------------------------------------------------------

small_keys = st.integers(0, 40)  # repeats: adds to existing keys
any_keys = st.integers(0, MASK64 - 1)  # everything but EMPTY_KEY


@given(st.lists(st.tuples(st.one_of(small_keys, any_keys), st.integers(-5, 5)), max_size=300),
       st.sampled_from([2, 16]), st.booleans())
def test_int_table_matches_dict(items, min_slots, collide):
    expected = {}
    for key, value in items:
        expected[key] = expected.get(key, 0) + value
    contents, stats = _kernels._py_hash_table_int([k for k, _ in items], [v for _, v in items],
                                                  min_slots=min_slots, collide=collide)
    assert contents == expected
    assert stats["n_keys"] == len(expected)
    assert 2 * stats["n_keys"] <= stats["n_slots"]
    if collide and len(expected) > 1:
        assert stats["displaced"] == len(expected) - 1  # one cluster from slot 0


def test_int_table_grows_and_collides():
    keys = list(range(5000)) + [((k + 1) << 32) | k for k in range(5000)]
    contents, stats = _kernels._py_hash_table_int(keys + keys, [1] * (2 * len(keys)), min_slots=16)
    assert contents == dict.fromkeys(keys, 2)
    assert stats["n_slots"] == 1 << 15  # grown from 16 by doubling, at most half full
    assert stats["displaced"] > 0       # linear probing did run past home slots


short_words = st.binary(min_size=1, max_size=3)  # repeats, and keys that differ only in length
long_words = st.binary(min_size=1, max_size=40)   # past the 8-byte head, past 32 bytes
trailing = st.sampled_from([b"a", b"a\0", b"a\0\0", b"\0", b"\0\0", b"abcdefgh", b"abcdefgh\0",
                            b"abcdefghX" * 3, b"abcdefghY" * 3])


@given(st.lists(st.tuples(st.one_of(short_words, long_words, trailing), st.integers(1, 9)), max_size=300),
       st.sampled_from(["word", "cache"]))
def test_bytes_table_matches_dict(items, layout):
    expected = {}
    for key, value in items:
        if layout == "word":
            expected[key] = expected.get(key, 0) + value
        else:
            expected.setdefault(key, value)
    contents, stats = _kernels._py_hash_table_bytes([k for k, _ in items], [v for _, v in items], layout=layout)
    assert contents == expected
    assert stats["n_keys"] == len(expected)
    assert 2 * stats["n_keys"] <= stats["n_slots"]


def test_bytes_table_grows_and_collides():
    words = list(dict.fromkeys(str(i).encode() * (1 + i % 5) for i in range(20_000)))
    for layout in ("word", "cache"):
        contents, stats = _kernels._py_hash_table_bytes(words, [1] * len(words), layout=layout)
        assert contents == dict.fromkeys(words, 1)
        assert 2 * len(words) <= stats["n_slots"] < 4 * len(words)  # grown from 16 by doubling
        assert stats["displaced"] > 0


# -- the shared heap --------------------------------------------------------------------------------

def count_key(entry):
    """HeapEntry's documented order: larger count first, then the smaller pair."""
    count, pair = entry
    return (-count, pair)


def score_key(entry):
    """ScoreEntry's documented order: higher score, then higher count, then smaller (left, right)."""
    score, count, left, right, _pair, _stamp = entry
    return (-score, -count, left, right)


def reference_pops(entries, key, pops_between):
    """Pops of a push/pop sequence by a linear scan for the minimum key."""
    pending, out = [], []
    for k, entry in enumerate(entries):
        pending.append(entry)
        if k in pops_between:
            best = min(pending, key=key)
            pending.remove(best)
            out.append(best)
    return out + sorted(pending, key=key)


count_entries = st.lists(st.tuples(st.integers(-3, 3), st.integers(0, 5)), max_size=80)
score_entries = st.lists(st.tuples(st.sampled_from([0.0, 0.5, 1.5, -1.0, 1e300, -0.0]), st.integers(0, 3),
                                   st.integers(0, 3), st.integers(0, 3), st.integers(0, 9), st.integers(0, 9)),
                         max_size=80)


@given(count_entries, st.booleans(), st.sets(st.integers(0, 79)))
def test_count_heap_pops_in_tie_rule_order(entries, make, pops):
    pops = set() if make else pops
    got = _kernels._py_heap_order(entries, "count", make=make, pops_between=pops)
    # every field is compared, so the order is fully determined
    assert got == reference_pops(entries, count_key, pops)


@given(score_entries, st.booleans(), st.sets(st.integers(0, 79)))
def test_score_heap_pops_in_tie_rule_order(entries, make, pops):
    pops = set() if make else pops
    got = _kernels._py_heap_order(entries, "score", make=make, pops_between=pops)
    expected = reference_pops(entries, score_key, pops)
    # entries equal in every compared field may come in any order among themselves
    assert [score_key(e) for e in got] == [score_key(e) for e in expected]
    assert sorted(got) == sorted(entries)


# -- BPE kernels ------------------------------------------------------------------------------------

merge_rows = st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4), st.integers(0, 9)), max_size=12)


@given(merge_rows, st.lists(st.integers(0, 6), max_size=70), st.booleans())
@settings(max_examples=200)
def test_merge_word_paths_match_reference(merges, symbols, long_path):
    table = _bpe.MergeTable(np.array(merges, dtype=np.int32).reshape(-1, 3))
    got = _bpe._py_merge_word(table, np.array(symbols, dtype=np.int32), long_path=long_path)
    ranked = {}
    for rank, (left, right, new_id) in enumerate(merges):
        ranked.setdefault((left, right), (rank, new_id))  # a repeated pair keeps its first rank, as in the core
    assert got == bpe_reference.encode_word(symbols, ranked)


@given(st.lists(st.tuples(st.binary(max_size=12), st.lists(st.integers(0, 99), max_size=4)), max_size=60))
def test_piece_cache_keeps_first_value(items):
    first = {}
    for key, ids in items:
        first.setdefault(key, ids)
    got = _bpe._py_piece_cache([k for k, _ in items], [v for _, v in items])
    assert got == [first[k] if k else None for k, _ in items]  # empty pieces are never cached


def test_piece_cache_grows():
    keys = [i.to_bytes(3, "little") for i in range(5000)]
    got = _bpe._py_piece_cache(keys, [[i] for i in range(5000)])
    assert got == [[i] for i in range(5000)]


# -- WordPiece kernels ------------------------------------------------------------------------------

def reference_word_pairs(units):
    """Left-to-right merge counts: a run of L equal units holds L // 2 (x, x) merges, and each run
    pairs once with the next run."""
    counts = Counter()
    runs = [(unit, len(list(group))) for unit, group in itertools.groupby(units)]
    for unit, length in runs:
        if length >= 2:
            counts[(unit, unit)] += length // 2
    for (a, _), (b, _) in zip(runs, runs[1:]):
        counts[(a, b)] += 1
    return sorted(counts.items())


@given(st.lists(st.integers(0, 3), max_size=30))
def test_word_pairs_match_reference(units):
    assert _wordpiece._py_word_pairs(units) == reference_word_pairs(units)
    assert sorted(reference.word_pairs(units).items()) == reference_word_pairs(units)  # the oracle's twin agrees


@given(st.integers(1, 10**12), st.data())
def test_gain_matches_reference(c, data):
    d = data.draw(st.integers(0, c))
    assert _wordpiece._py_gain(float(c), float(d)) == reference.gain(float(c), float(d))
    if c <= 10**6:  # F(c) - F(c - d) directly: its cancellation stays below the tolerance here
        exact = c * math.log(c) - (c - d) * math.log(c - d) if d < c else c * math.log(c)
        assert math.isclose(_wordpiece._py_gain(float(c), float(d)), exact, rel_tol=1e-9, abs_tol=1e-6)


@given(st.lists(st.text(alphabet="abc", min_size=1, max_size=4).flatmap(lambda t: st.sampled_from([t, "##" + t])),
                min_size=1, max_size=20, unique=True),
       st.lists(st.text(alphabet="abcdé", min_size=1, max_size=12), min_size=1, max_size=6))
def test_encode_word_matches_reference(vocab, words):
    vocab = ["[UNK]"] + vocab
    tok = WordPieceTokenizer(vocab, special_tokens=["[UNK]"])
    ids = {t: i for i, t in enumerate(vocab)}
    for word in words:
        assert _wordpiece._py_encode_word(tok._core, word) == reference.encode_word(word, ids, unk_id=0)


@given(st.lists(st.tuples(st.text(min_size=1, max_size=12), st.integers(1, 5)), max_size=200))
def test_wordpiece_word_counter_matches_dict(items):
    # the WordSlot table keyed by UTF-32 code points
    counter = _wordpiece.WordCounter()
    expected = Counter()
    for word, count in items:
        counter.add_word(word, count)
        expected[word] += count
    assert dict(counter.items()) == dict(expected)
    assert len(counter) == len(expected)
