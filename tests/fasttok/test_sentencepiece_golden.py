"""Hand-built `.model` files with hand-worked answers: the rules pinned without sentencepiece installed.

Each expectation was also checked once against sentencepiece 0.2.3 (the agreement tests in
test_sentencepiece.py do that on trained models in CI).
"""
import pytest

from fasttok._protobuf import write_message
from fasttok.errors import ModelFileError
from fasttok.sentencepiece import CONTROL, NORMAL, UNUSED, USER_DEFINED, SentencePieceTokenizer, decode_utf8_bytes
from tests.fasttok.spm_models import BYTES, SPECIALS, build


UNIGRAM = SPECIALS + [("▁", -2.0, NORMAL), ("a", -3.0, NORMAL), ("b", -3.0, NORMAL), ("ab", -4.0, NORMAL),
                      ("▁ab", -4.5, NORMAL), ("ba", -5.0, UNUSED), ("<sep>", 0.0, USER_DEFINED)]


def test_unigram_viterbi_unknowns_and_user_symbols():
    tok = SentencePieceTokenizer.from_bytes(build(UNIGRAM))
    assert tok.encode_pieces("ab  ab") == ["▁ab", "▁ab"]        # spaces collapse, ▁ab beats ▁ + ab
    assert tok.encode_pieces("ba") == ["▁", "b", "a"]           # ba is unused: never a candidate
    assert tok.encode_pieces("ab<sep>zzq b") == ["▁ab", "<sep>", "zzq", "▁", "b"]   # one merged unknown
    assert tok.encode("ab<sep>zzq b") == [7, 9, 0, 3, 5]
    assert tok.decode([7, 9, 0, 3, 5, 1, 2]) == "ab<sep> ⁇  b"


def test_unigram_byte_fallback_and_decoding_bytes():
    tok = SentencePieceTokenizer.from_bytes(build(UNIGRAM + BYTES, byte_fallback=True))
    assert tok.encode_pieces("aé") == ["▁", "a", "<0xC3>", "<0xA9>"]
    ids = tok.encode("aé")
    assert tok.decode(ids) == "aé"
    byte = {b: tok.token_to_id(f"<0x{b:02X}>") for b in range(256)}
    assert tok.decode([byte[0xE6], byte[0x9D], byte[0x41]]) == "\ufffd\ufffdA"   # one U+FFFD per bad byte
    assert decode_utf8_bytes(b"\xe6\x9d\xb1\xe6") == "東\ufffd"


def test_bpe_merges_by_score_leftmost_first_and_resplits_unused():
    pieces = SPECIALS + [("▁", 0.0, NORMAL), ("a", 0.0, NORMAL), ("b", 0.0, NORMAL), ("aa", -1.0, NORMAL),
                         ("ab", -1.0, UNUSED), ("▁a", -2.0, NORMAL), ("aab", -3.0, NORMAL)]
    tok = SentencePieceTokenizer.from_bytes(build(pieces, model_type=2))
    # ▁aaa: aa (-1) beats ▁a (-2); of the two aa pairs the leftmost merges; ▁aa and aaa are no pieces
    assert tok.encode_pieces("aaa") == ["▁", "aa", "a"]
    # ▁ab: ab (-1) merges before ▁a (-2) could; ▁ab is no piece; ab is unused, so it is split back
    assert tok.encode_pieces("ab") == ["▁", "a", "b"]
    # ▁aab: aa and ab tie at -1, the leftmost (aa) merges; then aa + b makes aab
    assert tok.encode_pieces("aab") == ["▁", "aab"]
    # ▁aaab: aa, then ab; aa + ab is no piece; the unused ab is split back
    assert tok.encode_pieces("aaab") == ["▁", "aa", "a", "b"]


def test_a_character_that_is_only_a_control_piece_is_unknown():
    """Measured on sentencepiece 0.2.3, for both model types: "q" is a control piece, and encoding
    the character q gives the unknown id (piece_to_id("q") still finds the control piece)."""
    pieces = SPECIALS + [("▁", 0.0, NORMAL), ("a", 0.0, NORMAL), ("q", 0.0, CONTROL)]
    for model_type in (1, 2):
        tok = SentencePieceTokenizer.from_bytes(build(pieces, model_type=model_type))
        assert tok.encode("aq") == [3, 4, 0] and tok.encode_pieces("aq") == ["▁", "a", "q"]
        assert tok.piece_to_id("q") == 5


def test_an_unused_piece_left_as_a_symbol_is_unknown():
    """Measured on sentencepiece 0.2.3: in a BPE model an unused piece that no merge made (here a single
    character) comes out as the unknown id, and joins a run of unknowns."""
    pieces = SPECIALS + [("a", 0.0, UNUSED), ("b", 0.0, NORMAL), ("ab", -1.0, UNUSED), ("abb", -1.0, NORMAL)]
    tok = SentencePieceTokenizer.from_bytes(build(pieces, model_type=2, add_dummy_prefix=False))
    assert [tok.encode(t) for t in ("a", "ab", "abb", "ba", "az")] == [[0], [0, 4], [6], [4, 0], [0]]


def test_leading_space_rules_in_decode():
    keep = SentencePieceTokenizer.from_bytes(build(UNIGRAM, add_dummy_prefix=False, remove_extra_whitespaces=False))
    assert keep.decode(keep.encode(" ab")) == " ab"
    plain = SentencePieceTokenizer.from_bytes(build(UNIGRAM))
    assert plain.decode([3, 3, 7]) == "ab"               # with remove_extra_whitespaces every leading ▁ goes


def test_loading_checks_what_sentencepiece_checks():
    with pytest.raises(ModelFileError, match="defined twice"):
        SentencePieceTokenizer.from_bytes(build(SPECIALS + [("a", 0.0, NORMAL), ("a", 0.0, USER_DEFINED)]))
    with pytest.raises(ModelFileError, match="without byte_fallback"):
        SentencePieceTokenizer.from_bytes(build(SPECIALS + BYTES))
    with pytest.raises(ModelFileError, match="255 of the 256"):
        SentencePieceTokenizer.from_bytes(build(SPECIALS + BYTES[:-1], byte_fallback=True))
    twice = SPECIALS + [("a", 0.0, NORMAL), ("a", 0.0, CONTROL)]
    SentencePieceTokenizer.from_bytes(build(twice, model_type=1))      # a Unigram model may do this
    with pytest.raises(ModelFileError, match="defined twice"):
        SentencePieceTokenizer.from_bytes(build(twice, model_type=2))  # a BPE model may not
    with pytest.raises(ModelFileError, match="not supported"):
        SentencePieceTokenizer.from_bytes(build(SPECIALS, model_type=4))


def test_deep_nesting_costs_no_recursion():
    """Unknown fields are kept as bytes, never parsed, so nesting depth cannot exhaust the stack."""
    deep = b"x"
    for _ in range(5000):
        deep = write_message([(7, 2, deep)])
    data = build(SPECIALS + [("a", -1.0, NORMAL)]) + write_message([(200, 2, deep)])
    tok = SentencePieceTokenizer.from_bytes(data)
    assert tok.to_bytes() == data and tok.encode_pieces("a") == ["▁", "a"]


def test_the_common_verbs():
    tok = SentencePieceTokenizer.from_bytes(build(UNIGRAM))
    assert tok.vocab_size == len(UNIGRAM) and tok.id_to_token(7) == "▁ab" and tok.token_to_id("▁ab") == 7
    assert tok.encode_batch(["ab", "", "b"]) == [[7], [], [3, 5]] == [tok.encode(t) for t in ["ab", "", "b"]]
    assert tok.encode("<s>ab") == tok.encode("<s>ab", allowed_special="all")   # control pieces are text
    with pytest.raises(ValueError, match="not special tokens"):
        tok.encode("ab", allowed_special={"<s>"})
    with pytest.raises(TypeError):
        tok.encode_batch("ab")
