"""`lm rlhf demo --quick`: the whole pipeline wired end to end, its JSON line, its plot, its seeded
reproducibility, its errors, its DemoConfig/PPOConfig override options, and its tokenizer: the demo never falls
back to characters silently (without fasttok's compiled core, `auto` says so loudly on stderr, even with --quiet,
and in its output; an explicit `--tokenizer bpe` fails)."""
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


# ----------------------------------------------------------------------------- options and tokenizer fallback

QUICK = ["demo", "--quick", "--quiet", "--json", "--plot", ""]


@pytest.fixture()
def no_core(monkeypatch):
    monkeypatch.setattr(demo, "bpe_available", lambda: False)


def test_auto_falls_back_to_characters_loudly(no_core, capsys):
    assert main(QUICK) == 0
    out, err = capsys.readouterr()
    warning = [line for line in err.splitlines() if "WARNING" in line]
    assert len(warning) == 1 and "not importable" in warning[0] and "--tokenizer char" in warning[0]
    lines = out.strip().splitlines()
    assert lines[0] == "tokenizer: char (fallback: fasttok's compiled core is not importable)"
    assert json.loads(lines[-1])["tokenizer"] == "char"


def test_an_explicit_bpe_request_fails_instead(no_core, capsys):
    assert main([*QUICK, "--tokenizer", "bpe"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "--tokenizer bpe" in err and "not importable" in err and "Traceback" not in err
    with pytest.raises(ValueError, match="not importable"):  # the library refuses too
        demo.make_tokenizer("some text", kind="bpe", vocab_size=300)


def test_choosing_characters_is_quiet(no_core, capsys, tmp_path):
    short = tmp_path / "short.txt"  # the tokenizer is settled before the corpus is read: fail fast after it
    short.write_text("too short", encoding="utf-8")
    assert main([*QUICK, "--tokenizer", "char", "--corpus", str(short)]) == 1
    err = capsys.readouterr().err
    assert "too short" in err and "WARNING" not in err
    assert main([*QUICK, "--corpus", str(short)]) == 1  # while auto does warn
    assert "WARNING" in capsys.readouterr().err


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
