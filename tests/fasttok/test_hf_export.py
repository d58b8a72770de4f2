"""tokenizer.json files we write give, in HF tokenizers itself, the ids and the text fasttok gives.

Oracle: `tokenizers.Tokenizer.from_file` on the exported file. Texts: digit runs (where HF's
Oniguruma once read GPT-4's `\\p{N}{1,3}+` as `(\\p{N}{1,3})+`), mixed scripts, the Python docs
(`pydoc_data.topics`) and hypothesis text. Hypothesis draws only code points that Python's
unicodedata (Unicode 14) assigns: newer ones are classed differently by HF's newer tables.
"""
import json
import random

import pytest
from hypothesis import given, strategies as st
from pydoc_data.topics import topics

import fasttok

tokenizers = pytest.importorskip("tokenizers")

PATTERNS = ["gpt2", "gpt4", "whitespace"]
DIGITS = "0x0010 12345678 1 22 333 4444"
MIXED = ["x²³ a\u200db ¼½ Ⓐ", "Größe 日本語テキスト 한국어 русский العربية ١٢٣٤٥ हिन्दी",
         "it's IT'S 'ſ don't\r\n\n\t  tabs \u00a0nbsp\u2028", "e\u0301 ﬁ 🎉👍🏽 $12.50, 3.14159!", "   ", ""]
DOCS = [line for text in list(topics.values())[:12] for line in text.splitlines()[:40]]
TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cn")), max_size=80)


def _corpus():
    rng = random.Random(10)
    numbers = " ".join(str(rng.randrange(10 ** rng.randrange(1, 9))) for _ in range(3000))
    hexes = " ".join(f"0x{rng.randrange(1 << 16):04x}" for _ in range(1000))
    return "".join(list(topics.values())[12:60]) + numbers + hexes + " ".join(MIXED * 20)


@pytest.fixture(scope="module")
def corpus():
    return _corpus()


@pytest.fixture(scope="module", params=PATTERNS)
def exported(request, corpus, tmp_path_factory):
    tok = fasttok.train_bpe(corpus, vocab_size=800, pattern=request.param, special_tokens=["<|endoftext|>"])
    path = tmp_path_factory.mktemp(request.param) / "tokenizer.json"
    tok.save(path, format="hf")
    return tok, path, tokenizers.Tokenizer.from_file(str(path))


def _hf_ids(hf, texts):
    return [e.ids for e in hf.encode_batch(texts, add_special_tokens=False)]


def test_digit_runs_give_identical_pieces_and_ids(exported):
    tok, _, hf = exported
    # The pieces, mapped to GPT-2's byte alphabet as HF's ByteLevel shows them, are the real check:
    # a small vocabulary can give equal ids from different pieces.
    ours = [fasttok.bpe.bytes_to_token(p.encode()) for p in fasttok.pretokenize.split(DIGITS, tok.pattern)]
    assert ours == [p for p, _ in hf.pre_tokenizer.pre_tokenize_str(DIGITS)]
    assert tok.encode(DIGITS) == hf.encode(DIGITS, add_special_tokens=False).ids
    assert tok.encode("12345678") != [] and len(tok.encode("4444")) >= (2 if tok.pattern == "gpt4" else 1)


def test_mixed_scripts_and_docs_give_identical_ids_and_text(exported):
    tok, _, hf = exported
    texts = MIXED + DOCS + [DIGITS + "<|endoftext|>" + MIXED[0]]
    ours = tok.encode_batch(texts, allowed_special="all")
    assert ours == _hf_ids(hf, texts)
    assert [tok.decode(ids) for ids in ours] == hf.decode_batch(ours, skip_special_tokens=False)


@given(text=TEXT)
def test_any_text_gives_identical_ids(exported, text):
    tok, _, hf = exported
    ids = tok.encode(text, allowed_special="all")  # HF always matches added tokens in text
    assert ids == hf.encode(text, add_special_tokens=False).ids
    assert tok.decode(ids) == hf.decode(ids, skip_special_tokens=False)


def test_the_file_reads_back_as_the_same_tokenizer(exported):
    tok, path, _ = exported
    again = fasttok.load(path)
    # Everything but `info` (training statistics, which tokenizer.json has no place for).
    assert again.to_native()[1] == tok.to_native()[1]
    assert (again.pattern, again.special_tokens, again.byte_level) == (tok.pattern, tok.special_tokens, True)


def test_whitespace_is_hf_whitespace_pre_tokenizer(exported):
    # HF's Whitespace is `\w+|[^\w\s]+` in Rust's regex crate, whose \w is the regex module's (UTS #18);
    # Oniguruma's \w would cut "a\u200db" and glue "x²³".
    tok, path, hf = exported
    if tok.pattern == "whitespace":
        pre = json.loads(path.read_text(encoding="utf-8"))["pre_tokenizer"]
        assert pre["pretokenizers"][0] == {"type": "Whitespace"}
        assert [p for p, _ in hf.pre_tokenizer.pre_tokenize_str("x²³ a\u200db")] == ["x", "Â²Â³", "aâĢįb"]


def test_custom_pattern_exports_with_its_meaning(corpus, tmp_path):
    # \w, \b, a possessive interval and $ all read differently in Oniguruma unless rewritten.
    pattern = r"\b\w{1,4}+|\d|[^\w\s]+$|\s+|."
    tok = fasttok.train_bpe(corpus[:100_000], vocab_size=400, pattern=pattern)
    tok.save(tmp_path / "t.json", format="hf")
    hf = tokenizers.Tokenizer.from_file(str(tmp_path / "t.json"))
    texts = MIXED + [DIGITS, "abcdefghij x²³ a\u200db!!\n..."]
    assert tok.encode_batch(texts) == _hf_ids(hf, texts)
    # A custom Split regex from a file runs only when the caller trusts the file (README, "Split patterns").
    assert fasttok.load(tmp_path / "t.json", trust_pattern=True).encode_batch(texts) == tok.encode_batch(texts)


def test_a_split_regex_is_read_as_hf_means_it(corpus, tmp_path):
    # A tokenizer.json written before this fix held GPT-4's pattern verbatim; HF reads its
    # \p{N}{1,3}+ as (\p{N}{1,3})+, and so must we, or the same file gives other ids.
    tok = fasttok.train_bpe(corpus[:100_000], vocab_size=400, pattern="gpt4")
    data = tok.to_hf_json()
    data["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = fasttok.pretokenize.GPT4_PATTERN
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    hf = tokenizers.Tokenizer.from_file(str(path))
    texts = [DIGITS] + MIXED
    with pytest.raises(fasttok.ModelFileError, match="trust_pattern=True"):
        fasttok.load(path)  # read as HF means it, this is not GPT-4's pattern but a custom regex
    ours = fasttok.load(path, trust_pattern=True)
    assert ours.pattern != "gpt4"
    assert ours.encode_batch(texts) == _hf_ids(hf, texts)


# -- character-level BPE: the decoder --------------------------------------------------------------

MARKERS = [{}, {"continuing_subword_prefix": "##"}, {"end_of_word_suffix": "</w>"},
           {"continuing_subword_prefix": "##", "end_of_word_suffix": "</w>"}]


@pytest.mark.parametrize("pattern", ["whitespace", "gpt2"])
@pytest.mark.parametrize("markers", MARKERS, ids=lambda m: "+".join(m) or "plain")
def test_character_level_decode_matches_hf(tmp_path, corpus, pattern, markers):
    tok = fasttok.train_bpe(corpus[:60_000] + " Le modèle", vocab_size=300, pattern=pattern, byte_level=False,
                            unk_token="[UNK]", **markers)
    tok.save(tmp_path / "t.json", format="hf")
    hf = tokenizers.Tokenizer.from_file(str(tmp_path / "t.json"))
    texts = ["Le modèle", "Le modèle  works.  ", "a", "日本 ok", "x  ", " trailing space ", "a  \nb  "] + DOCS[:50]
    ours = tok.encode_batch(texts)
    assert ours == _hf_ids(hf, texts)
    # Decoding is compared on ids without special tokens ([UNK] included): fasttok's decode puts a
    # special token between separately decoded runs, while HF passes it through the decoder chain.
    unk = tok.special_tokens["[UNK]"]
    plain = [ids for ids in ours if unk not in ids]
    assert len(plain) > 40
    assert [tok.decode(ids) for ids in plain] == hf.decode_batch(plain, skip_special_tokens=False)
    assert hf.decode([]) == tok.decode([]) == ""
    if not markers and pattern == "gpt2":  # with no decoder HF joined tokens with spaces: "L e  m od è le"
        assert hf.decode(tok.encode("Le modèle")) == "Le modèle"
