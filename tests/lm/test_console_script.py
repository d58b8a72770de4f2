"""The `lm` console script: pyproject.toml's [project.scripts] names an entry point that works from any
directory, with --version; `python -m lm` keeps working."""
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parents[2]
TRAIN = "the cat sat on the mat\nthe dog sat on the cat\n"


def _project():
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]


def _entry_point():
    module, _, attr = _project()["scripts"]["lm"].partition(":")
    return module, attr


def test_the_entry_point_prints_the_distributions_version(capsys):
    module, attr = _entry_point()
    main = getattr(importlib.import_module(module), attr)
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"lm {_project()['version']} (the {_project()['name']} distribution)\n"
    assert main(["--help"]) == 0 and "usage: lm" in capsys.readouterr().out
    assert main([]) == 2 and "usage: lm" in capsys.readouterr().err
    assert main(["nonsense"]) == 2


def _script(tmp_path):
    """The file pip writes for a console script, from the entry point pyproject.toml names."""
    module, attr = _entry_point()
    script = tmp_path / "bin" / "lm"
    script.parent.mkdir()
    script.write_text(f"import sys\nfrom {module} import {attr}\nif __name__ == '__main__':\n"
                      f"    sys.exit({attr}())\n", encoding="utf-8")
    return script


def test_the_console_script_runs_from_any_directory(tmp_path):
    script = _script(tmp_path)
    work = tmp_path / "elsewhere"
    work.mkdir()
    (work / "train.txt").write_text(TRAIN, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, str(script), "--version"], cwd=work, env=env, capture_output=True,
                         text=True)
    assert run.returncode == 0 and run.stdout.split()[:2] == ["lm", _project()["version"]], run.stderr
    run = subprocess.run([sys.executable, str(script), "ngram", "train", "--order", "2", "-o", "m.arpa", "train.txt"],
                         cwd=work, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert (work / "m.arpa").read_text(encoding="utf-8").startswith("\\data\\")
    run = subprocess.run([sys.executable, str(script), "gpt", "eval", "missing.npz", "train.txt"], cwd=work, env=env,
                         capture_output=True, text=True)
    assert run.returncode == 2 and run.stderr.startswith("lm gpt: error:")  # errors name the script


def test_python_dash_m_lm_version_from_another_directory(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "lm", "--version"], cwd=tmp_path, env=env, capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout == f"lm {_project()['version']} (the {_project()['name']} distribution)\n"
