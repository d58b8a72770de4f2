"""`fasttok --version` prints the version, and the command line works from any directory."""
import os
import re
import subprocess
import sys
from pathlib import Path

import fasttok

REPO = Path(fasttok.__file__).resolve().parents[1]


def run(args, cwd, *, text=True, **kwargs):
    env = dict(os.environ, PYTHONPATH=str(REPO))  # this copy of fasttok, wherever the command runs
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=text,
                          timeout=120, **kwargs)


# What the installed `fasttok` console script runs ([project.scripts] fasttok = "fasttok.cli:main").
CONSOLE_SCRIPT = ["-c", "import sys; from fasttok.cli import main; sys.exit(main())"]


def test_version_from_another_directory(tmp_path):
    for command in (["-m", "fasttok"], CONSOLE_SCRIPT):
        result = run([*command, "--version"], cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"fasttok {fasttok.__version__}\n"


def test_version_is_the_distribution_version():
    pyproject = REPO / "pyproject.toml"
    if pyproject.exists():  # a source checkout; an installed copy has only the package
        declared = re.search(r'^version = "([^"]+)"', pyproject.read_text(encoding="utf-8"), re.M).group(1)
        assert fasttok.__version__ == declared


def test_train_encode_decode_with_relative_paths_in_another_directory(tmp_path):
    (tmp_path / "corpus.txt").write_bytes(b"some text to learn from\r\nsome more text\n" * 50)
    train = run([*CONSOLE_SCRIPT, "train", "--vocab-size", "280", "-q", "-o", "tok.fasttok", "corpus.txt"],
                cwd=tmp_path)
    assert train.returncode == 0, train.stderr
    encode = run([*CONSOLE_SCRIPT, "encode", "-t", "tok.fasttok", "corpus.txt"], cwd=tmp_path, text=False)
    assert encode.returncode == 0, encode.stderr
    decode = run(["-m", "fasttok", "decode", "-t", "tok.fasttok"], cwd=tmp_path, input=encode.stdout, text=False)
    assert decode.returncode == 0, decode.stderr
    assert decode.stdout == (tmp_path / "corpus.txt").read_bytes()
