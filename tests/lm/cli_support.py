"""What the lm command-line tests share: a seeded word corpus with its fasttok tokenizer, tiny model options,
`python -m lm` in a subprocess, and the check that a command failed with one line naming what it should."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import fasttok
from lm.cli import main as lm_main

ROOT = Path(__file__).resolve().parents[2]

# a model and a run small enough for a test to train in well under a second
TINY = ["--block-size", "8", "--batch-size", "2", "--n-layer", "1", "--n-head", "2", "--d-model", "8"]
TINY_RUN = [*TINY, "--warmup", "1", "--eval-every", "2", "--steps", "2"]
# a little bigger, for the end-to-end tests of each family on `king_corpus`
SMALL = ["--block-size", "16", "--batch-size", "4", "--n-layer", "1", "--n-head", "2", "--d-model", "16",
         "--warmup", "2", "--eval-every", "3"]
MOON = "the moon rises over a quiet sea and the ships sail home at dawn".split()
KING = "the king queen speaks of love and war in a castle by night while the fool sings".split()


def word_text(words, *, n_lines, per_line, seed=0) -> str:
    """`n_lines` lines of `per_line` words drawn (with replacement, seeded) from `words`."""
    rng = np.random.default_rng(seed)
    return "\n".join(" ".join(rng.choice(words, per_line)) for _ in range(n_lines))


def write_corpus(d: Path, text: str, *, vocab_size: int, tokenizer="tok.fasttok"):
    """(corpus, tokenizer) paths in `d`: `text` as train.txt and a fasttok BPE of `vocab_size` trained on it."""
    corpus = d / "train.txt"
    corpus.write_text(text, encoding="utf-8")
    tok_path = d / tokenizer
    fasttok.train_bpe([text], vocab_size=vocab_size).save(str(tok_path))
    return corpus, tok_path


def king_corpus(tmp_path_factory):
    """(directory, corpus, tokenizer) of 300 lines of 8 KING words and a 300-id BPE tokenizer (tok.json)."""
    d = tmp_path_factory.mktemp("neural_cli")
    corpus, tok_path = write_corpus(d, word_text(KING, n_lines=300, per_line=8), vocab_size=300, tokenizer="tok.json")
    return d, corpus, tok_path


def train_small(family, files, capsys, *, steps, name=None):
    """`lm <family> train` with SMALL options on `king_corpus` files: (checkpoint path, the last JSON line)."""
    d, corpus, tok_path = files
    out = d / (name or f"{family}.npz")
    assert lm_main([family, "train", "--tokenizer", str(tok_path), "--steps", str(steps), "-o", str(out), *SMALL,
                    str(corpus)]) == 0
    return out, last_json(capsys)


def last_json(capsys) -> dict:
    """The JSON object on the last line of what the command printed on stdout."""
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def run_lm(*argv, cwd):
    """`python -m lm *argv` in a subprocess from `cwd`, stderr a pipe; asserts it worked."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "lm", *argv], cwd=cwd, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "\r" not in run.stderr  # stderr is a pipe here: one line per update
    return run


def fails_naming(capsys, argv, *words, status=1):
    """`lm *argv` exits with `status` and one line on stderr, no traceback, naming every one of `words`."""
    assert lm_main(argv) == status, argv
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for word in words:
        assert word in err, (argv, word, err)
    return err
