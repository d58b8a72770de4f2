"""lm.ngram: exact small cases, normalisation, the dictionary reference, files, sampling, bad input."""
import gzip
import math


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lm.ngram import SMOOTHINGS, ArpaFormatError, NgramModel, train_ngram
from lm.ngram._reference import ReferenceAbsoluteDiscounting, ReferenceKneserNey, ReferenceWittenBell
from tests.texts import docs_lines

SEED = [["je", "suis", "content"], ["je", "suis"]]
TINY = [["a", "b"], ["a"]]


@pytest.fixture(scope="module")
def docs_sentences():
    lines = [line.strip() for line in docs_lines()]
    return [line for line in lines if line]


def p(model, word, context=()):
    return 10 ** model.logprob(word, context)


# ------------------------------------------------------------------------------ exact small cases
def test_seed_example_mle():
    m = train_ngram(SEED, order=2, smoothing="mle")
    assert p(m, "suis", ["je"]) == pytest.approx(1.0)
    assert p(m, "content", ["suis"]) == pytest.approx(0.5)
    assert p(m, "</s>", ["suis"]) == pytest.approx(0.5)
    assert p(m, "je", ["<s>"]) == pytest.approx(1.0)
    assert p(m, "content", ["je"]) == 0.0  # seen context, unseen word
    # unigrams over predicted tokens: je 2, suis 2, content 1, </s> 2 (N = 7)
    assert p(m, "suis") == pytest.approx(2 / 7)
    assert p(m, "content", ["nothing-like-it"]) == pytest.approx(1 / 7)  # unseen context backs off
    # sentence: p(je|<s>) p(suis|je) p(content|suis) p(</s>|content) = 1 * 1 * 1/2 * 1
    assert 10 ** m.score_sentence(["je", "suis", "content"]) == pytest.approx(0.5)


def test_add_k_by_hand():
    # vocabulary without <s>: <unk>, </s>, a, b -> V' = 4; bigrams (<s> a) 2, (a b) 1, (a </s>) 1, (b </s>) 1
    m = train_ngram(TINY, order=2, smoothing="add_k", k=1.0)
    assert p(m, "b", ["a"]) == pytest.approx((1 + 1) / (2 + 4))
    assert p(m, "a", ["<s>"]) == pytest.approx((2 + 1) / (2 + 4))
    assert p(m, "b", ["<s>"]) == pytest.approx(1 / 6)
    assert p(m, "a", ["b"]) == pytest.approx(1 / 5)
    assert p(m, "a", ["zzz"]) == pytest.approx(1 / 4)  # unseen context: uniform
    m = train_ngram(TINY, order=2, smoothing="add_k", k=0.5)
    assert p(m, "b", ["a"]) == pytest.approx(1.5 / 4)
    u = train_ngram(TINY, order=1, smoothing="add_k", k=1.0)  # counts a 2, b 1, </s> 2, <unk> 0
    assert p(u, "a") == pytest.approx(3 / 9)
    assert p(u, "<unk>") == pytest.approx(1 / 9)


def test_witten_bell_by_hand():
    m = train_ngram(TINY, order=2, smoothing="witten_bell")
    # unigrams: c = a 2, b 1, </s> 2, <unk> 0; N = 5, T = 3 types, uniform 1/4
    p1 = {w: (c + 3 / 4) / (5 + 3) for w, c in {"a": 2, "b": 1, "</s>": 2, "<unk>": 0}.items()}
    for w in p1:
        assert p(m, w) == pytest.approx(p1[w])
    # context a: b 1, </s> 1 -> c 2, T 2
    assert p(m, "b", ["a"]) == pytest.approx((1 + 2 * p1["b"]) / 4)
    assert p(m, "a", ["a"]) == pytest.approx(2 * p1["a"] / 4)
    # context <s>: a 2 -> c 2, T 1
    assert p(m, "a", ["<s>"]) == pytest.approx((2 + p1["a"]) / 3)
    assert p(m, "b", ["<s>"]) == pytest.approx(p1["b"] / 3)


def test_stupid_backoff_by_hand():
    m = train_ngram([["a", "b", "c"], ["a", "c"]], order=3, smoothing="stupid_backoff", alpha=0.4)
    assert p(m, "c", ["a", "b"]) == pytest.approx(1.0)
    assert p(m, "c", ["<s>", "a"]) == pytest.approx(1 / 2)  # trigram (<s> a c) 1 of (<s> a .) 2
    assert p(m, "c", ["b", "a"]) == pytest.approx(0.4 * 1 / 2)  # unseen context: 0.4 * (a c) 1 of (a .) 2
    # unseen context (b b), unseen bigram (b b): 0.4 * 0.4 * unigram c(b)/N = 1/7
    assert p(m, "b", ["b", "b"]) == pytest.approx(0.16 / 7)
    with pytest.raises(ValueError, match="stupid_backoff"):
        m.to_arpa("/nonexistent/x.arpa")


def test_kn_discount_is_y():
    sentences = [["a", "b", "c", "a"], ["b", "c", "d"], ["a", "d", "d", "b"], ["c", "c"], ["e"]]
    m = train_ngram(sentences, order=2, smoothing="kn")
    ref = ReferenceKneserNey(sentences, order=2, modified=False)
    # one approx per order: pytest >= 9.2 refuses nested sequences in a single approx
    assert len(m.discounts) == len(ref.discounts)
    for ours, theirs in zip(m.discounts, ref.discounts):
        assert ours == pytest.approx(theirs)
    for d in m.discounts:
        assert d[0] == d[1] == d[2]


def test_min_count_maps_rare_tokens_to_unk():
    m = train_ngram([["a", "b", "a"], ["a", "c"]], order=2, smoothing="mle", min_count=2)
    assert m.vocab == ("<unk>", "<s>", "</s>", "a")
    # <s> a <unk> a </s> / <s> a <unk> </s>: after a come <unk>, </s>, <unk>
    assert p(m, "<unk>", ["a"]) == pytest.approx(2 / 3)
    assert m.logprob("b", ["a"]) == m.logprob("<unk>", ["a"])


def test_int_tokens_and_custom_specials():
    m = train_ngram([[5, 6, 7], [5, 6]], order=2, smoothing="mle", bos=-1, eos=-2, unk=-3)
    assert p(m, 6, [5]) == pytest.approx(1.0)
    assert p(m, 7, [6]) == pytest.approx(0.5)
    assert p(m, -2, [6]) == pytest.approx(0.5)
    assert m.vocab[:3] == (-3, -1, -2)


def test_numpy_id_sentences(tmp_path):
    m = train_ngram([np.array([5, 6, 7]), np.array([5, 6])], order=2, smoothing="mle")
    assert m.vocab[3:] == (5, 6, 7) and all(type(t) is int for t in m.vocab[3:])
    assert p(m, np.int64(7), [np.int64(6)]) == pytest.approx(0.5)
    m.save(tmp_path / "ids.npz")
    assert NgramModel.load(tmp_path / "ids.npz").vocab == m.vocab


# ------------------------------------------------------------------------------ properties
words = st.sampled_from(["a", "b", "c", "d", "e"])
corpora = st.lists(st.lists(words, min_size=0, max_size=7), min_size=1, max_size=8).filter(
    lambda c: any(c)
)


def _all_next_words(model):
    return [w for w in model.vocab if w != model.bos]


@settings(max_examples=40, deadline=None)
@given(
    corpus=corpora,
    order=st.integers(1, 4),
    smoothing=st.sampled_from([s for s in SMOOTHINGS if s != "stupid_backoff"]),
    context=st.lists(st.sampled_from(["<s>", "a", "b", "c", "d", "e", "zz", "</s>"]), max_size=3),
    min_count=st.integers(1, 2),
)
def test_probabilities_sum_to_one(corpus, order, smoothing, context, min_count):
    model = train_ngram(corpus, order=order, smoothing=smoothing, min_count=min_count)
    context = context[max(0, len(context) - (order - 1)):] if order > 1 else []
    ctx_ids = model.encode(context)
    nexts = model.encode(_all_next_words(model))
    grams = np.column_stack([np.tile(ctx_ids, (nexts.shape[0], 1)), nexts])  # (V-1, len(ctx)+1)
    probs = 10 ** model.score_ngrams(grams)
    assert probs.sum() == pytest.approx(1.0, abs=1e-9)
    assert (probs >= 0).all()
    # the sampling distribution is the scoring distribution
    dist = model.next_distribution(context)
    np.testing.assert_allclose(dist[nexts], probs, atol=1e-12)
    assert dist[1] == 0.0  # <s> is never predicted


@settings(max_examples=40, deadline=None)
@given(corpus=corpora, order=st.integers(1, 4), modified=st.booleans(), data=st.data())
def test_kneser_ney_matches_dictionary_reference(corpus, order, modified, data):
    model = train_ngram(corpus, order=order, smoothing="mkn" if modified else "kn")
    ref = ReferenceKneserNey(corpus, order=order, modified=modified)
    assert np.allclose(model.discounts, ref.discounts, atol=1e-12)
    vocab = sorted(ref.vocab - {"<s>"}) + ["unseen"]
    for _ in range(4):
        context = data.draw(st.lists(st.sampled_from(sorted(ref.vocab) + ["unseen"]), max_size=order - 1))
        ours = [model.logprob(w, context) for w in vocab]
        theirs = [ref.logprob(w, context) for w in vocab]
        np.testing.assert_allclose(ours, theirs, atol=1e-10)
        assert ref.logprob("<s>", context) == model.logprob("<s>", context) == -math.inf


@settings(max_examples=30, deadline=None)
@given(corpus=corpora, order=st.integers(1, 4), data=st.data())
def test_witten_bell_matches_dictionary_reference(corpus, order, data):
    model = train_ngram(corpus, order=order, smoothing="witten_bell")
    ref = ReferenceWittenBell(corpus, order=order)
    vocab = sorted(ref.vocab) + ["unseen"]
    for _ in range(4):
        context = data.draw(st.lists(st.sampled_from(vocab), max_size=order - 1))
        ours = [model.logprob(w, context) for w in vocab]
        np.testing.assert_allclose(ours, [ref.logprob(w, context) for w in vocab], atol=1e-10)


@settings(max_examples=30, deadline=None)
@given(corpus=corpora, order=st.integers(1, 4), discount=st.sampled_from([0.1, 0.5, 0.75, 1.0]), data=st.data())
def test_user_discounts_match_dictionary_references(corpus, order, discount, data):
    """"kn" with a fixed discount (NLTK's interpolated KN, KenLM's conventions) and "absolute" (fixed and
    estimated discounts) against their recursions."""
    kn = train_ngram(corpus, order=order, smoothing="kn", discount=discount)
    kn_ref = ReferenceKneserNey(corpus, order=order, modified=False, discount=discount)
    assert kn.discounts == ((discount,) * 3,) * order
    absolute = train_ngram(corpus, order=order, smoothing="absolute", discount=discount)
    absolute_ref = ReferenceAbsoluteDiscounting(corpus, order=order, discount=discount)
    estimated = train_ngram(corpus, order=order, smoothing="absolute")
    estimated_ref = [ReferenceAbsoluteDiscounting(corpus, order=order, discount=d[0]) for d in estimated.discounts]
    vocab = sorted(kn_ref.vocab) + ["unseen"]
    for _ in range(3):
        context = data.draw(st.lists(st.sampled_from(vocab), max_size=order - 1))
        for model, ref in [(kn, kn_ref), (absolute, absolute_ref)]:
            ours = [model.logprob(w, context) for w in vocab]
            np.testing.assert_allclose(ours, [ref.logprob(w, context) for w in vocab], atol=1e-10)
        if len(set(estimated.discounts)) == 1:  # the recursion takes one discount for every order
            ours = [estimated.logprob(w, context) for w in vocab]
            np.testing.assert_allclose(ours, [estimated_ref[0].logprob(w, context) for w in vocab], atol=1e-10)


def test_absolute_discounting_by_hand():
    # TINY: unigrams a 2, b 1, </s> 2, <unk> 0 (N 5, 3 seen); V' = 4; D = 0.5
    m = train_ngram(TINY, order=2, smoothing="absolute", discount=0.5)
    p1 = {w: (max(c - 0.5, 0) + 1.5 / 4) / 5 for w, c in {"a": 2, "b": 1, "</s>": 2, "<unk>": 0}.items()}
    for w, expected in p1.items():
        assert p(m, w) == pytest.approx(expected)
    # context a: b 1, </s> 1 (total 2, two seen)
    assert p(m, "b", ["a"]) == pytest.approx((0.5 + 1.0 * p1["b"]) / 2)
    assert p(m, "a", ["a"]) == pytest.approx(1.0 * p1["a"] / 2)
    with pytest.raises(ValueError, match="discount"):
        train_ngram(TINY, smoothing="absolute", discount=1.5)


def test_reference_and_model_agree_on_a_real_text_sample(docs_sentences):
    sentences = [line.split() for line in docs_sentences[:400]]
    model = train_ngram(sentences, order=3)
    ref = ReferenceKneserNey(sentences, order=3)
    assert np.allclose(model.discounts, ref.discounts)
    rng = np.random.default_rng(0)
    vocab = sorted(ref.vocab)
    for i in rng.choice(len(sentences), 20):
        s = ["<s>"] + sentences[i] + ["</s>"]
        for t in range(1, len(s)):
            ctx = s[max(0, t - 2) : t]
            assert model.logprob(s[t], ctx) == pytest.approx(ref.logprob(s[t], ctx), abs=1e-10)
        w = vocab[rng.integers(len(vocab))]
        assert model.logprob(w, s[:2]) == pytest.approx(ref.logprob(w, s[:2]), abs=1e-10)


@settings(max_examples=25, deadline=None)
@given(corpus=corpora, order=st.integers(1, 4), smoothing=st.sampled_from(SMOOTHINGS))
def test_vectorised_scores_match_one_at_a_time(corpus, order, smoothing):
    model = train_ngram(corpus, order=order, smoothing=smoothing)
    test = corpus + [["a", "zz", "b", "c"], []]
    scores = model.score_sentences(test)
    for s, score in zip(test, scores):
        padded = ["<s>", *s, "</s>"]
        one = sum(model.logprob(padded[t], padded[max(0, t - order + 1) : t]) for t in range(1, len(padded)))
        assert score == pytest.approx(one, abs=1e-9) or (score == one == -math.inf)
        assert model.score_sentence(s) == pytest.approx(score, abs=1e-9) or score == -math.inf
    bare = model.score_sentences(test, bos=False, eos=False)
    for s, score in zip(test, bare):
        assert model.score_sentence(s, bos=False, eos=False) == pytest.approx(score, abs=1e-9) or score == -math.inf


# ------------------------------------------------------------------------------ queries
def test_perplexity_counts_oovs_as_unk_and_can_exclude_them():
    m = train_ngram([["a", "b", "c"], ["a", "c", "b"], ["b", "a"]], order=2)
    test = [["a", "x", "b"], ["c"]]
    ev = m.evaluate(test)
    assert (ev.n_sentences, ev.n_tokens, ev.n_oov) == (2, 6, 1)
    logs = [m.logprob("a", ["<s>"]), m.logprob("<unk>", ["a"]), m.logprob("b", ["<unk>"]),
            m.logprob("</s>", ["b"]), m.logprob("c", ["<s>"]), m.logprob("</s>", ["c"])]
    assert ev.log10_prob == pytest.approx(sum(logs))
    assert m.perplexity(test) == pytest.approx(10 ** (-sum(logs) / 6))
    without = sum(logs) - logs[1]
    assert m.perplexity(test, exclude_oov=True) == pytest.approx(10 ** (-without / 5))
    assert math.isfinite(m.perplexity(test))


def test_generate_is_deterministic_and_respects_top_k():
    sentences = [line.split() for line in ["the cat sat", "the dog sat", "a cat ran", "the cat ran"]]
    # witten_bell: on so tiny a corpus mkn's D3+ is 3 (t4 = 0), which empties the count-3 bigram
    m = train_ngram(sentences, order=3, smoothing="witten_bell")
    a = m.generate(30, rng=np.random.default_rng(1))
    b = m.generate(30, rng=np.random.default_rng(1))
    assert a == b and len(a) == 30
    assert "<s>" not in a
    greedy = m.generate(5, top_k=1, rng=np.random.default_rng(2))
    assert greedy == m.generate(5, top_k=1, rng=np.random.default_rng(3))  # top-1 is deterministic
    assert greedy[0] == "the"  # the most likely first word
    cold = m.generate(200, context=["the"], temperature=0.05, rng=np.random.default_rng(4))
    assert cold[0] == "cat"  # p(cat | <s> the) dominates at low temperature
    # sampled frequencies follow the model's distribution
    rng = np.random.default_rng(5)
    firsts = [m.generate(1, rng=rng)[0] for _ in range(2000)]
    dist = m.next_distribution(["<s>"])
    for w in ("the", "a"):
        assert firsts.count(w) / 2000 == pytest.approx(dist[m.vocab.index(w)], abs=0.04)


@pytest.mark.parametrize("smoothing", ["mkn", "mle", "witten_bell"])
def test_backoff_chain_sampling_is_exact(smoothing):
    # generate() without temperature/top-k samples by rejection down the backoff chain; its
    # frequencies must match the full next-word distribution (z-scores of 2000 draws)
    sentences = [s.split() for s in ["a b c a", "b c d", "a d d b", "c c", "e", "a b c d e", "b b a"]]
    m = train_ngram(sentences, order=3, smoothing=smoothing)
    rng = np.random.default_rng(7)
    n = 2000
    for context in (["<s>"], ["a", "b"], ["zz", "c"]):
        draws = [m.generate(1, context=context, rng=rng)[0] for _ in range(n)]
        freq = np.array([draws.count(w) for w in m.vocab]) / n
        dist = m.next_distribution(context)
        z = np.abs(freq - dist) / np.sqrt(np.maximum(dist * (1 - dist), 1e-12) / n)
        assert z.max() < 5, (context, z.max())
        assert freq[dist == 0].sum() == 0  # never a word of probability 0 (<s>, or MLE's unseen)


def test_generate_uses_the_whole_context_at_high_order():
    # order 5: a 3-token context must be used whole (a deterministic corpus continues it one way)
    sentences = [["x", "a", "b", "c", "d", "e"], ["y", "q", "b", "c", "f", "g"]] * 3
    m = train_ngram(sentences, order=5, smoothing="mle")
    for seed in range(5):
        assert m.generate(3, context=["a", "b", "c"], rng=np.random.default_rng(seed)) == ["d", "e", "</s>"]
        assert m.generate(2, context=["<s>", "y", "q"], rng=np.random.default_rng(seed)) == ["b", "c"]


# ------------------------------------------------------------------------------ files
@pytest.mark.parametrize("smoothing", ["mkn", "kn", "witten_bell", "add_k", "mle"])
@pytest.mark.parametrize("name", ["m.arpa", "m.arpa.gz"])
def test_arpa_round_trip(tmp_path, smoothing, name):
    sentences = [["a", "b", "c"], ["a", "c", "b", "b"], ["b", "a"], ["c"]]
    m = train_ngram(sentences, order=3, smoothing=smoothing)
    path = tmp_path / name
    m.to_arpa(path)
    if name.endswith(".gz"):
        assert gzip.open(path, "rt").readline() == "\\data\\\n"
    back = NgramModel.from_arpa(path)
    assert back.counts == m.counts and back.vocab == m.vocab
    test = sentences + [["z", "a", "b", "a"]]
    np.testing.assert_allclose(back.score_sentences(test), m.score_sentences(test), atol=1e-6)
    assert [f.name for f in tmp_path.iterdir()] == [name]  # no temporary file left behind


@pytest.mark.parametrize("chunk, block", [(1, 1), (2, 7), (3, 64)])
def test_arpa_streamed_in_chunks_reads_the_same(tmp_path, monkeypatch, chunk, block):
    """The reader parses READ_CHUNK lines at a time from READ_BLOCK-character blocks: tiny values put chunk
    and block boundaries everywhere (mid-line, at blank lines and section headers), and the model, the
    unsorted-section path and the line numbers of errors stay the same."""
    from lm.ngram import arpa
    sentences = [["a", "b", "c"], ["a", "c", "b", "b"], ["b", "a"], ["c"]]
    m = train_ngram(sentences, order=3, smoothing="mkn")
    m.to_arpa(tmp_path / "m.arpa.gz")
    text = gzip.open(tmp_path / "m.arpa.gz", "rt").read()
    head, _, rest = text.partition("\\2-grams:\n")
    section, _, tail = rest.partition("\n\n")
    (tmp_path / "shuffled.arpa").write_text(head + "\\2-grams:\n" + "\n".join(section.split("\n")[::-1]) + "\n\n"
                                            + tail)
    lines = text.split("\n")
    at = lines.index("\\2-grams:") + 2
    lines[at] = "nan\t" + lines[at].split("\t", 1)[1]
    (tmp_path / "bad.arpa").write_text("\n".join(lines))
    expected = NgramModel.from_arpa(tmp_path / "m.arpa.gz")
    monkeypatch.setattr(arpa, "READ_CHUNK", chunk)
    monkeypatch.setattr(arpa, "READ_BLOCK", block)
    for name in ("m.arpa.gz", "shuffled.arpa"):
        back = NgramModel.from_arpa(tmp_path / name)
        assert back.vocab == expected.vocab
        for k in range(1, 4):
            for ours, theirs in zip(back.ngrams(k), expected.ngrams(k)):
                np.testing.assert_array_equal(ours, theirs)
    with pytest.raises(ArpaFormatError, match=f"bad.arpa:{at + 1}: "):
        NgramModel.from_arpa(tmp_path / "bad.arpa")


def test_npz_round_trip(tmp_path):
    for sentences, smoothing in [([["a", "b"], ["b", "a", "a"]], "stupid_backoff"), ([[1, 2], [2, 3, 1]], "mkn")]:
        m = train_ngram(sentences, order=3, smoothing=smoothing)
        m.save(tmp_path / "m.npz")
        back = NgramModel.load(tmp_path / "m.npz")
        assert back.vocab == m.vocab and back.discounts == m.discounts and back.smoothing == smoothing
        test = sentences + [[sentences[0][0], "q"]]
        np.testing.assert_array_equal(back.score_sentences(test), m.score_sentences(test))


def test_model_is_immutable_and_picklable():
    import pickle

    m = train_ngram(SEED, order=2)
    with pytest.raises(ValueError):
        m.ngrams(2)[1][0] = 0.0
    with pytest.raises(AttributeError, match="immutable"):
        m.order = 3
    back = pickle.loads(pickle.dumps(m))
    assert back.score_sentence(["je", "suis"]) == m.score_sentence(["je", "suis"])


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("data", [[], [[]], [[], []]])
def test_empty_training_data(data):
    with pytest.raises(ValueError, match="empty"):
        train_ngram(data)


@pytest.mark.parametrize("order", [0, -1, 1.5, "3", True])
def test_bad_order(order):
    with pytest.raises(ValueError, match="order"):
        train_ngram(SEED, order=order)


def test_unknown_smoothing():
    with pytest.raises(ValueError, match="unknown smoothing 'good_turing'"):
        train_ngram(SEED, smoothing="good_turing")


def test_other_bad_options():
    with pytest.raises(ValueError, match="min_count"):
        train_ngram(SEED, min_count=0)
    with pytest.raises(ValueError, match="k must be"):
        train_ngram(SEED, smoothing="add_k", k=0)
    with pytest.raises(ValueError, match="alpha"):
        train_ngram(SEED, smoothing="stupid_backoff", alpha=1.5)
    with pytest.raises(ValueError, match="must not occur inside"):
        train_ngram([["a", "</s>", "b"]])
    with pytest.raises(TypeError, match="not a string"):
        train_ngram(["je suis"])


def test_context_longer_than_the_order():
    m = train_ngram(SEED, order=2)
    with pytest.raises(ValueError, match="at most 1"):
        m.logprob("suis", ["<s>", "je"])
    with pytest.raises(ValueError, match="n-gram length"):
        m.score_ngrams(np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(TypeError, match="not a string"):
        m.logprob("suis", "je")
    with pytest.raises(ValueError, match="token ids"):
        m.score_ngrams(np.array([[0, 99]]))


def test_bad_generate_arguments():
    m = train_ngram(SEED, order=2)
    with pytest.raises(TypeError, match="Generator"):
        m.generate(3, rng=0)
    with pytest.raises(ValueError, match="temperature"):
        m.generate(3, temperature=0, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="top_k"):
        m.generate(3, top_k=0, rng=np.random.default_rng(0))


GOOD_ARPA = """\\data\\
ngram 1=4
ngram 2=2

\\1-grams:
-1.0\t<unk>\t0
0\t<s>\t-0.5
-0.5\t</s>\t0
-0.6\ta\t-0.2

\\2-grams:
-0.1\t<s> a
-0.2\ta </s>

\\end\\
"""


def test_good_arpa_reads(tmp_path):
    (tmp_path / "g.arpa").write_text(GOOD_ARPA)
    m = NgramModel.from_arpa(tmp_path / "g.arpa")
    assert m.counts == (4, 2)
    assert m.score_sentence(["a"]) == pytest.approx(-0.1 - 0.2)
    assert m.logprob("</s>", ["<s>"]) == pytest.approx(-0.5 - 0.5)


@pytest.mark.parametrize(
    "broken, message",
    [
        (GOOD_ARPA.replace("\\data\\\n", ""), "no \\\\data"),
        (GOOD_ARPA.replace("-0.6\ta", "x\ta"), "not a number"),
        (GOOD_ARPA.replace("ngram 2=2", "ngram 2=3"), "truncated"),
        (GOOD_ARPA.replace("\\end\\\n", ""), "end"),
        (GOOD_ARPA[: GOOD_ARPA.index("-0.2\ta </s>")], "truncated"),
        (GOOD_ARPA.replace("-0.1\t<s> a", "-0.1\t<s> a b"), "malformed"),
        (GOOD_ARPA.replace("-0.1\t<s> a", "-0.1\t<s> q"), "not a 1-gram"),
        (GOOD_ARPA.replace("ngram 1=4", "ngram 1=four"), "malformed count"),
        (GOOD_ARPA.replace("\\2-grams:", "\\3-grams:"), "expected \\\\2-grams"),
        (GOOD_ARPA.replace("0\t<s>\t-0.5", "0\t<t>\t-0.5").replace("<s> a", "<t> a"), "must include"),
    ],
)
def test_malformed_arpa(tmp_path, broken, message):
    path = tmp_path / "bad.arpa"
    path.write_text(broken)
    with pytest.raises(ArpaFormatError, match=message):
        NgramModel.from_arpa(path)


def test_truncated_gzip_arpa_and_missing_prefix(tmp_path):
    m = train_ngram([["a", "b", "c"]] * 3, order=3)
    m.to_arpa(tmp_path / "m.arpa.gz")
    data = (tmp_path / "m.arpa.gz").read_bytes()
    (tmp_path / "cut.arpa.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ArpaFormatError):
        NgramModel.from_arpa(tmp_path / "cut.arpa.gz")
    text = GOOD_ARPA.replace("ngram 2=2", "ngram 2=2\nngram 3=1") .replace(
        "\\end\\", "\\3-grams:\n-0.1\ta a </s>\n\n\\end\\")
    (tmp_path / "p.arpa").write_text(text)
    with pytest.raises(ArpaFormatError, match="prefix"):
        NgramModel.from_arpa(tmp_path / "p.arpa")
    with pytest.raises(ArpaFormatError, match="cannot read"):
        NgramModel.from_arpa(tmp_path / "missing.arpa")
    (tmp_path / "x.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="npz|readable"):
        NgramModel.load(tmp_path / "x.npz")


def test_score_ids_checks_hist():
    m = train_ngram(SEED, order=2)
    with pytest.raises(ValueError, match="hist"):
        m.score_ids(np.array([1, 3]), np.array([1, 2]))
    with pytest.raises(ValueError, match="same length"):
        m.score_ids(np.array([1, 3]), np.array([0]))


def test_vocabulary_limits():
    sentences = [["a", "b", "a", "c"], ["c", "a", "d"], ["b"]]  # a 3, b 2, c 2, d 1
    m = train_ngram(sentences, order=2, smoothing="kn", max_vocab_size=2)
    assert m.vocab == ("<unk>", "<s>", "</s>", "a", "b")  # c ties with b but is seen later
    assert m.encode(["c", "d", "a"]).tolist() == [0, 0, 3]
    assert train_ngram(sentences, order=2, max_vocab_size=0).vocab == ("<unk>", "<s>", "</s>")
    assert train_ngram(sentences, order=2, max_vocab_size=2, min_count=3).vocab[3:] == ("a",)
    fixed = train_ngram(sentences, order=2, smoothing="mkn", vocabulary=["d", "a", "zebra"])
    assert fixed.vocab == ("<unk>", "<s>", "</s>", "d", "a", "zebra")
    dist = fixed.next_distribution(["a"])
    assert dist[5] > 0 and dist.sum() == pytest.approx(1.0)  # the zero-count word keeps some mass
    with pytest.raises(ValueError, match="max_vocab_size"):
        train_ngram(sentences, max_vocab_size=-1)


@settings(max_examples=25, deadline=None)
@given(corpus=corpora, order=st.integers(2, 4), threshold=st.integers(1, 2),
       smoothing=st.sampled_from(["mkn", "kn", "witten_bell", "absolute", "mle", "add_k"]), data=st.data())
def test_pruned_models_still_sum_to_one(corpus, order, threshold, smoothing, data):
    """prune: n-grams seen <= threshold times go (not unigrams, not contexts of kept n-grams), and every
    context's distribution is renormalised through its backoff."""
    full = train_ngram(corpus, order=order, smoothing=smoothing)
    model = train_ngram(corpus, order=order, smoothing=smoothing, prune=(0, threshold))
    assert model.counts[0] == full.counts[0] and all(a <= b for a, b in zip(model.counts, full.counts))
    vocab = [w for w in model.vocab if w != "<s>"]
    for _ in range(3):
        context = data.draw(st.lists(st.sampled_from(list(model.vocab) + ["unseen"]), max_size=order - 1))
        assert sum(10 ** model.logprob(w, context) for w in vocab) == pytest.approx(1.0, abs=1e-9)


def test_prune_keeps_contexts_and_refuses_bad_thresholds():
    sentences = [["a", "b", "c"], ["a", "b", "c"], ["a", "b", "d"]]
    m = train_ngram(sentences, order=3, smoothing="kn", prune=(0, 1))  # 1 repeats for the trigrams
    held = {tuple(m.vocab[i] for i in row) for row in m.ngrams(3)[0].tolist()}
    assert held == {("<s>", "a", "b"), ("a", "b", "c"), ("b", "c", "</s>")}  # those with d were seen once
    held2 = {tuple(m.vocab[i] for i in row) for row in m.ngrams(2)[0].tolist()}
    assert held2 == {("<s>", "a"), ("a", "b"), ("b", "c"), ("c", "</s>")}
    m = train_ngram(sentences, order=3, smoothing="kn", prune=(0, 0, 2))  # only (<s> a b), seen 3 times, stays
    assert m.counts == (train_ngram(sentences, order=3).counts[0], 6, 1)
    for bad in [(1, 1), (0, 2, 1), (0, -1)]:
        with pytest.raises(ValueError, match="prune"):
            train_ngram(sentences, order=3, prune=bad)
    with pytest.raises(ValueError, match="stupid_backoff"):
        train_ngram(sentences, order=3, smoothing="stupid_backoff", prune=(0, 1))
