"""The one atomic writer both packages use: permissions, refusals, symlinks, stale temporaries."""
import os
import stat
import subprocess
import sys

import numpy as np
import pytest

import fasttok
from fasttok._files import atomic_write, check_output_path


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def _umask():
    umask = os.umask(0)
    os.umask(umask)
    return umask


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_ordinary_permissions_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        with atomic_write(tmp_path / "a.txt") as f:
            f.write("x")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "a.txt") == 0o666 & ~umask


def test_every_writer_of_both_packages_gives_ordinary_permissions(tmp_path):
    """fasttok tokenizers and word counts, lm n-gram models, ARPA files and checkpoints alike."""
    import lm.checkpoint
    from lm.ngram import train_ngram
    from lm.nn import GPT, GPTConfig

    expected = 0o666 & ~_umask()
    tok = fasttok.train_bpe(["low lower lowest"] * 5, vocab_size=260)
    tok.save(tmp_path / "t.fasttok")
    tok.save(tmp_path / "t.json", format="hf")
    fasttok.count_words(["a b c"]).save(tmp_path / "c.counts")
    ng = train_ngram([["a", "b"], ["b", "a", "b"]], order=2, smoothing="kn")
    ng.save(tmp_path / "m.npz")
    ng.to_arpa(tmp_path / "m.arpa.gz")
    ng.to_arpa(tmp_path / "m.arpa")
    model = GPT(GPTConfig(vocab_size=11, block_size=4, n_layer=1, n_head=1, d_model=8), rng=np.random.default_rng(0))
    lm.checkpoint.save(tmp_path / "ck.npz", model)
    written = sorted(p for p in tmp_path.iterdir())
    assert len(written) == 7
    for p in written:
        assert _mode(p) == expected, p


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "keep.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as f:
            f.write("new, half written")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["keep.txt"]


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="needs /dev/null")
def test_a_device_is_never_replaced():
    before = os.stat("/dev/null")
    with pytest.raises(OSError, match="not a regular file") as info:
        with atomic_write("/dev/null") as f:
            f.write("x")
    assert info.value.filename == "/dev/null"
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino


def test_a_directory_is_refused_before_any_work(tmp_path):
    with pytest.raises(IsADirectoryError) as info:
        check_output_path(tmp_path)
    assert str(tmp_path) in str(info.value)
    with pytest.raises(FileNotFoundError, match="directory does not exist"):
        check_output_path(tmp_path / "no" / "such" / "dir" / "f.txt")


def test_a_symlink_keeps_pointing_at_the_new_contents(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    with atomic_write(link) as f:
        f.write("new")
    assert link.is_symlink() and real.read_text() == "new"


def test_stale_temporaries_of_a_killed_writer_are_removed(tmp_path):
    """A writer killed with SIGKILL leaves its temporary; the next write of the same target removes it."""
    target = tmp_path / "big.bin"
    code = ("import os, sys; from fasttok._files import atomic_write\n"
            f"with atomic_write({str(target)!r}, 'wb') as f:\n"
            "    f.write(b'x' * 1000); f.flush(); os.kill(os.getpid(), 9)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path.parent.parent)
    assert proc.returncode == -9
    leftovers = [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    assert len(leftovers) == 1 and not target.exists()
    with atomic_write(target, "wb") as f:
        f.write(b"done")
    assert os.listdir(tmp_path) == ["big.bin"]


def test_errors_name_the_target_not_the_temporary(tmp_path):
    """A write that fails inside the block (here: the disk is 'full') reports the target's name."""
    target = tmp_path / "x.txt"
    with pytest.raises(OSError) as info:
        with atomic_write(target) as f:
            f.write("x")
            raise OSError(28, "No space left on device")
    assert info.value.filename == str(target) and info.value.errno == 28
    assert os.listdir(tmp_path) == []
