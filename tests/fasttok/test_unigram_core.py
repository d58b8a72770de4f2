"""The core's Viterbi (fasttok/_unigram.pyx) against the pure-Python twin (fasttok/_reference/unigram.py)."""
import numpy as np
from hypothesis import given, strategies as st

from fasttok import _unigram
from fasttok._reference.unigram import f32, viterbi

# A few multi-byte characters, so pieces and unknown characters cross UTF-8 boundaries; scores from a
# small set, so equal totals (the tie rule) are common.
_CHARS = ["a", "b", "▁", "é", "東", "😀"]
_SCORES = [-0.5, -1.0, -1.5, -2.0, -3.0, -2.5000002, -0.1]


def _lattice(pieces, unk_score):
    raw = list(pieces)
    offsets = np.zeros(len(raw) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in raw], out=offsets[1:])
    return _unigram.UnigramLattice(np.frombuffer(b"".join(raw), dtype=np.uint8), offsets,
                                   np.array([pieces[r][0] for r in raw], dtype=np.int32),
                                   np.array([pieces[r][1] for r in raw], dtype=np.float32),
                                   unk_id=0, unk_score=unk_score)


@given(vocab=st.lists(st.tuples(st.lists(st.sampled_from(_CHARS), min_size=1, max_size=4).map("".join),
                                st.sampled_from(_SCORES)), max_size=25),
       text=st.lists(st.sampled_from(_CHARS + ["z"]), max_size=40).map("".join),
       unk=st.sampled_from([-10.0, -3.0, -1.0]))
def test_core_viterbi_matches_the_reference(vocab, text, unk):
    pieces = {}
    for k, (piece, score) in enumerate(vocab):
        pieces.setdefault(piece.encode("utf-8"), (k + 1, f32(score)))
    raw = text.encode("utf-8")
    unk = f32(unk)
    assert _unigram._py_viterbi(_lattice(pieces, unk), raw) == viterbi(raw, pieces, unk_id=0, unk_score=unk)


def test_ties_keep_the_longest_last_piece():
    # "ab" as one piece or as "a" + "b": equal totals; the earliest start (the longer piece) wins
    pieces = {b"a": (1, -1.0), b"b": (2, -1.0), b"ab": (3, -2.0)}
    assert viterbi(b"ab", pieces, unk_id=0, unk_score=-20.0) == [(0, 2, 3)]
    assert _unigram._py_viterbi(_lattice(pieces, -20.0), b"ab") == [(0, 2, 3)]


def test_batch_offsets_and_empty_texts():
    lattice = _lattice({b"a": (1, -1.0), b"aa": (2, -1.5)}, -20.0)
    ids, starts, ends = lattice.encode(np.frombuffer(b"aaaxa", dtype=np.uint8),
                                       np.array([0, 0, 3, 5], dtype=np.int64))
    assert ends.tolist() == [0, 0, 2, 4]
    # "aaa": a + aa and aa + a tie; the earlier start of the last piece wins
    assert ids.tolist() == [1, 2, 0, 1] and starts.tolist() == [0, 1, 0, 1]


def test_long_text_is_linear():
    lattice = _lattice({b"a" * k: (k, -1.0 * k) for k in range(1, 17)}, -20.0)
    text = b"a" * 1_000_000
    path = _unigram._py_viterbi(lattice, text)
    assert sum(e - s for s, e, _ in path) == len(text)
