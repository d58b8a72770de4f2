"""lm.ngram against KenLM: the lmplz golden model, and the `kenlm` module reading our ARPA files."""

import numpy as np
import pytest

from lm.ngram import NgramModel, train_ngram
from lm.ngram.counts import lookup_rows
from tests.conftest import missing


def kenlm_module():
    """The `kenlm` module, the oracle of these tests: skip without it, fail under CI."""
    try:
        import kenlm
    except ImportError:
        missing("kenlm is not installed: pip install 'fasttok[interop]' (it is the oracle here)")
    return kenlm

# What lmplz reported for the golden model (the refs folder's kenlm/README.md).
GOLDEN_DISCOUNTS = [
    (0.688247, 1.06568, 1.38849),
    (0.839893, 1.17, 1.2509),
    (0.922872, 1.28662, 1.4979),
]
GOLDEN_PPL, GOLDEN_PPL_NO_OOV = 434.7046263157301, 272.45415090337184


@pytest.fixture(scope="module")
def golden_arpa(refs):
    return refs("kenlm", "tinyshakespeare.3gram.arpa.gz")


@pytest.fixture(scope="module")
def split(refs):
    """The README's split: non-empty stripped lines, every 10th (i % 10 == 9) to the test set.

    lmplz was run on the corpus that the refs README names, `../corpora/tinyshakespeare.txt` beside the
    refs folder, so the fixture looks for it there."""
    corpus = refs("..", "corpora", "tinyshakespeare.txt")
    lines = [line.strip() for line in corpus.read_text(encoding="utf-8").split("\n")]
    lines = [line for line in lines if line]
    train = [line.split() for i, line in enumerate(lines) if i % 10 != 9]
    test = [line.split() for i, line in enumerate(lines) if i % 10 == 9]
    assert (len(train), len(test)) == (29_500, 3_277)
    return train, test


@pytest.fixture(scope="module")
def ours(split):
    return train_ngram(split[0], order=3, smoothing="mkn")


@pytest.fixture(scope="module")
def golden(golden_arpa):
    return NgramModel.from_arpa(golden_arpa)


def test_golden_counts_and_discounts(ours):
    assert ours.counts == (24_113, 109_429, 154_703)
    # lmplz prints 6 significant digits
    np.testing.assert_allclose(ours.discounts, GOLDEN_DISCOUNTS, atol=1e-4)
    np.testing.assert_allclose(ours.discounts, GOLDEN_DISCOUNTS, rtol=5e-6)


def test_every_golden_ngram_probability_and_backoff(ours, golden):
    assert set(golden.vocab) == set(ours.vocab)
    to_ours = np.array([ours.vocab.index(t) for t in golden.vocab]) if golden.vocab != ours.vocab else None
    for k in range(1, 4):
        ids, g_logp, g_logb = golden.ngrams(k)
        if to_ours is not None:
            ids = to_ours[ids]
        row = ids[:, 0]
        for j in range(2, k + 1):  # find each golden n-gram in our tables
            row = lookup_rows(ours._keys[j - 1], row * ours.vocab_size + ids[:, j - 1])
        assert (row >= 0).all(), f"golden {k}-grams missing from our model"
        _, o_logp, o_logb = ours.ngrams(k)
        o_logp, o_logb = o_logp[row], o_logb[row]
        both_zero = np.isneginf(g_logp) & np.isneginf(o_logp)  # only <s>
        np.testing.assert_allclose(o_logp[~both_zero], g_logp[~both_zero], atol=1e-4, rtol=0)
        np.testing.assert_allclose(o_logb, g_logb, atol=1e-4, rtol=0)
        assert both_zero.sum() == (k == 1)


def test_golden_test_perplexity(ours, golden, split):
    ev = ours.evaluate(split[1])
    assert (ev.n_tokens, ev.n_oov) == (23_617, 1_604)
    assert ev.perplexity == pytest.approx(GOLDEN_PPL, rel=1e-4)
    assert ev.perplexity_excluding_oov == pytest.approx(GOLDEN_PPL_NO_OOV, rel=1e-4)
    assert ours.perplexity(split[1], exclude_oov=True) == ev.perplexity_excluding_oov
    # and our scorer reading lmplz's file gives lmplz's numbers
    assert golden.perplexity(split[1]) == pytest.approx(GOLDEN_PPL, rel=1e-6)


def test_kenlm_reads_our_arpa_and_agrees(ours, split, tmp_path):
    kenlm = kenlm_module()
    path = tmp_path / "ours.arpa"
    ours.to_arpa(path)
    kmodel = kenlm.Model(str(path))
    assert kmodel.order == 3
    test = split[1][:600]
    theirs = np.array([kmodel.score(" ".join(s), bos=True, eos=True) for s in test])
    np.testing.assert_allclose(ours.score_sentences(test), theirs, atol=1e-3)
    # without sentence boundaries too
    theirs = np.array([kmodel.score(" ".join(s), bos=False, eos=False) for s in test[:100]])
    mine = np.array([ours.score_sentence(s, bos=False, eos=False) for s in test[:100]])
    np.testing.assert_allclose(mine, theirs, atol=1e-3)
    assert kmodel.perplexity(" ".join(test[0])) == pytest.approx(
        10 ** (-ours.score_sentence(test[0]) / (len(test[0]) + 1)), rel=1e-4
    )


@pytest.mark.parametrize("smoothing", ["kn", "witten_bell", "add_k"])
def test_kenlm_reads_other_smoothings(split, tmp_path, smoothing):
    kenlm = kenlm_module()
    model = train_ngram(split[0][:3000], order=4, smoothing=smoothing)
    path = tmp_path / "m.arpa.gz"
    model.to_arpa(path)
    kmodel = kenlm.Model(str(path))
    test = split[1][:200]
    theirs = np.array([kmodel.score(" ".join(s)) for s in test])
    np.testing.assert_allclose(model.score_sentences(test), theirs, atol=1e-3)


@pytest.mark.parametrize("order,smoothing", [(3, "mkn"), (4, "kn"), (2, "witten_bell"), (5, "mkn"), (2, "add_k")])  # kenlm needs order >= 2
def test_full_scores_and_score_equal_kenlm(split, tmp_path, order, smoothing):
    """kenlm.Model.full_scores token by token (log10 p, ngram_length, oov) and score, with and without
    <s> / </s>, on test sentences with OOVs, on the ARPA file we wrote."""
    kenlm = kenlm_module()
    model = train_ngram(split[0][:3000], order=order, smoothing=smoothing)
    path = tmp_path / "m.arpa"
    model.to_arpa(path)
    kmodel = kenlm.Model(str(path))
    n_oov = 0
    for words in split[1][:150] + [[], ["zzz-unseen"], ["<unk>", "the"]]:
        text = " ".join(words)
        for bos in (True, False):
            for eos in (True, False):
                ours = list(model.full_scores(text, bos=bos, eos=eos))
                theirs = list(kmodel.full_scores(text, bos=bos, eos=eos))
                assert [(n, oov) for _, n, oov in ours] == [(n, oov) for _, n, oov in theirs], text
                np.testing.assert_allclose([p for p, _, _ in ours], [p for p, _, _ in theirs], atol=1e-5, rtol=0)
                assert model.score(text, bos=bos, eos=eos) == pytest.approx(
                    kmodel.score(text, bos=bos, eos=eos), abs=1e-5)
                assert model.score(words, bos=bos, eos=eos) == model.score(text, bos=bos, eos=eos)
                n_oov += sum(oov for _, _, oov in ours)
    assert n_oov > 0  # the OOV flag was exercised


def test_kenlm_reads_a_pruned_model(split, tmp_path):
    kenlm = kenlm_module()
    model = train_ngram(split[0][:3000], order=4, smoothing="mkn", prune=(0, 1, 1))
    assert model.counts[1:] < train_ngram(split[0][:3000], order=4).counts[1:]
    path = tmp_path / "pruned.arpa"
    model.to_arpa(path)
    kmodel = kenlm.Model(str(path))
    for words in split[1][:100]:
        text = " ".join(words)
        assert [n for _, n, _ in model.full_scores(text)] == [n for _, n, _ in kmodel.full_scores(text)]
        assert model.score(text) == pytest.approx(kmodel.score(text), abs=1e-5)
