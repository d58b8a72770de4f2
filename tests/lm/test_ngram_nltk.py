"""lm.ngram's NLTK surface (Vocabulary, padding, NgramCounter, the counted models) against NLTK's published
doctest values and against `nltk.lm` computed live on the same data (tested with nltk 3.10.4)."""
import math

import pytest

from lm.ngram import (MLE, AbsoluteDiscountingInterpolated, KneserNeyInterpolated, Laplace, Lidstone, NgramCounter,
                      StupidBackoff, Vocabulary, WittenBellInterpolated, everygrams, pad_both_ends,
                      padded_everygram_pipeline)
from tests.conftest import missing

# nltk/test/lm.doctest and nltk.lm's docstrings: the corpus and the values NLTK publishes for it
TEXT = [["a", "b", "c"], ["a", "c", "d", "c", "e", "f"]]


def nltk_lm():
    try:
        import nltk.lm
        import nltk.lm.preprocessing
    except ImportError:
        missing("nltk is not installed: pip install 'fasttok[interop]' (it is the oracle here)")
    return nltk.lm


# ------------------------------------------------------------------------- NLTK's published values
def test_doctest_preprocessing():
    assert pad_both_ends(TEXT[0], n=2) == ["<s>", "a", "b", "c", "</s>"]
    assert everygrams(pad_both_ends(TEXT[0], n=2), max_len=2) == [
        ("<s>",), ("<s>", "a"), ("a",), ("a", "b"), ("b",), ("b", "c"), ("c",), ("c", "</s>"), ("</s>",)]
    _, vocab = padded_everygram_pipeline(2, TEXT)
    assert list(vocab) == ["<s>", "a", "b", "c", "</s>", "<s>", "a", "c", "d", "c", "e", "f", "</s>"]


def test_doctest_mle_bigram():
    lm = MLE(2)
    assert len(lm.vocab) == 0
    lm.fit(*padded_everygram_pipeline(2, TEXT))
    assert len(lm.vocab) == 9
    assert lm.vocab.lookup(TEXT[0]) == ("a", "b", "c")
    assert lm.vocab.lookup(["aliens", "from", "Mars"]) == ("<UNK>", "<UNK>", "<UNK>")
    assert str(lm.counts) == "<NgramCounter with 2 ngram orders and 24 ngrams>"
    assert lm.counts["a"] == 2
    assert lm.counts[["a"]]["b"] == 1
    assert lm.counts[2][("a",)]["b"] == 1
    assert lm.score("a") == 0.15384615384615385
    assert lm.score("<UNK>") == lm.score("aliens")
    assert lm.score("b", ["a"]) == 0.5
    assert lm.logscore("a") == -2.700439718141092
    test = [("a", "b"), ("c", "d")]
    assert lm.entropy(test) == 1.292481250360578
    assert lm.perplexity(test) == 2.449489742783178


def test_doctest_vocabulary():
    words = ["a", "c", "-", "d", "c", "a", "b", "r", "a", "c", "d"]
    vocab = Vocabulary(words, unk_cutoff=2)
    assert vocab["a"] == 3 and "a" in vocab
    assert vocab["d"] == 2 and "d" in vocab
    assert vocab["b"] == 1 and "b" not in vocab
    assert vocab["aliens"] == 0 and "aliens" not in vocab
    assert sorted(vocab) == ["<UNK>", "a", "c", "d"]
    assert len(vocab) == 4
    assert vocab.lookup("a") == "a" and vocab.lookup("aliens") == "<UNK>"
    assert vocab.lookup(["a", "b", "c", ["x", "b"]]) == ("a", "<UNK>", "c", ("<UNK>", "<UNK>"))
    assert sorted(Vocabulary(words, unk_cutoff=1)) == ["-", "<UNK>", "a", "b", "c", "d", "r"]
    with pytest.raises(ValueError, match="unk_cutoff"):
        Vocabulary(words, unk_cutoff=0)


def test_counter_doctest_and_statistics():
    text = [["a", "b", "c", "d"], ["a", "c", "d", "c"]]
    bigrams = [list(zip(s, s[1:])) for s in text]
    unigrams = [[(w,) for w in s] for s in text]
    counts = NgramCounter(bigrams + unigrams)
    assert counts["a"] == 2 and counts["aliens"] == 0
    assert sorted(counts[["a"]].items()) == [("b", 1), ("c", 1)]
    assert counts[2][("a",)] is counts[["a"]]
    assert counts.unigrams is counts[1]
    assert len(counts[2]) == 4
    counts.update([[("e",)]])
    assert counts["e"] == 1
    assert counts[["c"]] == {"d": 2}  # (c d) in both sentences
    assert counts[["c"]].N() == 2 and counts[["c"]].n1_plus() == 1 and counts[["c"]].n2() == 1
    assert counts[["c"]].n3_plus() == 0
    assert counts.count_of_counts(2) == {1: 4, 2: 1}
    assert counts.N() == 8 + 6 + 1
    assert counts[["zzz"]].N() == 0 and ("zzz",) not in counts[2]  # reading does not store
    with pytest.raises(TypeError, match="tuple"):
        counts.update([[["a", "b"]]])


def test_fixed_vocabulary_and_zero_counts():
    vocab = Vocabulary({"a": 5, "b": 0, "<s>": 1, "</s>": 1})  # zero-count words are kept, not in it
    assert "b" not in vocab and vocab["b"] == 0 and len(vocab) == 4
    lm = Lidstone(0.5, 2, vocabulary=vocab)
    lm.fit(padded_everygram_pipeline(2, [["a", "b", "c"]])[0])  # vocabulary left as given
    assert lm.vocab is vocab and len(lm.vocab) == 4
    assert lm.counts[["a"]]["<UNK>"] == 1  # b counted as <UNK>
    assert lm.score("b", ["a"]) == (1 + 0.5) / (1 + 4 * 0.5)


# ---------------------------------------------------------------------------- live against nltk.lm
MODELS = [("MLE", ()), ("Lidstone", (0.3,)), ("Laplace", ()), ("StupidBackoff", (0.4,)),
          ("WittenBellInterpolated", ()), ("AbsoluteDiscountingInterpolated", ()),
          ("KneserNeyInterpolated", ()), ("KneserNeyInterpolated", (0.75,)),
          ("AbsoluteDiscountingInterpolated", (0.5,))]
OURS = {c.__name__: c for c in (MLE, Lidstone, Laplace, StupidBackoff, WittenBellInterpolated,
                                AbsoluteDiscountingInterpolated, KneserNeyInterpolated)}
LEADING = {"Lidstone", "StupidBackoff"}  # their parameter comes before the order


def build(module, name, args, order, text):
    cls = getattr(module, name) if not isinstance(module, dict) else module[name]
    if name in LEADING:
        model = cls(*args, order)
    elif args:
        model = cls(order, discount=args[0])
    else:
        model = cls(order)
    pipeline = module.preprocessing.padded_everygram_pipeline if not isinstance(module, dict) else \
        padded_everygram_pipeline
    model.fit(*pipeline(order, text))
    return model


def agree(a, b):
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= 1e-12


CONTEXTS = [None, (), ("a",), ("<s>",), ("c", "d"), ("zz",), ("a", "b", "c"), ("b", "c"), ("<s>", "<s>"),
            ("a", "zz", "c", "d")]


@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize("name,args", MODELS)
def test_scores_equal_nltk(name, args, order):
    nl = nltk_lm()
    theirs = build(nl, name, args, order, TEXT)
    ours = build(OURS, name, args, order, TEXT)
    assert len(ours.vocab) == len(theirs.vocab) and sorted(ours.vocab) == sorted(theirs.vocab)
    for word in [*theirs.vocab, "zz"]:
        for context in CONTEXTS:
            try:
                expected = theirs.score(word, context)
            except ZeroDivisionError:  # NLTK's order-1 Kneser-Ney has no continuation counts
                with pytest.raises(ZeroDivisionError):
                    ours.score(word, context)
                continue
            assert agree(ours.score(word, context), expected), (word, context)
            assert agree(ours.logscore(word, context), theirs.logscore(word, context)), (word, context)


@pytest.mark.parametrize("order", [2, 3])
@pytest.mark.parametrize("name,args", MODELS)
def test_entropy_and_perplexity_equal_nltk(name, args, order, docs_sentences):
    nl = nltk_lm()
    train, test = docs_sentences[:150], docs_sentences[150:170]
    theirs = build(nl, name, args, order, train)
    ours = build(OURS, name, args, order, train)
    ngrams = [g for s in test for g in everygrams(pad_both_ends(s, n=order), min_len=order, max_len=order)]
    ngrams += [("a", "b", "c", "d")[:order], ("zz",) * order]
    for probe in (ngrams, ngrams[:7]):
        expected = theirs.entropy(probe)
        assert agree(ours.entropy(probe), expected)
        assert agree(ours.perplexity(probe), theirs.perplexity(probe))


@pytest.fixture(scope="module")
def docs_sentences():
    from tests.texts import docs_lines
    return [line.split() for line in docs_lines() if line.strip()]


def test_kneser_ney_rejects_bad_discount():
    with pytest.raises(ValueError, match="discount"):
        KneserNeyInterpolated(2, discount=1.5)
