"""Writing files safely: the one atomic writer that fasttok and lm both use.

Every file either package writes (tokenizers, word counts, n-gram models, ARPA files, checkpoints, plots)
goes through `atomic_write`, so all of them share one set of promises:

- a reader never sees a half-written file: the bytes go to a temporary file beside the target, which is
  flushed and fsync'ed, renamed over the target, and then the directory is fsync'ed too;
- the file gets ordinary permissions, ``0o666 & ~umask``, like any other program's output (the temporary
  file is created with ``os.open(..., 0o666)`` so the umask applies; ``mkstemp`` would make it 0600);
- only a regular file (or a missing path) is ever replaced: a directory, a device such as ``/dev/null`` or
  a FIFO is refused, and a symlink is followed, so the link stays and its target gets the new contents;
- temporary files left behind by a killed writer (named ``.<name>.<pid>.<random>.tmp``, whose pid is no
  longer alive) are removed the next time the same target is written;
- errors name the target path, never the hidden temporary file.
"""
import errno
import os
import secrets
import stat
from contextlib import contextmanager

__all__ = ["atomic_write", "check_output_path"]


def _resolve_target(path):
    """The real file a write to `path` should replace (symlinks followed), checked to be replaceable."""
    path = os.fspath(path)
    target = os.path.realpath(path) if os.path.islink(path) else os.path.abspath(path)
    try:
        st = os.stat(target)
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        code = errno.EISDIR if stat.S_ISDIR(st.st_mode) else errno.EINVAL
        raise OSError(code, f"cannot write there: it is {kind}", path)
    directory = os.path.dirname(target)
    if not os.path.isdir(directory):
        raise FileNotFoundError(errno.ENOENT, "cannot write there: the directory does not exist", path)
    if not os.access(directory, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, "cannot write there: the directory is not writable", path)
    return target


def check_output_path(path):
    """Raise OSError naming `path` now if `atomic_write(path)` would fail to replace it later.

    Called before long work (training, counting) so that a bad `-o` costs nothing.
    """
    _resolve_target(path)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_temps(directory, name):
    prefix = f".{name}."
    try:
        entries = os.listdir(directory)
    except OSError:
        return
    for entry in entries:
        if not (entry.startswith(prefix) and entry.endswith(".tmp")):
            continue
        pid = entry[len(prefix):-len(".tmp")].split(".")[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            try:
                os.unlink(os.path.join(directory, entry))
            except OSError:
                pass


def _fsync_directory(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # some filesystems do not open directories; the rename itself has happened
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_write(path, mode="w", *, encoding="utf-8"):
    """Open a temporary file beside `path` (mode ``"w"`` text with ``\\n`` newlines, or ``"wb"``); when the
    block ends without an exception, publish it as `path`; otherwise remove it and leave `path` untouched.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write mode must be 'w' or 'wb', not {mode!r}")
    shown = os.fspath(path)
    target = _resolve_target(shown)
    directory, name = os.path.split(target)
    _remove_stale_temps(directory, name)
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as e:
        raise type(e)(e.errno, e.strerror, shown) from None
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding,
                       newline=None if "b" in mode else "\n") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(e, OSError) and e.errno is not None and e.filename in (None, tmp):
            raise type(e)(e.errno, e.strerror, shown) from None
        raise
    _fsync_directory(directory)
