"""The Cython trainer against the slow reference, and the tie rule pinned by golden outputs."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fasttok
from fasttok import _bpe
from fasttok._reference import bpe as reference
from tests.texts import generated_text

GOLDEN = __import__("pathlib").Path(__file__).parent / "golden"


def reference_byte_level(corpus, vocab_size, pattern, **kw):
    words = {}
    for piece, c in reference.count_pieces(corpus, pattern).items():
        key = tuple(piece.encode("utf-8"))
        words[key] = words.get(key, 0) + c
    return reference.learn_merges(words, n_base=256, n_merges=vocab_size - 256, **kw)


def test_abracadabra_merges_follow_the_tie_rule():
    # Worked by hand: ties on count 2 go to the smallest (left, right); then the 1-counts likewise.
    tok = fasttok.train_bpe("abracadabra", vocab_size=256 + 7, pattern=None)
    a, b, c, d, r = (ord(x) for x in "abcdr")
    assert tok.merges == [(a, b), (r, a), (256, 257), (a, d), (c, 259), (258, 260), (261, 258)]
    assert tok.encode("abracadabra") == [262]


corpora = st.lists(st.text(alphabet="ab c\n'é1", max_size=40), min_size=1, max_size=6)


@given(corpus=corpora, extra=st.integers(0, 30), min_frequency=st.integers(1, 3),
       pattern=st.sampled_from(["gpt2", "gpt4", None]))
def test_byte_level_trainer_matches_reference(corpus, extra, min_frequency, pattern):
    if not any(corpus):
        return
    with _no_check():
        tok = fasttok.train_bpe(corpus, vocab_size=256 + extra, pattern=pattern, min_frequency=min_frequency)
    expected = reference_byte_level(corpus, 256 + extra, pattern, min_frequency=min_frequency)
    assert tok.merges == expected
    assert tok.vocab_size == 256 + len(expected)


@given(corpus=corpora, extra=st.integers(0, 20), max_len=st.integers(1, 4))
def test_max_token_length_matches_reference(corpus, extra, max_len):
    if not any(corpus):
        return
    with _no_check():
        tok = fasttok.train_bpe(corpus, vocab_size=256 + extra, pattern=None, max_token_length=max_len)
    assert tok.merges == reference_byte_level(corpus, 256 + extra, None, max_token_length=max_len)
    assert all(len(tok.token_bytes(i)) <= max_len for i in range(256, tok.vocab_size))


@given(corpus=corpora, extra=st.integers(0, 20), prefix=st.sampled_from([None, "##"]),
       suffix=st.sampled_from([None, "</w>"]))
def test_character_level_trainer_matches_reference(corpus, extra, prefix, suffix):
    words = {}
    for piece, c in reference.count_pieces(corpus, "whitespace").items():
        last = len(piece) - 1
        key = tuple((prefix or "") * (k > 0) + ch + (suffix or "") * (k == last) for k, ch in enumerate(piece))
        words[key] = words.get(key, 0) + c
    if not words:
        return
    alphabet = sorted({s for w in words for s in w})
    index = {s: i for i, s in enumerate(alphabet)}
    expected = reference.learn_merges({tuple(index[s] for s in w): c for w, c in words.items()},
                                       n_base=len(alphabet), n_merges=extra)
    with _no_check():
        tok = fasttok.train_bpe(corpus, vocab_size=len(alphabet) + extra, pattern="whitespace", byte_level=False,
                                continuing_subword_prefix=prefix, end_of_word_suffix=suffix)
    assert tok.merges == expected
    # base symbols are numbered in code-point order
    assert [tok.id_to_token(i) for i in range(len(alphabet))] == alphabet


@given(words=st.dictionaries(st.lists(st.integers(0, 3), min_size=1, max_size=12).map(tuple),
                             st.integers(1, 2**40), min_size=1, max_size=8),
       n_merges=st.integers(0, 20))
def test_core_counts_are_64_bit(words, n_merges):
    assert core_merges(words, 4, n_merges) == reference.learn_merges(words, n_base=4, n_merges=n_merges)


def core_merges(words, n_base, n_merges):
    """The core's merges for {tuple of base ids: count}, as a list of (left, right)."""
    items = list(words.items())
    symbols = np.array([s for w, _ in items for s in w], dtype=np.int32)
    offsets = np.concatenate([[0], np.cumsum([len(w) for w, _ in items])]).astype(np.int64)
    counts = np.array([c for _, c in items], dtype=np.int64)
    got = _bpe.learn_merges(symbols, offsets, counts, np.ones(n_base, dtype=np.int64), n_merges=n_merges)
    return [tuple(m) for m in got.tolist()]


# Words of more than 64 symbols list their pairs by position, not by word (the merge path for long words).
@given(words=st.dictionaries(st.lists(st.integers(0, 2), min_size=1, max_size=200).map(tuple),
                             st.integers(1, 5), min_size=1, max_size=5),
       n_merges=st.integers(0, 40))
@settings(max_examples=60, deadline=None)
def test_long_word_merges_match_the_reference(words, n_merges):
    assert core_merges(words, 3, n_merges) == reference.learn_merges(words, n_base=3, n_merges=n_merges)


def test_long_word_merges_match_the_reference_on_runs_and_repeats():
    rng = np.random.default_rng(1)
    for _ in range(30):
        words = {tuple(rng.integers(0, 3, int(rng.integers(65, 300))).tolist()): int(rng.integers(1, 4)),
                 (0,) * int(rng.integers(65, 200)): 2, (0, 1) * 70 + (2,): 1, (1, 2, 1): 3}
        assert core_merges(words, 3, 30) == reference.learn_merges(words, n_base=3, n_merges=30)


def test_golden_generated_text(tmp_path):
    # tests/texts.py generates the same 20,000 characters on every machine, so the whole file is pinned
    text = generated_text(20_000)
    tok = fasttok.train_bpe(text, vocab_size=256 + 120, special_tokens=["<|endoftext|>"])
    tok.save(tmp_path / "actual.txt")
    assert (tmp_path / "actual.txt").read_text() == (GOLDEN / "bpe_generated_20k_376.txt").read_text()
    assert tok.merges == reference_byte_level(text, 256 + 119, "gpt2")


def test_progress_is_reported_and_monotone():
    seen = []
    fasttok.train_bpe("the cat sat on the mat " * 50, vocab_size=256 + 12, progress=lambda d, t: seen.append((d, t)))
    assert seen and seen[-1] == (12, 12)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_running_out_of_pairs_warns_and_records():
    with pytest.warns(fasttok.TrainingWarning, match="ran out of pairs"):
        tok = fasttok.train_bpe("ab ab", vocab_size=300)
    assert tok.info["stopped_early"] and tok.vocab_size < 300
    assert tok.info["n_merges"] == len(tok.merges)


def test_special_tokens_take_ids_after_merges_and_are_never_merged():
    tok = fasttok.train_bpe(["<|endoftext|> hello hello"] * 3, vocab_size=256 + 5 + 1,
                            special_tokens=["<|endoftext|>"])
    n = 256 + len(tok.merges)
    assert tok.special_tokens == {"<|endoftext|>": n}
    assert tok.encode("<|endoftext|>", allowed_special="all") == [n]


class _no_check:
    """Silence the TrainingWarning that tiny random corpora trigger."""
    def __enter__(self):
        import warnings
        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", fasttok.TrainingWarning)

    def __exit__(self, *exc):
        return self._w.__exit__(*exc)
