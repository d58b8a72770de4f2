"""Each family's command line refuses another family's checkpoint (and n-gram models), naming both."""
import numpy as np
import pytest

import fasttok
from lm.__main__ import main as lm_main
from lm.ngram import train_ngram

TINY = ["--block-size", "8", "--batch-size", "2", "--n-layer", "1", "--n-head", "2", "--d-model", "8",
        "--warmup", "1", "--eval-every", "2", "--steps", "2"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("families")
    rng = np.random.default_rng(0)
    words = "one two three four five six seven eight nine ten".split()
    text = "\n".join(" ".join(rng.choice(words, 6)) for _ in range(80))
    corpus = d / "train.txt"
    corpus.write_text(text, encoding="utf-8")
    tok = d / "tok.fasttok"
    fasttok.train_bpe([text], vocab_size=270).save(str(tok))
    paths = {}
    for family in ("gpt", "bert", "t5"):
        paths[family] = d / f"{family}.npz"
        assert lm_main([family, "train", "--tokenizer", str(tok), "-o", str(paths[family]), *TINY, str(corpus)]) == 0
    paths["ngram"] = d / "ngram.npz"
    train_ngram([line.split() for line in text.splitlines()], order=2).save(paths["ngram"])
    return d, corpus, tok, paths


def _fails_naming(capsys, argv, *words):
    assert lm_main(argv) != 0, argv
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for word in words:
        assert word in err, (argv, err)


@pytest.mark.parametrize("other", ["bert", "t5"])
def test_gpt_sample_and_eval_refuse_other_families(models, capsys, other):
    d, corpus, tok, paths = models
    capsys.readouterr()
    _fails_naming(capsys, ["gpt", "eval", str(paths[other]), str(corpus)], other, "gpt", str(paths[other]))
    _fails_naming(capsys, ["gpt", "sample", str(paths[other]), "--prompt", "one"], other, "gpt")


@pytest.mark.parametrize("family,other", [("bert", "gpt"), ("t5", "bert"), ("gpt", "t5")])
def test_resume_refuses_another_familys_checkpoint(models, capsys, tmp_path, family, other):
    d, corpus, tok, paths = models
    target = tmp_path / "run.npz"
    target.write_bytes(paths[other].read_bytes())
    capsys.readouterr()
    _fails_naming(capsys, [family, "train", "--tokenizer", str(tok), "-o", str(target), "--resume", *TINY,
                           str(corpus)], other, family)


def test_neural_and_ngram_files_are_told_apart(models, capsys):
    d, corpus, tok, paths = models
    capsys.readouterr()
    _fails_naming(capsys, ["gpt", "eval", str(paths["ngram"]), str(corpus)], "n-gram", "lm ngram eval")
    _fails_naming(capsys, ["ngram", "eval", str(paths["gpt"]), str(corpus)], "gpt checkpoint", "n-gram")


def test_ngram_none_context_is_the_empty_context():
    m = train_ngram([["a", "b", "c"], ["b", "c", "a"], ["c"]], order=3)
    assert m.generate(20, context=None, rng=np.random.default_rng(5)) == m.generate(20, rng=np.random.default_rng(5))
    assert m.logprob("a", None) == m.logprob("a")
    np.testing.assert_array_equal(m.next_distribution(None), m.next_distribution())
