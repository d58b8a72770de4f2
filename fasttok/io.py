"""Writing files safely, and reading/writing the tokenizer file formats."""
import os
import tempfile
from contextlib import contextmanager


@contextmanager
def atomic_write(path, mode="w", *, encoding="utf-8"):
    """Open a temp file beside `path`; on success rename it over `path`, on error remove it.

    A crash or exception never leaves a half-written file at `path`.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding,
                       newline=None if "b" in mode else "\n") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
