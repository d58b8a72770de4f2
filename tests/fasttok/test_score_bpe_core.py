"""The core's sentencepiece-BPE (fasttok/_score_bpe.pyx) against its twin (fasttok/_reference/sentencepiece.py).

Random vocabularies over a few characters (multi-byte ones too), with many equal scores so the
leftmost-pair rule decides often, unused pieces (split back at the end) and user-defined symbols
(frozen), in a model built here byte by byte: no sentencepiece needed.
"""
from hypothesis import given, strategies as st

from fasttok._protobuf import float_bits, write_message
from fasttok._reference.sentencepiece import bpe_segment
from fasttok.sentencepiece import NORMAL, UNKNOWN, UNUSED, USER_DEFINED, SentencePieceTokenizer

_CHARS = ["a", "b", "c", "é", "東", "😀", "▁"]
_SCORES = [0.0, -1.0, -2.0, -3.0, -1.5]


def _model(pieces):
    """A BPE .model: <unk>, then pieces [(text, score, type)]; identity normalizer, nothing added."""
    fields = [(1, 2, write_message([(1, 2, b"<unk>"), (2, 5, 0), (3, 0, UNKNOWN)]))]
    for text, score, kind in pieces:
        fields.append((1, 2, write_message([(1, 2, text.encode("utf-8")), (2, 5, float_bits(score)), (3, 0, kind)])))
    fields.append((2, 2, write_message([(3, 0, 2)])))                               # model_type = BPE
    fields.append((3, 2, write_message([(1, 2, b"identity"), (3, 0, 0), (4, 0, 0)])))  # no prefix, keep spaces
    return SentencePieceTokenizer.from_bytes(write_message(fields))


vocab = st.dictionaries(
    st.lists(st.sampled_from(_CHARS), min_size=1, max_size=4).map("".join),
    st.tuples(st.sampled_from(_SCORES), st.sampled_from([NORMAL] * 6 + [UNUSED, USER_DEFINED])),
    max_size=30)


@given(vocab=vocab, text=st.lists(st.sampled_from(_CHARS + ["z", " "]), max_size=40).map("".join))
def test_core_bpe_matches_the_reference(vocab, text):
    tok = _model([(t, score, kind) for t, (score, kind) in vocab.items()])
    normalized = tok._normalizer.normalize(text.encode("utf-8"))
    expected = bpe_segment(normalized, pieces={t.encode("utf-8"): (score, kind == UNUSED)
                                               for t, (score, kind) in vocab.items()},
                           symbols={t.encode("utf-8") for t, (_, kind) in vocab.items() if kind == USER_DEFINED})
    joined, _, _, starts, _ = tok._segment_many([text])
    bounds = starts.tolist() + [len(joined)]
    assert [joined[a:b] for a, b in zip(bounds, bounds[1:])] == expected


def test_equal_scores_merge_the_leftmost_pair():
    tok = _model([("a", 0.0, NORMAL), ("aa", -1.0, NORMAL)])
    assert tok.encode_pieces("aaa") == ["aa", "a"]


def test_an_unused_piece_is_split_back():
    tok = _model([("a", 0.0, NORMAL), ("b", 0.0, NORMAL), ("ab", -1.0, UNUSED), ("abb", -2.0, NORMAL)])
    assert tok.encode_pieces("ab") == ["a", "b"]
    assert tok.encode_pieces("abb") == ["abb"]
