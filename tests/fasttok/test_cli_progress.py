"""Progress on stderr goes through fasttok._progress.Progress: one line per update in a log (no \\r),
a line rewritten in place on a terminal, and a TrainingWarning always starts a line of its own."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import fasttok

REPO = Path(fasttok.__file__).resolve().parents[1]
# Far more merges than this corpus has pairs for: training stops early with a TrainingWarning.
TRAIN = {"bpe": ["--vocab-size", "5000"], "wordpiece": ["--model", "wordpiece", "--vocab-size", "5000"]}


def command(tmp_path, model):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("low lower lowest newer newest wider widest\n" * 40, encoding="utf-8")
    return [sys.executable, "-m", "fasttok", "train", *TRAIN[model], "-o", str(tmp_path / "tok"), str(corpus)]


ENV = dict(os.environ, PYTHONPATH=str(REPO))


@pytest.mark.parametrize("model", sorted(TRAIN))
def test_a_log_gets_whole_lines_and_the_warning_its_own(tmp_path, model):
    result = subprocess.run(command(tmp_path, model), capture_output=True, text=True, env=ENV, timeout=120)
    assert result.returncode == 0, result.stderr
    err = result.stderr
    assert "\r" not in err
    lines = err.splitlines()
    progress = [line for line in lines if line.startswith("training: ")]
    warning = [line for line in lines if line.startswith("fasttok: warning: ")]
    assert progress and re.fullmatch(r"training: \d+/\d+ merges \( *[\d.]+%, [\d.]+s\)", progress[0])
    assert len(warning) == 1 and "ran out of pairs" in warning[0]
    assert "TrainingWarning" not in err and "warnings.warn" not in err  # a message, not our source line
    summary = re.fullmatch(r"trained \w+ vocab_size=\d+ in ([\d.]+)s -> .*", lines[-1])
    assert summary and len(lines) == len(progress) + 2
    # The reported time covers the whole command: it is at least the time of every progress update.
    assert float(summary.group(1)) >= max(float(re.search(r"([\d.]+)s\)$", p).group(1)) for p in progress)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs a Linux pseudo-terminal")
@pytest.mark.parametrize("model", sorted(TRAIN))
def test_a_terminal_line_is_ended_before_the_warning(tmp_path, model):
    import pty
    leader, follower = pty.openpty()
    proc = subprocess.Popen(command(tmp_path, model), stderr=follower, stdout=subprocess.DEVNULL, env=ENV)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    assert proc.wait(timeout=120) == 0
    err = b"".join(chunks).decode("utf-8").replace("\r\n", "\n")  # the terminal turns \n into \r\n
    assert "\rtraining: " in err  # rewritten in place
    assert "\nfasttok: warning: " in err and not re.search(r"[^\n]fasttok: warning: ", err)
