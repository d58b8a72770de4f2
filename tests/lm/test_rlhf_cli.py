"""`python -m lm rlhf demo --quick`: the whole pipeline wired end to end, its JSON line, its plot, its
seeded reproducibility, and its errors."""
import json
import os

import pytest

from lm.cli_rlhf import main

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
    assert out[0] == "tokenizer: bpe" and set(KEYS) <= set(result) and 0.0 <= result["reward_model_heldout_accuracy"] <= 1.0


def test_demo_reports_bad_corpus(capsys, tmp_path):
    assert main(["demo", "--quick", "--quiet", "--corpus", str(tmp_path / "missing.txt")]) == 1
    assert "missing.txt" in capsys.readouterr().err
    short = tmp_path / "short.txt"
    short.write_text("too short", encoding="utf-8")
    assert main(["demo", "--quick", "--quiet", "--corpus", str(short)]) == 1
    assert "too short" in capsys.readouterr().err
