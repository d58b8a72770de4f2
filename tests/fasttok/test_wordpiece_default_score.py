"""WordPiece's default merge score is the corpus likelihood gain (Schuster & Nakajima), in the API
and on the command line; pmi stays available as score="pmi"."""
import inspect

from pydoc_data.topics import topics

import fasttok
from fasttok.cli import main

TEXT = "".join(topics[k] for k in sorted(topics))[:60_000]


def test_train_wordpiece_defaults_to_likelihood():
    assert inspect.signature(fasttok.train_wordpiece).parameters["score"].default == "likelihood"
    default = fasttok.train_wordpiece([TEXT], vocab_size=400)
    assert default == fasttok.train_wordpiece([TEXT], vocab_size=400, score="likelihood")
    assert default != fasttok.train_wordpiece([TEXT], vocab_size=400, score="pmi")


def test_the_cli_defaults_to_likelihood(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    out = tmp_path / "wp.fasttok"
    assert main(["train", "--model", "wordpiece", "--vocab-size", "400", "-q", "-o", str(out), str(corpus)]) == 0
    assert fasttok.load(out) == fasttok.train_wordpiece([TEXT], vocab_size=400, score="likelihood")
    assert main(["train", "--model", "wordpiece", "--vocab-size", "400", "--score", "pmi", "-q",
                 "-o", str(out), str(corpus)]) == 0
    assert fasttok.load(out) == fasttok.train_wordpiece([TEXT], vocab_size=400, score="pmi")
