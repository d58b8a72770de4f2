"""The gpt/bert/t5 command lines end to end on a tiny synthetic corpus and a fasttok tokenizer."""
import json

import numpy as np
import pytest

import fasttok
from lm import checkpoint as ckpt
from lm.__main__ import main as lm_main

WORDS = "the king queen speaks of love and war in a castle by night while the fool sings".split()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("neural_cli")
    rng = np.random.default_rng(0)
    text = "\n".join(" ".join(rng.choice(WORDS, 8)) for _ in range(300))
    corpus = d / "train.txt"
    corpus.write_text(text, encoding="utf-8")
    tok = fasttok.train_bpe([text], vocab_size=300)
    tok_path = d / "tok.json"
    tok.save(str(tok_path))
    return d, corpus, tok_path


SMALL = ["--block-size", "16", "--batch-size", "4", "--n-layer", "1", "--n-head", "2", "--d-model", "16",
         "--warmup", "2", "--eval-every", "3"]


def test_gpt_train_sample_eval_resume(files, capsys):
    d, corpus, tok_path = files
    out = d / "gpt.npz"
    assert lm_main(["gpt", "train", "--tokenizer", str(tok_path), "--steps", "4", "-o", str(out), *SMALL,
                    str(corpus)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["val_ppl"] > 1 and result["val_loss"] > 0
    meta = ckpt.read_meta(out)
    assert meta["family"] == "gpt" and meta["step"] == 4 and meta["config"]["d_model"] == 16
    assert lm_main(["gpt", "sample", str(out), "--prompt", "the king", "-n", "5", "--top-k", "5"]) == 0
    assert capsys.readouterr().out.startswith("the king")
    assert lm_main(["gpt", "eval", str(out), str(corpus)]) == 0
    assert json.loads(capsys.readouterr().out)["ppl"] > 1
    assert lm_main(["gpt", "train", "--tokenizer", str(tok_path), "--steps", "6", "--resume", "-o", str(out),
                    *SMALL, str(corpus)]) == 0
    assert "resuming from step 4" in capsys.readouterr().err
    assert ckpt.read_meta(out)["history"]["step"] == [1, 2, 3, 4, 5, 6]


def test_bert_and_t5_train(files, capsys):
    d, corpus, tok_path = files
    for family in ("bert", "t5"):
        out = d / f"{family}.npz"
        assert lm_main([family, "train", "--tokenizer", str(tok_path), "--steps", "3", "-o", str(out), *SMALL,
                        str(corpus)]) == 0
        assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["val_loss"] > 0
        model, meta = ckpt.load(out)
        assert meta["family"] == family and model.config.vocab_size > 300


def test_cli_errors_are_one_line_and_exit_2(files, capsys, tmp_path):
    d, corpus, tok_path = files
    short = tmp_path / "short.txt"
    short.write_text("the king", encoding="utf-8")
    cases = [
        (["gpt", "train", "--tokenizer", str(tmp_path / "none.json"), "-o", str(tmp_path / "x.npz"), str(corpus)],
         "cannot load tokenizer"),
        (["gpt", "train", "--tokenizer", str(tok_path), "-o", str(tmp_path / "x.npz"), str(short)], "too short"),
        (["gpt", "train", "--tokenizer", str(tok_path), "-o", str(tmp_path / "x.npz"), "--d-model", "10",
          "--n-head", "3", str(corpus)], "divisible"),
        (["gpt", "train", "--tokenizer", str(tok_path), "-o", str(tmp_path / "x.npz"), "--resume", str(corpus)],
         "no checkpoint"),
        (["gpt", "sample", str(tmp_path / "missing.npz"), "--prompt", "the"], "no checkpoint"),
        (["gpt", "eval", str(tmp_path / "missing.npz"), str(corpus)], "no checkpoint"),
    ]
    for argv, message in cases:
        assert lm_main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (argv, err)
    # a checkpoint of another shape cannot be resumed into
    out = d / "gpt.npz"
    if not out.exists():
        lm_main(["gpt", "train", "--tokenizer", str(tok_path), "--steps", "2", "-o", str(out), *SMALL, str(corpus)])
    assert lm_main(["gpt", "train", "--tokenizer", str(tok_path), "--steps", "8", "--resume", "-o", str(out),
                    "--d-model", "32", str(corpus)]) == 2
    assert "d_model" in capsys.readouterr().err
    # sampling a bert checkpoint with the gpt command
    bert = d / "bert.npz"
    if bert.exists():
        assert lm_main(["gpt", "sample", str(bert), "--prompt", "the"]) == 2
