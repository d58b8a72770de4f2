"""Output paths are checked before the long work: a bad -o or --plot costs nothing."""
import numpy as np

import fasttok
from lm.__main__ import main as lm_main

TINY = ["--block-size", "8", "--batch-size", "2", "--n-layer", "1", "--n-head", "2", "--d-model", "8", "--steps", "2"]


def test_train_commands_refuse_unwritable_outputs_before_training(tmp_path, capsys):
    rng = np.random.default_rng(0)
    text = "\n".join(" ".join(rng.choice(["red", "blue", "green", "sky", "sea"], 6)) for _ in range(60))
    corpus = tmp_path / "train.txt"
    corpus.write_text(text, encoding="utf-8")
    tok = tmp_path / "tok.fasttok"
    fasttok.train_bpe([text], vocab_size=270).save(str(tok))
    a_directory = tmp_path / "out"
    a_directory.mkdir()
    cases = [
        (["gpt", "train", "--tokenizer", str(tok), "-o", str(a_directory), *TINY, str(corpus)], 2),
        (["bert", "train", "--tokenizer", str(tok), "-o", str(tmp_path / "b.npz"), "--plot", str(a_directory),
          *TINY, str(corpus)], 2),
        (["ngram", "train", "-o", str(a_directory), str(corpus)], 1),
    ]
    for argv, status in cases:
        assert lm_main(argv) == status, argv
        err = capsys.readouterr().err
        assert str(a_directory) in err and "directory" in err, err
        assert "train step" not in err and "training:" not in err and "parameters" not in err, err
        assert len(err.strip().splitlines()) == 1, err
    # a missing directory for a checkpoint is created, as the checkpoint writer always did
    assert lm_main(["gpt", "train", "--tokenizer", str(tok), "-o", str(tmp_path / "new" / "g.npz"), *TINY,
                    str(corpus)]) == 0
    assert (tmp_path / "new" / "g.npz").exists()
