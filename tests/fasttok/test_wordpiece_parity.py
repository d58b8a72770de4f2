"""Parity with Hugging Face `tokenizers` on the BERT uncased vocabulary, and HF loading what we export."""
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

import fasttok
import fasttok.wordpiece
from fasttok.wordpiece import load_bert_vocab, train_wordpiece
from tests.texts import docs_lines, docs_text, stdlib_text

tokenizers = pytest.importorskip("tokenizers")  # installed in CI by the interop extra

GOLDEN = Path(__file__).parent / "golden"
# Where HF's (older) Unicode tables and Python's disagree; see the file's header.
UNICODE_DIFFS = {int(line.split()[0], 16) for line in (GOLDEN / "wordpiece_hf_unicode_diffs.txt").read_text().splitlines()
                 if line and not line.startswith("#")}


@pytest.fixture(scope="module")
def bert_dir(refs):
    """The published BERT uncased files (vocab.txt and HF's tokenizer.json), through the refs fixture."""
    refs("bert-uncased", "vocab.txt")
    return refs("bert-uncased", "tokenizer.json").parent


@pytest.fixture(scope="module")
def bert(bert_dir):
    return load_bert_vocab(bert_dir / "vocab.txt")


@pytest.fixture(scope="module")
def hf(bert_dir):
    tok = tokenizers.Tokenizer.from_file(str(bert_dir / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    return tok


def hf_ids(hf, texts):
    return [e.ids for e in hf.encode_batch(texts, add_special_tokens=False)]


def test_standard_library_source_parity(bert, hf):
    text = stdlib_text(1_000_000)
    lines = text.split("\n")
    assert bert.encode_batch(lines) == hf_ids(hf, lines)
    assert bert.encode(text) == hf.encode(text, add_special_tokens=False).ids


def test_python_docs_parity(bert, hf):
    from pydoc_data.topics import topics
    docs = list(topics.values())
    assert bert.encode_batch(docs) == hf_ids(hf, docs)


def test_every_bmp_character_in_context(bert, hf):
    # each code point between letters and doubled, so cleaning, CJK spacing, accents, casing and
    # punctuation rules are all visible in the ids; the known Unicode-version differences are skipped
    cps = [c for c in range(0x10000) if not 0xD800 <= c < 0xE000 and c not in UNICODE_DIFFS]
    cps += [0x2B81F, 0x2B820, 0x2B91F, 0x2B920, 0x2CEAF, 0x2CEB0, 0x1F642, 0xE0001, 0x10FFFF]
    cps += [c for c in range(0x2F800, 0x2FA20) if c not in UNICODE_DIFFS]  # CJK compatibility (NFD)
    texts = ["ab" + chr(c) + "Cd" + chr(c) for c in cps]
    ours, theirs = bert.encode_batch(texts), hf_ids(hf, texts)
    assert [hex(c) for c, a, b in zip(cps, ours, theirs) if a != b] == []


def test_known_unicode_differences_are_real(bert, hf):
    # the skip list is not a blanket excuse: each entry does differ
    texts = ["ab" + chr(c) + "Cd" + chr(c) for c in sorted(UNICODE_DIFFS)]
    assert all(a != b for a, b in zip(bert.encode_batch(texts), hf_ids(hf, texts)))


odd_text = st.lists(st.one_of(
    st.sampled_from(list("aAzZ09 .,;:!?'\"()[]{}$+-_/\\@#%^&*~`|<>=") +
                    list("\t\n\r\x00\x01\x0b\x0c\x1c\x1f\x7f\x85\xa0\u1680\u2000\u200a\u200b\u2028\u2029\u202f"
                         "\u205f\u3000\ufeff\ufffd") +
                    list("éÉüÜñÑçÇßøÅåæİıΣσςῺ́̈ﬁﬂ") + list("中文字漢日本語한국어カタカナひらがな") +
                    ["[CLS]", "[SEP]", "[MASK]", "[UNK]", "[PAD]", "[cls]", "##", "\U0002B81F", "\U0002B820"]),
    st.characters(blacklist_categories=("Cs",)).filter(lambda ch: ord(ch) not in UNICODE_DIFFS)),
    max_size=60).map("".join)


@given(st.lists(odd_text, min_size=1, max_size=8))
@settings(max_examples=120)
def test_hypothesis_text_parity(bert, hf, texts):
    # typed special tokens are matched as special tokens on both sides
    assert bert.encode_batch(texts) == hf_ids(hf, texts)


def test_decode_matches_hf(bert, hf):
    for text in ["Hello, world! It's a don't-stop test; unaffable résumé 中文.", "[CLS] two [SEP] parts [SEP]"]:
        ids = bert.encode(text)
        assert bert.decode(ids) == hf.decode(ids, skip_special_tokens=False)


def test_load_hf_tokenizer_json(bert, bert_dir):
    loaded = fasttok.load(bert_dir / "tokenizer.json")
    assert loaded == bert


@pytest.fixture(scope="module")
def trained():
    text = docs_text()[:300_000]
    return train_wordpiece([text], vocab_size=3000, score="likelihood")


def test_trained_vocab_txt_loads_in_bert_wordpiece_tokenizer(trained, tmp_path):
    from tokenizers import BertWordPieceTokenizer
    trained.save(tmp_path / "vocab.txt", format="vocab.txt")
    theirs = BertWordPieceTokenizer(str(tmp_path / "vocab.txt"), lowercase=True)
    lines = docs_lines()[-3000:] + ["Ünïcödé ÇAFÉ 中文 [SEP] x"]
    assert trained.encode_batch(lines) == [e.ids for e in theirs.encode_batch(lines, add_special_tokens=False)]


def test_trained_hf_json_loads_in_tokenizers(trained, tmp_path):
    trained.save(tmp_path / "tokenizer.json", format="hf")
    theirs = tokenizers.Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    lines = docs_lines()[-3000:] + ["[CLS] Ünïcödé [MASK] 中文"]
    assert trained.encode_batch(lines) == hf_ids(theirs, lines)


@pytest.mark.parametrize("lowercase, strip_accents", [(False, None), (False, True), (True, False)])
def test_normalizer_settings_parity(bert_dir, lowercase, strip_accents):
    import json
    data = json.loads((bert_dir / "tokenizer.json").read_text(encoding="utf-8"))
    data.update(truncation=None, padding=None)
    data["normalizer"].update(lowercase=lowercase, strip_accents=strip_accents)
    theirs = tokenizers.Tokenizer.from_str(json.dumps(data))
    ours = fasttok.wordpiece.WordPieceTokenizer.from_hf_json(data)
    assert (ours.lowercase, ours.strip_accents) == (lowercase, strip_accents)
    cps = [c for c in range(0x80, 0x3000) if not 0xD800 <= c < 0xE000 and c not in UNICODE_DIFFS]
    texts = ["Ab" + chr(c) + "Cd" + chr(c) + "É" for c in cps] + docs_lines()[:2000]
    assert ours.encode_batch(texts) == hf_ids(theirs, texts)
