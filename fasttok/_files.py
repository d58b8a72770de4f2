"""Files: the one atomic writer that fasttok and lm both use, and reading a corpus as checked items and
blocks of text.

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
import itertools
import os
import pathlib
import secrets
import stat
from contextlib import contextmanager

from fasttok.errors import CorpusError
from fasttok.normalize import repair_surrogates

__all__ = ["atomic_write", "check_output_path", "corpus_and_files", "corpus_items", "check_corpus_file",
           "open_corpus_file", "read_blocks", "stream_blocks", "decode_utf8", "utf8_error", "BLOCK_SIZE"]

# Files are read in blocks of about this many bytes, cut where no pre-token can straddle the cut.
BLOCK_SIZE = 1 << 20


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


# ------------------------------------------------------------------------------------------------
# Reading a corpus: the corpus argument, checked before any long work, and files as blocks of text

def corpus_and_files(corpus, files):
    """The items a trainer reads: those of `corpus` (str texts, path files), then the `files`.

    Checked before any counting, so a bad path costs nothing: every path in `files` and every path
    listed in a list or tuple corpus must be a readable file. A bare str corpus is text; one that
    names an existing file is refused (`train_bpe("fr.txt")` would otherwise learn six characters).
    Texts are made encodable as tiktoken does (`repair_surrogates`).
    """
    if corpus is None and files is None:
        raise TypeError("no corpus: pass texts (a str or a list of str) or files=[paths]")
    if isinstance(corpus, str) and _names_a_file(corpus):
        raise CorpusError(f"the corpus is the str {corpus!r}, which names an existing file; a str corpus is "
                          f"text. To read the file pass files=[{corpus!r}] or pathlib.Path({corpus!r}); to "
                          f"learn from the text itself pass it in a list: [{corpus!r}]")
    paths = _file_list(files)
    listed = [corpus] if isinstance(corpus, os.PathLike) else corpus if isinstance(corpus, (list, tuple)) else ()
    for path in [p for p in listed if isinstance(p, os.PathLike)] + paths:
        check_corpus_file(path)
    items = corpus_items(() if corpus is None else corpus)
    return itertools.chain((repair_surrogates(x) if isinstance(x, str) else x for x in items), paths)


def _names_a_file(text):
    # Only a short one-line str can be a path; asking the file system about long texts costs time.
    return len(text) < 4096 and "\n" not in text and "\0" not in text and os.path.exists(text)


def _file_list(files):
    if files is None:
        return []
    if isinstance(files, (str, os.PathLike)):
        files = [files]
    elif isinstance(files, (bytes, bytearray)) or not hasattr(files, "__iter__"):
        raise TypeError(f"files must be a path or a list of paths, not {type(files).__name__}")
    out = []
    for f in files:
        if not isinstance(f, (str, os.PathLike)):
            raise TypeError(f"files must be str or os.PathLike paths, not {type(f).__name__}")
        out.append(pathlib.Path(f))  # a Path is a file to corpus_items; a str would be text
    return out


def corpus_items(corpus):
    """The items of a corpus, checked: a str or a path is one item; str items are text, paths files."""
    if isinstance(corpus, (str, os.PathLike)):
        corpus = [corpus]
    elif isinstance(corpus, (bytes, bytearray)):
        raise TypeError("corpus must be str text or file paths, not bytes: decode it first")
    try:
        items = iter(corpus)
    except TypeError:
        raise TypeError(f"corpus must be a str, a path or an iterable of them, not {type(corpus).__name__}") from None
    for item in items:
        if not isinstance(item, (str, os.PathLike)):
            raise TypeError(f"corpus items must be str or os.PathLike, not {type(item).__name__}")
        yield item


def check_corpus_file(path):
    """Raise CorpusError now unless `path` can be read as a corpus file (exists, readable, not a directory).

    Pipes are accepted (`fasttok train <(zcat corpus.gz)`), as is any device that can be read.
    """
    shown = os.fspath(path)
    try:
        st = os.stat(shown)
    except OSError as e:
        raise CorpusError(f"cannot read corpus file {shown!r}: {e.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise CorpusError(f"cannot read corpus file {shown!r}: it is a directory")
    if not os.access(shown, os.R_OK):
        raise CorpusError(f"cannot read corpus file {shown!r}: permission denied")


def open_corpus_file(path):
    """A corpus file opened for binary reading; CorpusError naming it if that fails."""
    try:
        return open(os.fspath(path), "rb")
    except OSError as e:
        raise CorpusError(f"cannot read corpus file {os.fspath(path)!r}: {e.strerror}") from None


def read_blocks(path, *, cut, block_size=BLOCK_SIZE):
    """Yield the text of a UTF-8 file in blocks of about `block_size` bytes.

    cut(data) gives the last offset where a block may end (see fasttok.pretokenize.safe_cut), or -1 for
    none yet; then as much again as is pending is read, which keeps the rescans of a long stretch linear
    in total. Invalid UTF-8 raises CorpusError naming the file and the byte offset.
    """
    with open_corpus_file(path) as f:
        yield from stream_blocks(f, os.fspath(path), cut=cut, block_size=block_size)


def stream_blocks(f, name, *, cut, block_size=BLOCK_SIZE):
    """`read_blocks` for an open binary stream `f` (a file, stdin, a pipe); `name` is used in errors.

    `cut=None` gives the whole stream as one block (for splitters whose safe cuts are unknown).
    """
    if cut is None:
        yield decode_utf8(f.read(), name, 0)
        return
    pending = b""
    offset = 0  # stream offset of pending[0]
    while True:
        chunk = f.read(max(block_size, len(pending)))
        data = pending + chunk
        if not chunk:
            if data:
                yield decode_utf8(data, name, offset)
            return
        k = cut(data)
        if k <= 0:
            pending = data
            continue
        yield decode_utf8(data[:k], name, offset)
        pending = data[k:]
        offset += k


def decode_utf8(data, path, offset):
    """`data` as text; invalid UTF-8 is a CorpusError naming `path` and the byte offset (`offset` + index)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise utf8_error(e, data, path, offset) from None


def utf8_error(error, data, path, offset):
    """The CorpusError for a UnicodeDecodeError in `data`, which starts at byte `offset` of `path`."""
    return CorpusError(f"{path}: invalid UTF-8 at byte offset {offset + error.start} "
                       f"(byte 0x{data[error.start]:02x})")
