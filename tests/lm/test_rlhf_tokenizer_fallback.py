"""The RLHF demo never falls back to characters silently: without fasttok's compiled core, `auto` says so
loudly on stderr (even with --quiet) and in its output, and an explicit `--tokenizer bpe` fails."""
import json

import pytest

import lm.__main__
from lm import cli_rlhf
from lm.rlhf import demo

QUICK = ["demo", "--quick", "--quiet", "--json", "--plot", ""]


@pytest.fixture()
def no_core(monkeypatch):
    monkeypatch.setattr(demo, "bpe_available", lambda: False)


def test_auto_falls_back_to_characters_loudly(no_core, capsys):
    assert cli_rlhf.main(QUICK) == 0
    out, err = capsys.readouterr()
    warning = [line for line in err.splitlines() if "WARNING" in line]
    assert len(warning) == 1 and "not importable" in warning[0] and "--tokenizer char" in warning[0]
    lines = out.strip().splitlines()
    assert lines[0] == "tokenizer: char (fallback: fasttok's compiled core is not importable)"
    assert json.loads(lines[-1])["tokenizer"] == "char"


def test_an_explicit_bpe_request_fails_instead(no_core, capsys):
    assert cli_rlhf.main([*QUICK, "--tokenizer", "bpe"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "--tokenizer bpe" in err and "not importable" in err and "Traceback" not in err
    with pytest.raises(ValueError, match="not importable"):  # the library refuses too
        demo.make_tokenizer("some text", kind="bpe", vocab_size=300)


def test_choosing_characters_is_quiet(no_core, capsys, tmp_path):
    short = tmp_path / "short.txt"  # the tokenizer is settled before the corpus is read: fail fast after it
    short.write_text("too short", encoding="utf-8")
    assert cli_rlhf.main([*QUICK, "--tokenizer", "char", "--corpus", str(short)]) == 1
    err = capsys.readouterr().err
    assert "too short" in err and "WARNING" not in err
    assert cli_rlhf.main([*QUICK, "--corpus", str(short)]) == 1  # while auto does warn
    assert "WARNING" in capsys.readouterr().err


def test_a_family_that_cannot_be_imported_is_one_line(monkeypatch, capsys):
    def broken(name):
        raise ImportError("fasttok's compiled core is missing")
    monkeypatch.setattr(lm.__main__.importlib, "import_module", broken)
    assert lm.__main__.main(["rlhf", "demo"]) == 2
    assert capsys.readouterr().err == "lm: cannot start `lm rlhf`: fasttok's compiled core is missing\n"
