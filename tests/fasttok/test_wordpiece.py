"""WordPiece: the Cython core against the slow reference, the stale-score proof, golden vocabularies,
the BERT normaliser and pre-tokenizer, file formats and bad input."""
import math
import os
import pickle
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

import fasttok
from fasttok import _format, _wordpiece, normalize
from fasttok._reference import wordpiece as reference
from fasttok.errors import CorpusError, ModelFileError, UnknownTokenError
from fasttok.pretokenize import bert_pre_tokenize
from fasttok.tokenizer import TrainingWarning
from fasttok.wordpiece import WordPieceTokenizer, _prepare, count_bert_words, load_bert_vocab, train_wordpiece
from tests.texts import docs_text

GOLDEN = Path(__file__).parent / "golden"
SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def core_train(word_counts, *, n_new, score, min_frequency=1, max_token_length=None):
    counter = _wordpiece.WordCounter()
    for word, count in word_counts.items():
        counter.add_word(word, count)
    trainer = _wordpiece.WordPieceTrainer(counter, score_mode=_wordpiece.SCORE_MODES[score],
                                          min_frequency=min_frequency, max_token_length=max_token_length or 0)
    trainer.merge(n_new)
    return trainer


# -- training: core == reference -------------------------------------------------------------------

word_counts = st.dictionaries(st.text(alphabet="abcd", min_size=1, max_size=8), st.integers(1, 6),
                              min_size=1, max_size=10)


@given(word_counts, st.sampled_from(["pmi", "likelihood"]), st.integers(1, 3),
       st.sampled_from([None, 2, 3]), st.integers(1, 25))
@settings(max_examples=150)
def test_core_trainer_matches_reference(counts, score, min_frequency, max_token_length, n_new):
    trainer = core_train(counts, n_new=n_new, score=score, min_frequency=min_frequency,
                         max_token_length=max_token_length)
    vocab, merges = reference.learn_merges(counts, n_new=n_new, score=score, min_frequency=min_frequency,
                                    max_token_length=max_token_length)
    assert trainer.vocab_units() == vocab
    assert trainer.merges_made() == merges
    assert trainer.stats()["n_rises"] == 0


@given(st.dictionaries(st.text(alphabet="aé中", min_size=1, max_size=12), st.integers(1, 1000), min_size=1, max_size=6),
       st.sampled_from(["pmi", "likelihood"]))
@settings(max_examples=40)
def test_core_trainer_matches_reference_long_runs_and_big_counts(counts, score):
    # long runs of one character exercise the k // 2 pair-count rule; big counts the float scores
    trainer = core_train(counts, n_new=40, score=score)
    vocab, merges = reference.learn_merges(counts, n_new=40, score=score)
    assert (trainer.vocab_units(), trainer.merges_made()) == (vocab, merges)


# -- the stale-score proof ---------------------------------------------------------------------------

@given(st.integers(1, 10**6), st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 10**6),
       st.integers(1, 10**6), st.integers(1, 10**6), st.booleans())
def test_likelihood_score_only_falls_as_the_unit_total_falls(m, extra_a, extra_b, ct, n_rest, drop, same):
    # A pair whose own counts did not change sees N fall with every merge: its score must not rise,
    # so an entry pushed earlier is an upper bound and refreshing it on pop keeps the argmax exact.
    ca, cb = m * (2 if same else 1) + extra_a, m + extra_b
    n_after = ca + (0 if same else cb) + ct + n_rest
    before = reference.score_pair("likelihood", m, ca, cb, ct, n_after + drop, same)
    after = reference.score_pair("likelihood", m, ca, cb, ct, n_after, same)
    assert after <= before
    # and the pmi score does not depend on N at all
    assert reference.score_pair("pmi", m, ca, cb, ct, n_after, same) == reference.score_pair("pmi", m, ca, cb, ct, n_after + drop, same)


@given(st.integers(1, 10**7), st.integers(0, 10**7))
def test_gain_is_x_log_x_difference(d, extra):
    c = d + extra
    f = lambda x: x * math.log(x) if x else 0.0  # noqa: E731
    assert reference.gain(float(c), float(d)) == pytest.approx(f(c) - f(c - d), rel=1e-9, abs=1e-6)


def test_lazy_refresh_is_exercised_and_never_sees_a_rise():
    counter = count_bert_words([docs_text()[:200_000]])
    trainer = _wordpiece.WordPieceTrainer(counter, score_mode=_wordpiece.SCORE_MODES["likelihood"],
                                          min_frequency=2, max_token_length=0)
    trainer.merge(1500)
    stats = trainer.stats()
    assert stats["n_refreshed"] > 0  # stale (too high) scores were met and refreshed...
    assert stats["n_rises"] == 0     # ...and no stored score was ever below the true one


# -- tie rule and golden vocabularies ------------------------------------------------------------------

def test_tie_rule_score_then_count_then_smaller_pair():
    # pmi 1/(1*1) for (x, ##y) and (z, ##w): equal score and count, the smaller ids win
    assert core_train({"zw": 1, "xy": 1}, n_new=1, score="pmi").merges_made()[0][:2] == (0, 3)
    # pmi of (d, ##b) = 2 / (5 * 2) and of (d, ##c) = 3 / (5 * 3) are the same float 0.2: the
    # higher count wins although (d, ##b) is the smaller pair
    trainer = core_train({"db": 2, "dc": 3}, n_new=1, score="pmi")
    units = trainer.vocab_units()
    assert units == [("d", False), ("b", True), ("c", True), ("dc", False)]
    assert trainer.merges_made() == [(0, 2, 3)]


GOLDEN_CORPUS = ["low lower lowest newer wider new news", "The cat sat on the mat; the rat sat flat.",
                 "abracadabra abracadabra cadabra", "Ünïcödé café naïve façade"]


@pytest.mark.parametrize("score", ["pmi", "likelihood"])
def test_golden_vocabulary(score, tmp_path):
    tok = train_wordpiece(GOLDEN_CORPUS * 3, vocab_size=75, score=score, min_frequency=2)
    golden = GOLDEN / f"wordpiece_{score}_75.txt"
    tok.save(tmp_path / "out.txt")
    if os.environ.get("FASTTOK_UPDATE_GOLDEN"):
        golden.write_text((tmp_path / "out.txt").read_text(encoding="utf-8"), encoding="utf-8")
    assert (tmp_path / "out.txt").read_text(encoding="utf-8") == golden.read_text(encoding="utf-8")
    # the golden file is itself checked against the reference trainer
    counts = Counter(w for text in GOLDEN_CORPUS * 3 for w in bert_pre_tokenize(normalize.bert_normalize(text)))
    vocab, _ = reference.learn_merges(counts, n_new=75, score=score, min_frequency=2)
    tokens = list(SPECIALS) + [("##" + t if cont else t) for t, cont in vocab]
    assert tok._id_to_token == tokens[:75]


def test_scores_give_different_vocabularies():
    pmi = train_wordpiece(GOLDEN_CORPUS * 3, vocab_size=75, score="pmi", min_frequency=2)
    likelihood = train_wordpiece(GOLDEN_CORPUS * 3, vocab_size=75, score="likelihood", min_frequency=2)
    assert pmi._id_to_token != likelihood._id_to_token


# -- encoder: core == reference, linear time ----------------------------------------------------------

vocab_strategy = st.lists(st.text(alphabet="abc", min_size=1, max_size=4).flatmap(
    lambda t: st.sampled_from([t, "##" + t])), min_size=1, max_size=25, unique=True)


@given(vocab_strategy, st.lists(st.text(alphabet="abcd", min_size=1, max_size=14), min_size=1, max_size=8),
       st.sampled_from([100, 5]))
@settings(max_examples=200)
def test_core_encoder_matches_reference(vocab, words, max_chars):
    vocab = ["[UNK]"] + vocab
    tok = WordPieceTokenizer(vocab, special_tokens=["[UNK]"], max_input_chars_per_word=max_chars)
    ids = {t: i for i, t in enumerate(vocab)}
    for word in words:
        assert tok._core.encode_word_py(word) == reference.encode_word(word, ids, unk_id=0, max_chars=max_chars)


def test_encoder_without_prefix_and_with_a_long_prefix():
    for prefix in ("", "@@"):
        vocab = list(dict.fromkeys(["[UNK]", "a", "b", "ab", prefix + "b", prefix + "ba", "bab"]))
        tok = WordPieceTokenizer(vocab, special_tokens=["[UNK]"], continuing_subword_prefix=prefix)
        ids = {t: i for i, t in enumerate(vocab)}
        for word in ["ab", "abab", "bab", "babab", "aab", "ba"]:
            assert tok._core.encode_word_py(word) == reference.encode_word(
                word, ids, unk_id=0, continuing_subword_prefix=prefix)


def test_long_word_correct_at_scale():
    # correctness of the linear-time walk on long inputs (its speed is in benchmarks/bench_wordpiece.py)
    vocab = ["[UNK]", "a", "##a", "aa", "##aa", "##aaa", "aaab", "##b"]
    ids = {t: i for i, t in enumerate(vocab)}
    tok = WordPieceTokenizer(vocab, special_tokens=["[UNK]"], max_input_chars_per_word=10**7)
    for word in ["a" * 601, "a" * 600 + "b", "a" * 300 + "b" + "a" * 299]:
        assert tok._core.encode_word_py(word) == reference.encode_word(word, ids, unk_id=0, max_chars=None)
    # greedy: "aa" (aaab fails at the 4th character), then "##aaa" while 3 are left, then "##aa"
    assert tok.encode("a" * 30_001) == [3] + [5] * 9_999 + [4]
    assert tok.decode(tok.encode("a" * 30_001)) == "a" * 30_001


def test_over_long_word_is_one_unk():
    tok = WordPieceTokenizer(["[UNK]", "a", "##a"], special_tokens=["[UNK]"])
    assert tok.encode("a" * 100) == [1] + [2] * 99
    assert tok.encode("a" * 101) == [0]
    assert tok.encode("a" * 1_000_000 + " a") == [0, 1]


# -- normaliser and pre-tokenizer --------------------------------------------------------------------

def test_bert_normalizer_examples():
    assert normalize.bert_normalize("ΟΔΟΣ") == "οδοσ"  # per-character lowercase: no final sigma
    assert normalize.clean_text("a\x00b\ufffdc\x0bd\x85e\u2028f\u200bg\x1ch") == "abcde fgh"
    assert normalize.clean_text("x\u0378y") == "x\u0378y"  # unassigned code points are kept
    assert normalize.pad_cjk("\U0002B81F\U0002B820中") == " \U0002B81F \U0002B820 中 "
    assert normalize.bert_normalize("Crème BRÛLÉE") == "creme brulee"
    assert normalize.bert_normalize("Crème", lowercase=False) == "Crème"
    assert normalize.bert_normalize("Crème", strip_accents=True, lowercase=False) == "Creme"
    assert normalize.nfkc("ﬁ") == "fi" and normalize.nfc("e\u0301") == "é"


def test_pre_tokenizer_isolates_ascii_and_unicode_punctuation():
    assert bert_pre_tokenize("a$b+c «d» e—f\u3000g") == ["a", "$", "b", "+", "c", "«", "d", "»", "e", "—", "f", "g"]


mixed_text = st.text(alphabet=st.sampled_from(list("aZ09 \t\n\r\x00\x0b\x1c\x7f.,'$+-«»—…") +
                                              ["é", "Ü", "ß", "İ", "Σ", "ﬁ", "中", "文", "\u3000", "\u2028", "\u200b",
                                               "\ufffd", "\u0301", "ｶ", "한", "🙂"]), max_size=60)


@given(st.lists(mixed_text, min_size=1, max_size=5), st.booleans(), st.sampled_from([None, True, False]))
def test_core_split_matches_python_pipeline(texts, lowercase, strip_accents):
    # the core's table-driven clean-up and split (after Python's NFD and lowercasing of non-ASCII
    # text) against the plain str -> str normaliser followed by the Python pre-tokenizer
    expected = Counter()
    for text in texts:
        words = bert_pre_tokenize(normalize.bert_normalize(text, lowercase=lowercase, strip_accents=strip_accents))
        expected.update(words)
        cps, _, _, classes, strip = _prepare([text], lowercase, strip_accents)
        assert _wordpiece._py_split_words(cps, classes, lowercase, strip) == words
    counter = count_bert_words(texts, lowercase=lowercase, strip_accents=strip_accents)
    assert dict(counter.items()) == dict(expected)


def test_corpus_files_are_streamed_in_chunks_exactly(tmp_path, monkeypatch):
    text = "".join(f"Line {i} of the corpus, with words; and more: Ünï {i % 7}\n" for i in range(300))
    path = tmp_path / "corpus.txt"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setattr("fasttok.wordpiece.BLOCK_SIZE", 37)
    assert sorted(count_bert_words([path]).items()) == sorted(count_bert_words([text]).items())


# -- the tokenizer: training API, files, pickling -----------------------------------------------------

@pytest.fixture(scope="module")
def small_tok():
    return train_wordpiece(GOLDEN_CORPUS * 3, vocab_size=75, score="likelihood", min_frequency=2)


def test_trained_tokenizer_layout(small_tok):
    assert small_tok.vocab_size == 75
    assert small_tok._id_to_token[:5] == list(SPECIALS)
    assert small_tok.encode("[CLS] the cat [SEP]")[0] == 2 and small_tok.encode("[CLS] the cat [SEP]")[-1] == 3
    assert small_tok.encode("qqq") == [1]  # no q in the corpus: [UNK]


def test_progress_is_reported():
    calls = []
    train_wordpiece(GOLDEN_CORPUS * 3, vocab_size=75, progress=lambda done, total: calls.append((done, total)))
    assert calls and calls[-1][0] == calls[-1][1]
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_running_out_of_pairs_warns():
    with pytest.warns(TrainingWarning, match="ran out of pairs"):
        tok = train_wordpiece(["ab ab"], vocab_size=50, min_frequency=1)
    assert tok._id_to_token == list(SPECIALS) + ["a", "##b", "ab"]


@pytest.mark.parametrize("fmt", ["native", "hf"])
def test_save_load_round_trip(small_tok, tmp_path, fmt):
    small_tok.save(tmp_path / "tok", format=fmt)
    loaded = fasttok.load(tmp_path / "tok")
    assert loaded == small_tok
    text = " ".join(GOLDEN_CORPUS) + " [MASK] Ωmega"
    assert loaded.encode(text) == small_tok.encode(text)


def test_vocab_txt_round_trip(small_tok, tmp_path):
    small_tok.save(tmp_path / "vocab.txt", format="vocab.txt")
    assert (tmp_path / "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1] == small_tok._id_to_token
    assert load_bert_vocab(tmp_path / "vocab.txt") == small_tok


def test_native_file_quotes_odd_tokens(tmp_path):
    tok = WordPieceTokenizer(["[UNK]", '"', "a b", "x\ny", "plain"], special_tokens=["[UNK]", "x\ny"])
    tok.save(tmp_path / "odd")
    assert fasttok.load(tmp_path / "odd")._id_to_token == tok._id_to_token


def test_pickle_round_trip(small_tok):
    clone = pickle.loads(pickle.dumps(small_tok))
    assert clone == small_tok and clone.encode("the rat") == small_tok.encode("the rat")


def test_decode(small_tok):
    ids = small_tok.encode("the cat sat on the mat.")
    assert small_tok.decode(ids) == "the cat sat on the mat."
    with pytest.raises(UnknownTokenError, match="999"):
        small_tok.decode([999])


def test_encode_batch_threads_agree(small_tok):
    texts = [f"{GOLDEN_CORPUS[i % 4]} {i}" for i in range(200)]
    expected = [small_tok.encode(t) for t in texts]
    assert small_tok.encode_batch(texts, num_threads=2) == expected
    # with a special token in one text the batch takes the base class's splitting path
    texts[7] += " [SEP]"
    assert small_tok.encode_batch(texts, num_threads=2)[7] == expected[7] + [3]
    with pytest.raises(ValueError, match="disallowed special token"):
        small_tok.encode_batch(texts, allowed_special=set())
    plain = small_tok.encode_batch(texts, allowed_special=set(), disallowed_special=())[7]
    assert plain == small_tok.encode_ordinary(texts[7]) and 3 not in plain


# -- bad input ------------------------------------------------------------------------------------

def test_bad_vocab_files(tmp_path):
    cases = {
        "empty.txt": (b"", "empty"),
        "nounk.txt": (b"[PAD]\na\n##b\n", "unknown token '\\[UNK\\]'"),
        "dup.txt": (b"[UNK]\na\nb\na\n", "'a' appears twice.*ids 1 and 3"),
        "blank.txt": (b"[UNK]\n\na\n", "line 2 is empty"),
        "utf8.txt": (b"[UNK]\nab\xffc\n", "invalid UTF-8 at byte offset 8"),
    }
    for name, (data, message) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ModelFileError, match=message):
            load_bert_vocab(tmp_path / name)


def test_bad_hf_json(tmp_path):
    import json
    good = WordPieceTokenizer(["[UNK]", "a"], special_tokens=["[UNK]"]).to_hf_json()
    bad = dict(good, normalizer={"type": "Lowercase"})
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(ModelFileError, match="unsupported normalizer"):
        fasttok.load(tmp_path / "bad.json")
    bad = dict(good, model=dict(good["model"], vocab={"[UNK]": 0, "a": 5}))
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(ModelFileError, match="ids must be 0..1"):
        fasttok.load(tmp_path / "bad.json")


def test_bad_training_input(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"good text\n" * 3 + b"bad \xc3\x28 byte\n")
    with pytest.raises(CorpusError, match=r"bad\.txt: invalid UTF-8 at byte offset 34"):
        train_wordpiece([path], vocab_size=100)
    with pytest.raises(CorpusError, match="no words"):
        train_wordpiece(["  \n\t "], vocab_size=100)
    with pytest.raises(ValueError, match="below the 5 special tokens plus the 2 base") as info:
        train_wordpiece(["ab"], vocab_size=6)
    assert type(info.value) is ValueError  # a bad option, as train_bpe says it
    with pytest.raises(ValueError, match="score must be"):
        train_wordpiece(["ab"], vocab_size=100, score="frequency")
    with pytest.raises(TypeError, match="not bytes"):
        train_wordpiece(b"ab", vocab_size=100)
    with pytest.raises(TypeError):
        train_wordpiece(["ab"], vocab_size="100")


def test_bad_constructor_arguments():
    with pytest.raises(ModelFileError, match="empty"):
        WordPieceTokenizer([])
    with pytest.raises(ModelFileError, match="special tokens"):
        WordPieceTokenizer(["[UNK]"], special_tokens=["[UNK]", "[CLS]"])
    with pytest.raises(ValueError, match="max_input_chars_per_word"):
        WordPieceTokenizer(["[UNK]"], special_tokens=["[UNK]"], max_input_chars_per_word=0)


def test_a_truncated_native_file_is_an_error_and_versions_1_and_2_still_load(small_tok, tmp_path):
    path = tmp_path / "tok"
    small_tok.save(path)
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[0] == "fasttok wordpiece 3" and lines[-2].startswith(f"end {small_tok.vocab_size} sha256=")
    path.write_text("\n".join(lines[:-3]) + "\n", encoding="utf-8")  # the last token and `end` are gone
    with pytest.raises(ModelFileError, match="not 'end N sha256=...'"):
        fasttok.load(path)
    # version 2, as written before the hash: `end N` only, still checked
    v2 = ["fasttok wordpiece 2"] + lines[1:-2]
    path.write_text("\n".join(v2[:-2]) + "\n", encoding="utf-8")
    with pytest.raises(ModelFileError, match="no 'end' record"):
        fasttok.load(path)
    path.write_text("\n".join(v2[:-2] + [f"end {small_tok.vocab_size}", ""]), encoding="utf-8")
    with pytest.raises(ModelFileError, match=f"'end' says {small_tok.vocab_size} records"):
        fasttok.load(path)
    path.write_text("\n".join(v2 + [f"end {small_tok.vocab_size}", ""]), encoding="utf-8")
    assert fasttok.load(path) == small_tok
    # version 1, as written before the `end` record
    path.write_text("\n".join(["fasttok wordpiece 1"] + lines[1:-2]) + "\n", encoding="utf-8")
    assert fasttok.load(path) == small_tok
    path.write_text(_format.hashed_text(["fasttok wordpiece 4"] + lines[1:-2] + [f"end {small_tok.vocab_size}"]),
                    encoding="utf-8")
    with pytest.raises(ModelFileError, match="wordpiece format version 4 is not supported"):
        fasttok.load(path)
