"""`lm rlhf demo --quick`: the whole pipeline wired end to end, its JSON line, its plot, its seeded
reproducibility, its errors, its DemoConfig/PPOConfig override options, and its tokenizer choice (both kinds are
fasttok tokenizers: `auto` is BPE, `char` a character-level BPE)."""
import json
import os

import pytest

from lm import cli
from lm.rlhf import demo


def main(argv):
    """`lm rlhf *argv`."""
    return cli.main(["rlhf", *argv])

KEYS = ("reward_model_heldout_accuracy", "rule_score_base", "rule_score_ppo", "kl_ppo", "rule_score_ppo_no_kl",
        "kl_ppo_no_kl", "rule_score_dpo", "seconds")


def run(capsys, *argv):
    assert main(["demo", "--quick", "--quiet", "--json", *argv]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    return out, json.loads(out[-1])


def test_quick_demo_prints_table_json_and_plot_and_is_bit_identical(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    out, result = run(capsys, "--tokenizer", "char", "--seed", "3", "--plot", str(tmp_path / "curves.png"))
    assert set(KEYS) <= set(result)
    assert out[0] == "tokenizer: char"
    assert out[1].split()[:4] == ["policy", "rule", "score", "RM"]
    assert [line.split()[0] for line in out[3:7]] == ["base", "ppo", "ppo_no_kl", "dpo"]
    assert 0.0 <= result["reward_model_heldout_accuracy"] <= 1.0
    assert result["kl_ppo"] >= 0 and result["kl_ppo_no_kl"] > 0  # exact KL: never negative
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "curves.png").stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600
    _, again = run(capsys, "--tokenizer", "char", "--seed", "3", "--plot", "")
    result.pop("seconds"), again.pop("seconds")
    assert again == result


def test_quick_demo_on_fasttok_bpe_tokens(capsys):
    pytest.importorskip("fasttok._bpe")  # the compiled core: CI builds it with `pip install -e .`
    out, result = run(capsys, "--plot", "")  # auto picks bpe when the core is built
    assert out[0] == "tokenizer: bpe" and set(KEYS) <= set(result)
    assert 0.0 <= result["reward_model_heldout_accuracy"] <= 1.0


def test_demo_reports_bad_corpus(capsys, tmp_path):
    assert main(["demo", "--quick", "--quiet", "--corpus", str(tmp_path / "missing.txt")]) == 1
    assert "missing.txt" in capsys.readouterr().err
    short = tmp_path / "short.txt"
    short.write_text("too short", encoding="utf-8")
    assert main(["demo", "--quick", "--quiet", "--corpus", str(short)]) == 1
    assert "too short" in capsys.readouterr().err


# ----------------------------------------------------------------------------- options and tokenizer choice

QUICK = ["demo", "--quick", "--quiet", "--json", "--plot", ""]


def test_auto_is_bpe_and_the_tokenizer_is_settled_before_the_corpus(capsys, tmp_path):
    short = tmp_path / "short.txt"  # the choice is made before the corpus is read: fail fast after it
    short.write_text("too short", encoding="utf-8")
    for choice in (["--tokenizer", "char"], ["--tokenizer", "bpe"], []):
        assert main([*QUICK, *choice, "--corpus", str(short)]) == 1
        err = capsys.readouterr().err
        assert "too short" in err and "Traceback" not in err
    with pytest.raises(ValueError, match="'char' or 'bpe'"):  # the library refuses other kinds
        demo.make_tokenizer("some text", kind="auto", vocab_size=300)


def test_config_fields_are_override_options(monkeypatch, capsys):
    """Each DemoConfig field, and each PPOConfig field with a ppo- prefix, overrides the chosen preset."""
    seen = []

    def fake_run_demo(config, **kwargs):
        seen.append(config)
        raise ValueError("stop here")
    monkeypatch.setattr(cli, "run_demo", fake_run_demo)
    assert main(["demo", "--quick", "--tokenizer", "char", "--pretrain-steps", "3", "--ppo-lr", "0.5",
                 "--no-ppo-whiten-advantages"]) == 1
    assert "lm rlhf: error: stop here" in capsys.readouterr().err
    expected = demo.quick_config(tokenizer="char")
    assert seen[0].pretrain_steps == 3 and seen[0].ppo.lr == 0.5 and not seen[0].ppo.whiten_advantages
    assert seen[0].n_pairs == expected.n_pairs and seen[0].ppo.batch_size == expected.ppo.batch_size
    assert main(["demo", "--tokenizer", "char", "--ppo-minibatch-size", "1000"]) == 2  # PPOConfig refuses it
    assert "minibatch_size" in capsys.readouterr().err
