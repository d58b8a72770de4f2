"""Label smoothing is a training regulariser: evaluation and every reported perplexity use ε = 0."""
import dataclasses
import json
import math

import numpy as np
import pytest

import fasttok
from lm import checkpoint as ckpt
from lm.__main__ import main as lm_main
from lm.data import causal_eval_batches, encode_corpus
from lm.nn import BERT, GPT, T5, BERTConfig, GPTConfig, T5Config
from lm.train import evaluate, forward_loss

SIZES = dict(vocab_size=13, block_size=6, n_layer=1, n_head=2, d_model=8, dtype="float64")


def _batches(family, rng):
    """Two batches in the family's format, some targets ignored."""
    out = []
    for _ in range(2):
        x = rng.integers(0, 13, (3, 6))
        y = np.where(rng.random((3, 6)) < 0.7, rng.integers(0, 13, (3, 6)), -100)
        y[0, 0] = 5
        if family == "t5":
            out.append((x, np.ones((3, 6), dtype=bool), rng.integers(0, 13, (3, 4)), y[:, :4]))
        else:
            out.append((x, y))
    return out


FAMILIES = {"gpt": (GPT, GPTConfig, {}), "bert": (BERT, BERTConfig, {}), "t5": (T5, T5Config, {"target_size": 4})}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_a_smoothed_model_evaluates_to_exactly_the_unsmoothed_loss(family):
    cls, config_cls, more = FAMILIES[family]
    smoothed = cls(config_cls(**SIZES, **more, label_smoothing=0.2), rng=np.random.default_rng(0))
    plain_cfg = dataclasses.replace(smoothed.config, label_smoothing=0.0)
    plain = cls(plain_cfg, rng=np.random.default_rng(1))
    plain.load_state_dict(smoothed.state_dict())
    batches = _batches(family, np.random.default_rng(2))
    assert evaluate(smoothed, batches) == evaluate(plain, batches)
    assert smoothed.training  # evaluate restores the mode
    # ... while training still optimises the smoothed objective
    assert abs(forward_loss(smoothed, batches[0]) - forward_loss(plain, batches[0])) > 1e-6


def test_gpt_eval_and_train_report_the_true_perplexity(tmp_path, capsys):
    rng = np.random.default_rng(0)
    words = "a bird sings while the old king sleeps in his tower".split()
    text = "\n".join(" ".join(rng.choice(words, 7)) for _ in range(120))
    corpus = tmp_path / "train.txt"
    corpus.write_text(text, encoding="utf-8")
    tok_path = tmp_path / "tok.fasttok"
    fasttok.train_bpe([text], vocab_size=280).save(str(tok_path))
    out = tmp_path / "gpt.npz"
    assert lm_main(["gpt", "train", "--tokenizer", str(tok_path), "--steps", "3", "-o", str(out),
                    "--block-size", "8", "--batch-size", "4", "--n-layer", "1", "--n-head", "2", "--d-model", "16",
                    "--label-smoothing", "0.2", "--eval-every", "3", str(corpus)]) == 0
    trained = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert lm_main(["gpt", "eval", str(out), str(corpus)]) == 0
    reported = json.loads(capsys.readouterr().out)

    model, _ = ckpt.load(out)
    assert model.config.label_smoothing == 0.2
    plain = GPT(dataclasses.replace(model.config, label_smoothing=0.0), rng=np.random.default_rng(0))
    plain.load_state_dict(model.state_dict())
    ids = encode_corpus(text, fasttok.load(str(tok_path)))
    true_loss = evaluate(plain, causal_eval_batches(ids, batch_size=32, block_size=8))
    assert reported["loss"] == round(true_loss, 4)
    assert reported["ppl"] == round(math.exp(true_loss), 3)
    # the validation figure of `train` is unsmoothed too
    val = ids[len(ids) - int(round(len(ids) * 0.1)):]
    assert trained["val_loss"] == round(evaluate(plain, causal_eval_batches(val, batch_size=4, block_size=8)), 4)
