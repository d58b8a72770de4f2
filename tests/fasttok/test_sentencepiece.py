"""SentencePiece models trained by sentencepiece itself: fasttok gives the same ids, pieces and text.

Each model is trained here, in memory, on text every machine has (tests/texts.py), so the suite needs
no model files. sentencepiece is the oracle: when it is missing the tests are skipped, and under CI
(where the interop extra installs it) they fail instead, as tests/conftest.py does for missing files.
"""
import io
import pickle

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import fasttok
from fasttok._protobuf import float_bits, read_message, write_message
from fasttok._reference.sentencepiece import normalize
from fasttok.errors import ModelFileError
from fasttok.sentencepiece import (BYTE, CONTROL, NORMAL, UNUSED, USER_DEFINED, SentencePieceModel,
                                   SentencePieceTokenizer, _split_charsmap, is_model_file, load_model,
                                   looks_like_model)
from tests.conftest import missing
from tests.fasttok.spm_models import BYTES, SPECIALS, build
from tests.texts import docs_lines, generated_text

try:
    import sentencepiece
except ImportError:  # the interop extra installs it; CI fails rather than skips (see the fixture)
    sentencepiece = None

# Lines the models learn from, and held-out lines they encode. The extra lines put accents, CJK,
# emoji and odd whitespace into training so that those characters get pieces of their own.
_LINES = [line for line in docs_lines() if line.strip()]
_EXTRA = ["café naïve façade déjà vu über straße", "東京 北京 你好世界 日本語のテキスト", "emoji 😀 👍🏽 🇫🇷 ok",
          "ｆｕｌｌ ｗｉｄｔｈ ① ② ﬁ ǅ", "tab\tand\u3000ideographic space\u00a0nbsp", "digits 12345 67890 3.14159"]
TRAIN = _LINES[:2500] + generated_text(20_000, seed=3).splitlines() + _EXTRA * 3
HELD_OUT = _LINES[2500:2800] + generated_text(5_000, seed=7).splitlines() + [
    "  leading and  trailing   spaces  ", "", " ", "\t", "a\tb\r\nc\n", "x" * 300, "⁇ <unk> <s> </s>",
    "<sep> foo bar ▁bar foo<sep>", "zero\u200bwidth and \u0301 combining", "\x00\x01\x1f controls \x7f\x85",
    "ＡＢＣ１２３ ｶﾀｶﾅ ㍻ ℌ", "İstanbul ǈ Σίσυφος ΣΑΣ", "\U0010ffff \ufffd \uffff"]

# Every option both model types take, crossed with the two types; then the two whitespace options,
# each with one byte-fallback setting per type.
_OPTIONS = {
    "": {},
    "-bytes": dict(byte_fallback=True),
    "-cf": dict(normalization_rule_name="nmt_nfkc_cf"),
    "-cf-bytes": dict(normalization_rule_name="nmt_nfkc_cf", byte_fallback=True),
    "-identity": dict(normalization_rule_name="identity"),
    "-identity-bytes": dict(normalization_rule_name="identity", byte_fallback=True),
    "-user": dict(split_digits=True, user_defined_symbols=["<sep>", "foo", "▁bar"]),
    "-suffix": dict(treat_whitespace_as_suffix=True, byte_fallback=True),
}
MATRIX = {f"{kind}{name}": dict(model_type=kind, **options)
          for kind in ("unigram", "bpe") for name, options in _OPTIONS.items()}
MATRIX.update({
    "unigram-no-prefix": dict(model_type="unigram", add_dummy_prefix=False),
    "unigram-keep-spaces": dict(model_type="unigram", remove_extra_whitespaces=False, byte_fallback=True),
    "bpe-no-prefix": dict(model_type="bpe", add_dummy_prefix=False, byte_fallback=True),
    "bpe-keep-spaces": dict(model_type="bpe", remove_extra_whitespaces=False),
})

# Text that stresses the normalizer and the unknown rules: accents and combining marks, CJK, emoji,
# fullwidth forms, ligatures, every kind of whitespace, control characters; never a surrogate.
_ODD = "\t\n\r \u3000\u00a0\u2002\u200b\u0000\u0001\u001f\u007f\u0085\u0301\u0308ﬁ①Ａｶ㍻ǅİß▁"
text_strategy = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("aeiou tnsr ETA.,!?'-0123456789") + list(_ODD)),
        st.sampled_from(list("éèçñüöåøœæ東京你好世界日本語😀👍🏽🇫🇷")),
        st.characters(exclude_categories=("Cs",))),
    max_size=60)


@pytest.fixture(scope="session")
def spm():
    if sentencepiece is None:
        missing("sentencepiece is not installed: pip install 'fasttok[interop]' (it is the oracle here)")
    return sentencepiece


_MODELS = {}


def train(spm, name):
    """The bytes of the `.model` that sentencepiece trains for MATRIX[name] (cached for the session)."""
    if name not in _MODELS:
        out = io.BytesIO()
        spm.SentencePieceTrainer.train(sentence_iterator=iter(TRAIN), model_writer=out, vocab_size=700,
                                       minloglevel=2, num_threads=1, **MATRIX[name])
        _MODELS[name] = out.getvalue()
    return _MODELS[name]


@pytest.fixture(scope="module", params=sorted(MATRIX))
def pair(request, spm):
    """(sentencepiece processor, our tokenizer) for one trained model."""
    data = train(spm, request.param)
    return spm.SentencePieceProcessor(model_proto=data), SentencePieceTokenizer.from_bytes(data)


def _agree(sp, tok, text):
    assert tok.encode(text) == sp.encode(text), text
    assert tok.encode_pieces(text) == sp.encode(text, out_type=str), text
    ids = sp.encode(text)
    assert tok.decode(ids) == sp.decode(ids), text


# -- agreement with sentencepiece ---------------------------------------------------------------------

def test_held_out_lines_agree(pair):
    sp, tok = pair
    for text in HELD_OUT:
        _agree(sp, tok, text)
    assert tok.encode_batch(HELD_OUT, num_threads=2) == sp.encode(HELD_OUT)


def test_unknown_runs_never_join_across_texts_of_a_batch(pair):
    """The unknown rule runs on the whole batch at once: runs must stop at text boundaries."""
    sp, tok = pair
    batch = ["東", "", "京x", "東京", "", "😀", "😀😀 ⿰", "x", "⿰⿱"] * 3
    assert tok.encode_batch(batch, num_threads=1) == sp.encode(batch)
    assert [tok.encode(t) for t in batch] == sp.encode(batch)


def test_training_lines_agree(pair):
    sp, tok = pair
    lines = TRAIN[::7]
    assert tok.encode_batch(lines) == sp.encode(lines)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=text_strategy)
def test_hypothesis_text_agrees(pair, text):
    _agree(*pair, text)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=text_strategy | st.binary(max_size=30).map(lambda b: b.decode("utf-8", "replace")))
def test_core_normalizer_agrees_with_its_twin_on_real_maps(pair, text):
    sp, tok = pair
    spec, trainer = tok.proto.normalizer_spec, tok.proto.trainer_spec
    units, replacements = _split_charsmap(spec["precompiled_charsmap"])
    raw = text.encode("utf-8")
    expected = normalize(raw, units=units.tolist(), replacements=replacements,
                         symbols={s.encode("utf-8") for s in trainer["user_defined_symbols"]},
                         add_dummy_prefix=spec["add_dummy_prefix"],
                         remove_extra_whitespaces=spec["remove_extra_whitespaces"],
                         escape_whitespaces=spec["escape_whitespaces"],
                         treat_whitespace_as_suffix=trainer["treat_whitespace_as_suffix"])
    assert tok.normalize(text) == expected.decode("utf-8") == sp.normalize(text)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_decode_of_any_ids_agrees(pair, data):
    """Any ids, byte pieces in any order (invalid UTF-8 too), control and unknown pieces included."""
    sp, tok = pair
    n = tok.vocab_size
    byte_ids = [i for i in range(n) if tok.proto.pieces[i].type == BYTE]
    id_strategy = st.integers(0, n - 1) | st.sampled_from(byte_ids or [0]) | st.sampled_from([0, 1, 2])
    ids = data.draw(st.lists(id_strategy, max_size=30))
    assert tok.decode(ids) == sp.decode(ids)


def test_vocabulary_agrees(pair):
    sp, tok = pair
    assert tok.vocab_size == sp.get_piece_size()
    for i in range(tok.vocab_size):
        assert tok.id_to_token(i) == sp.id_to_piece(i)
        assert tok.piece_to_id(sp.id_to_piece(i)) == sp.piece_to_id(sp.id_to_piece(i)) == i
    assert tok.piece_to_id("no such piece") == sp.piece_to_id("no such piece")


# -- files ------------------------------------------------------------------------------------------

def test_model_file_round_trips_byte_for_byte(pair, tmp_path, spm):
    sp, tok = pair
    path = tmp_path / "m.model"
    tok.save(path)
    assert path.read_bytes() == sp.serialized_model_proto()
    again = spm.SentencePieceProcessor(model_file=str(path))
    assert again.encode(HELD_OUT) == tok.encode_batch(HELD_OUT)
    assert load_model(path) == tok
    assert fasttok.load(path) == tok  # the one loader tells a .model file from the text formats
    tok.save(tmp_path / "again.model", format="sentencepiece")
    assert (tmp_path / "again.model").read_bytes() == path.read_bytes()


def test_a_changed_model_written_by_us_loads_in_sentencepiece(spm, tmp_path):
    """Writing is real, not a copy of the input: change scores and a piece, write, and sentencepiece
    reads exactly what we wrote."""
    tok = SentencePieceTokenizer.from_bytes(train(spm, "unigram"))
    model = tok.proto
    pieces = [p._replace(score=p.score * 0.5) if p.type == 1 else p for p in model.pieces]
    changed = SentencePieceModel(model._fields, pieces, model._piece_fields)
    ours = SentencePieceTokenizer(changed)
    sp = spm.SentencePieceProcessor(model_proto=ours.to_bytes())
    assert [sp.get_score(i) for i in range(sp.get_piece_size())] == [p.score for p in pieces]
    assert sp.encode(HELD_OUT) == ours.encode_batch(HELD_OUT)


def test_pickle_and_equality(pair):
    _, tok = pair
    again = pickle.loads(pickle.dumps(tok))
    assert again == tok and again.encode(HELD_OUT[0]) == tok.encode(HELD_OUT[0])


def test_sniffer(spm, tmp_path):
    assert looks_like_model(train(spm, "bpe")[:64])
    (tmp_path / "m.model").write_bytes(train(spm, "bpe"))
    (tmp_path / "v.txt").write_text("[PAD]\n[UNK]\n", encoding="utf-8")
    assert is_model_file(tmp_path / "m.model")
    assert not is_model_file(tmp_path / "v.txt") and not is_model_file(tmp_path / "missing")
    for head in (b"fasttok bpe 1\n{}", b'{"version": "1.0"}', b"[PAD]\n[UNK]\n", b"", b"\n", b"\n\n\n\n\nword\n"):
        assert not looks_like_model(head)


def test_save_refuses_other_formats(spm, tmp_path):
    tok = SentencePieceTokenizer.from_bytes(train(spm, "bpe"))
    with pytest.raises(ValueError, match="sentencepiece"):
        tok.save(tmp_path / "x", format="hf")


def test_truncated_model_is_an_error_or_the_same_prefix(spm):
    data = train(spm, "bpe-bytes")
    for cut in sorted({1, 2, 3, 10, 100, len(data) // 3, len(data) // 2, len(data) - 1000, len(data) - 1}):
        try:
            tok = SentencePieceTokenizer.from_bytes(data[:cut])
        except ModelFileError:
            continue
        assert tok.to_bytes() == data[:cut]   # a cut at a field boundary is a smaller, valid model


@settings(max_examples=40)
@given(data=st.data())
def test_mutated_model_is_an_error_or_a_model(data):
    """A byte changed anywhere: ModelFileError, or a model that encodes, decodes and writes itself back
    identically; never another exception or a crash."""
    _mutate_and_check(data, _mutation_base(), 3, "Hello wörld 東京 😀 12")


def _mutation_base():
    # A small model of our own making (no sentencepiece needed): 4 pieces and a normalizer spec.
    pieces = [(b"<unk>", 0.0, 2), (b"<s>", 0.0, 3), (b"\xe2\x96\x81H", -1.0, 1), (b"e", -2.0, 1)]
    fields = []
    for text, score, kind in pieces:
        sub = write_message([(1, 2, text), (2, 5, float_bits(score)), (3, 0, kind)])
        fields.append((1, 2, sub))
    fields.append((2, 2, write_message([(3, 0, 1), (4, 0, 4)])))
    fields.append((3, 2, write_message([(1, 2, b"identity"), (3, 0, 1)])))
    return write_message(fields)


def test_hostile_lengths_are_errors_not_allocations():
    huge = b"\x0a\xff\xff\xff\xff\x0f" + b"\x00" * 10       # a piece claiming 4 GiB
    with pytest.raises(ModelFileError, match="claims"):
        SentencePieceTokenizer.from_bytes(huge)
    with pytest.raises(ModelFileError, match="varint"):
        read_message(b"\x08" + b"\xff" * 11)
    with pytest.raises(ModelFileError, match="wire type"):
        read_message(b"\x0b")                                 # a group
    with pytest.raises(ModelFileError, match="no unknown piece"):
        SentencePieceTokenizer.from_bytes(write_message([(1, 2, write_message([(1, 2, b"a")]))]))


def test_control_pieces_in_text_are_plain_text(pair):
    sp, tok = pair
    text = "<s> hello </s>"
    assert tok.encode(text) == sp.encode(text)
    assert all(tok.proto.pieces[i].type != CONTROL for i in tok.encode(text))


@pytest.mark.parametrize("name", ["bpe", "unigram", "bpe-user"])
def test_unused_pieces_agree(spm, name):
    """Mark every fifth multi-character piece unused (BPE then splits it back, Unigram skips it)."""
    model = SentencePieceModel.from_bytes(train(spm, name))
    pieces = [p._replace(type=UNUSED) if p.type == NORMAL and len(p.piece) > 1 and k % 5 == 0 else p
              for k, p in enumerate(model.pieces)]
    data = SentencePieceModel(model._fields, pieces, model._piece_fields).to_bytes()
    sp, tok = spm.SentencePieceProcessor(model_proto=data), SentencePieceTokenizer.from_bytes(data)
    for text in HELD_OUT + TRAIN[::50]:
        _agree(sp, tok, text)


@settings(max_examples=25)
@given(data=st.data())
def test_mutated_trained_model_is_an_error_or_a_model(spm, data):
    """The same on a real model, whose bytes are mostly the nmt_nfkc character map: a damaged map
    must not make the core read out of bounds (sentencepiece itself is not run on these)."""
    _mutate_and_check(data, train(spm, "unigram-user"), 4, "Hello ｗörld 東京 😀 12 <sep> ﬁ\t\u3000")


def _mutate_and_check(data, model_bytes, max_changes, text):
    """Change 1..max_changes bytes of a model: loading gives ModelFileError, or a model that encodes
    `text`, decodes and writes itself back identically."""
    raw = bytearray(model_bytes)
    for _ in range(data.draw(st.integers(1, max_changes))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    try:
        tok = SentencePieceTokenizer.from_bytes(bytes(raw))
    except ModelFileError:
        return
    tok.decode(tok.encode(text))
    assert SentencePieceTokenizer.from_bytes(tok.to_bytes()).to_bytes() == tok.to_bytes()


def test_custom_rules_and_a_denormalizer_agree(spm, tmp_path):
    """A user rule set (multi-character keys, a deletion) as the normalizer, another as the denormalizer."""
    rules = tmp_path / "rules.tsv"     # code points in hex: source TAB target (empty target: delete)
    rules.write_text("E9\t65\n61 62\t58\n2D 2D\t2014\n7E\t\n3000\t20\n", encoding="utf-8")
    back = tmp_path / "back.tsv"
    back.write_text("58\t61 62\n41\t61\n", encoding="utf-8")
    out = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(TRAIN), model_writer=out, vocab_size=700, minloglevel=2,
                                   num_threads=1, normalization_rule_tsv=str(rules),
                                   denormalization_rule_tsv=str(back), byte_fallback=True)
    sp, tok = spm.SentencePieceProcessor(model_proto=out.getvalue()), SentencePieceTokenizer.from_bytes(out.getvalue())
    assert tok.proto.denormalizer_spec is not None
    assert tok.normalize("ab é~\u3000--") == "▁X▁e▁—"
    for text in HELD_OUT + ["abé -- ~tilde~ ABBA About", "A cat ab ab"]:
        _agree(sp, tok, text)


_FUZZ_CHARS = ["a", "b", "é", "東", "▁", " ", "😀", "x"]
_fuzz_piece = st.lists(st.sampled_from(_FUZZ_CHARS), min_size=1, max_size=4).map("".join)


@settings(deadline=None)
@given(vocab=st.dictionaries(_fuzz_piece, st.tuples(
           st.sampled_from([0.0, -1.0, -2.0, -1.5, -0.25, -3.0]),
           st.sampled_from([NORMAL] * 8 + [USER_DEFINED, UNUSED, CONTROL])), max_size=25),
       texts=st.lists(st.lists(st.sampled_from(_FUZZ_CHARS + ["z", "  ", "\t", "<s>"]), max_size=30).map("".join),
                      min_size=1, max_size=5),
       flags=st.fixed_dictionaries({"model_type": st.sampled_from([1, 2]), "byte_fallback": st.booleans(),
                                    "add_dummy_prefix": st.booleans(), "remove_extra_whitespaces": st.booleans(),
                                    "escape_whitespaces": st.booleans(), "treat_whitespace_as_suffix": st.booleans()}))
def test_random_hand_built_models_agree(spm, vocab, texts, flags):
    """Models no trainer would make (equal scores, unused and control pieces anywhere, every flag):
    sentencepiece and fasttok load the same ones and agree on everything they encode and decode."""
    pieces = SPECIALS + [(p, s, k) for p, (s, k) in vocab.items() if p not in ("<unk>", "<s>", "</s>")]
    if flags["byte_fallback"]:
        pieces += BYTES
    data = build(pieces, **flags)
    try:
        sp = spm.SentencePieceProcessor(model_proto=data)
    except RuntimeError:
        with pytest.raises(ModelFileError):
            SentencePieceTokenizer.from_bytes(data)
        return
    tok = SentencePieceTokenizer.from_bytes(data)
    for text in texts:
        _agree(sp, tok, text)
