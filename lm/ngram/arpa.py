"""ARPA back-off files: the text format SRILM and KenLM read and write.

    \\data\\
    ngram 1=<count>            one line per order
    \\1-grams:
    <log10 p>\\t<w1>\\t<log10 backoff>      the backoff column is absent at the highest order
    ...
    \\end\\

As lmplz does, `<s>` is written with log10 probability 0 (it is only ever a context; we read it back
as probability 0 whatever the file says) and log10 0 is written as -99.

A leaf: it reads and writes plain tables (`ArpaTables`) and knows nothing of `NgramModel`, whose
`from_arpa` / `to_arpa` call it.
"""
from __future__ import annotations

import gc
import gzip
import io
import zlib
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path

import numpy as np

from fasttok._files import atomic_write  # the one atomic writer of both packages

from ..errors import ArpaFormatError
from ..files import open_regular
from .counts import lookup_rows

LOG_ZERO = -99.0  # how ARPA files spell log10(0)


@dataclass(frozen=True)
class ArpaTables:
    """What an ARPA file holds, as the plain tables `NgramModel` is built from.

    vocab: the tokens, ids 0, 1, 2 being <unk>, <s>, </s>. keys[k-1]: the k-grams in ascending key order,
    key = (row of the (k-1)-gram prefix in keys[k-2]) · V + id of the last word (for k = 1, the id).
    logp[k-1]: their log10 probabilities; logb[k-1]: their log10 backoffs, for every order but the last.
    """
    vocab: list
    keys: list
    logp: list
    logb: list


def _format(values: np.ndarray) -> list[str]:
    return [f"{v:.8g}" for v in np.maximum(values, LOG_ZERO).tolist()]


def write_arpa(path, *, vocab, keys, logp, logb, progress=None) -> None:
    """Write the tables (laid out as in `ArpaTables`) to `path` as ARPA (gzip when the name ends in .gz),
    atomically; progress(k, order) is called as each order is written."""
    words = [str(t) for t in vocab]
    for w in words:
        if not w or any(ch.isspace() for ch in w):
            raise ValueError(f"token {w!r} cannot be written to ARPA: tokens must be non-empty without whitespace")
    if len(set(words)) != len(words):
        raise ValueError("two tokens have the same text form; ARPA cannot tell them apart")
    order = len(keys)
    n_vocab = len(words)

    def write(f):
        f.write("\\data\\\n")
        for k, key in enumerate(keys, start=1):
            f.write(f"ngram {k}={key.shape[0]}\n")
        texts: list[str] = []
        for k in range(1, order + 1):
            probs = logp[k - 1]
            if k == 1:
                texts = list(words)
                probs = probs.copy()
                probs[1] = 0.0  # <s>: lmplz's convention
            else:
                prefix = (keys[k - 1] // n_vocab).tolist()  # row of each k-gram's (k-1)-gram prefix
                last = (keys[k - 1] % n_vocab).tolist()
                texts = [f"{texts[r]} {words[w]}" for r, w in zip(prefix, last)]
            f.write(f"\n\\{k}-grams:\n")
            probs = _format(probs)
            if k < order:
                backs = _format(logb[k - 1])
                f.write("".join(f"{p}\t{t}\t{b}\n" for p, t, b in zip(probs, texts, backs)))
            else:
                f.write("".join(f"{p}\t{t}\n" for p, t in zip(probs, texts)))
            if progress is not None:
                progress(k, order)
        f.write("\n\\end\\\n")

    with atomic_write(path, "wb") as raw:
        # mtime=0: the same model gives the same bytes, so ARPA files can be compared and cached
        stream = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) if Path(path).name.endswith(".gz") else raw
        text = io.TextIOWrapper(stream, encoding="utf-8", newline="\n")
        write(text)
        text.flush()
        text.detach()  # closing the wrapper would close `raw` before atomic_write syncs it
        if stream is not raw:
            stream.close()  # writes the gzip trailer; a GzipFile never closes the fileobj it was given


READ_CHUNK = 262144  # n-gram lines parsed at a time: Python objects for one chunk, numpy arrays for the rest
READ_BLOCK = 1 << 22  # characters read from the file at a time


class _Lines:
    """The lines of a text stream, read in blocks of READ_BLOCK characters (much faster than line by line),
    with the number of the last line taken; `peek` looks at the next line without taking it."""

    def __init__(self, text):
        self._text = text
        self._lines: list[str] = []  # the lines of the current block
        self._pos = 0  # the next line in it
        self._tail = ""  # the unfinished last line of the block
        self._eof = False
        self.number = 0  # of the last line taken

    def _fill(self) -> bool:
        """Make sure a line is buffered; False at the end of the text."""
        while self._pos >= len(self._lines):
            if self._eof:
                return False
            block = self._text.read(READ_BLOCK)
            if not block:
                self._eof = True
                self._lines, self._pos = ([self._tail] if self._tail else []), 0
                self._tail = ""
                continue
            self._lines = (self._tail + block).split("\n")
            self._tail = self._lines.pop()
            self._pos = 0
        return True

    def peek(self) -> str | None:
        return self._lines[self._pos] if self._fill() else None

    def take(self) -> str | None:
        line = self.peek()
        if line is not None:
            self._pos += 1
            self.number += 1
        return line

    def take_many(self, n: int) -> list[str]:
        """Up to n lines (fewer at the end of the text)."""
        body: list[str] = []
        while len(body) < n and self._fill():
            part = self._lines[self._pos:self._pos + n - len(body)]
            self._pos += len(part)
            body.extend(part)
        self.number += len(body)
        return body

    def skip_blank(self) -> None:
        while (line := self.peek()) is not None and not line.strip():
            self.take()


def read_arpa(path, *, bos: str = "<s>", eos: str = "</s>", unk: str = "<unk>") -> ArpaTables:
    """Read an ARPA file (gzip when the name ends in .gz) into plain tables (tokens are strings);
    `NgramModel.from_arpa` builds the model.

    The file is streamed: each section is parsed READ_CHUNK lines at a time straight into numpy arrays
    (int64 keys, float64 log-probabilities and backoffs), so memory is those arrays plus one chunk, never
    the whole text or a Python object per n-gram; and nothing is allocated from the claimed counts."""
    # Parsing makes many small lists: the cyclic garbage collector would rescan them for nothing.
    enabled = gc.isenabled()
    gc.disable()
    try:
        raw, _ = open_regular(path, ArpaFormatError)
        with raw:
            stream = gzip.GzipFile(fileobj=raw, mode="rb") if Path(path).name.endswith(".gz") else raw
            with io.TextIOWrapper(stream, encoding="utf-8") as text:
                tables = _read_arpa(_Lines(text), path, bos=bos, eos=eos, unk=unk)
                while text.read(READ_BLOCK):  # read to the end: a gzip file's CRC-32 is checked only there
                    pass
                return tables
    except (OSError, EOFError, UnicodeDecodeError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise ArpaFormatError(f"{path}: cannot read ARPA file ({type(exc).__name__}: {exc})") from None
    finally:
        if enabled:
            gc.enable()


def _read_arpa(lines: _Lines, path, *, bos: str, eos: str, unk: str) -> ArpaTables:
    def fail(msg: str, line_number: int | None = None):
        raise ArpaFormatError(f"{path}:{lines.number + 1 if line_number is None else line_number}: {msg}")

    # 1. the header: \data\ and one `ngram k=N` line per order
    while (line := lines.peek()) is not None and line.strip() != "\\data\\":
        lines.take()
    if lines.take() is None:
        raise ArpaFormatError(f"{path}: no \\data\\ header: not an ARPA file")
    sizes: list[int] = []
    while (line := lines.peek()) is not None and line.strip().startswith("ngram "):
        head, _, value = line.strip()[6:].partition("=")
        try:
            k, n = int(head), int(value)
        except ValueError:
            fail(f"malformed count line {line!r}")
        if k != len(sizes) + 1 or n < 0:
            fail(f"expected the count of {len(sizes) + 1}-grams, got {line!r}")
        sizes.append(n)
        lines.take()
    if not sizes:
        fail("no 'ngram k=N' count lines after \\data\\")
    order = len(sizes)

    # 2. the sections, in order: the 1-grams make the vocabulary, each k-gram's key needs the (k-1)-gram rows
    vocab = index = None
    keys: list[np.ndarray] = []
    logp: list[np.ndarray] = []
    logb: list[np.ndarray] = []
    for k in range(1, order + 1):
        lines.skip_blank()
        line = lines.peek()
        if line is None:
            raise ArpaFormatError(f"{path}: truncated: missing the \\{k}-grams: section")
        if line.strip() != f"\\{k}-grams:":
            fail(f"expected \\{k}-grams:, got {line!r}")
        lines.take()
        if k == 1:
            vocab, index, key, probs, backs = _read_unigrams(lines, path, sizes[0], order, bos=bos, eos=eos, unk=unk)
        else:
            key, probs, backs = _read_section(lines, path, k, sizes[k - 1], order, index, keys)
        keys.append(key)
        logp.append(probs)
        logb.append(backs)
    lines.skip_blank()
    line = lines.take()
    if line is None or line.strip() != "\\end\\":
        raise ArpaFormatError(f"{path}: truncated or malformed: expected \\end\\ after the {order}-grams")
    for arr in logp + logb:
        arr[arr <= LOG_ZERO] = -np.inf
    return ArpaTables(vocab=vocab, keys=keys, logp=logp, logb=logb[: order - 1])


def _section_chunks(lines: _Lines, path, k: int, size: int, order: int):
    """(first line number, n-grams as lists of words, log10 probabilities, log10 backoffs) per chunk of the
    `size` lines of the k-gram section, each line checked."""
    done = 0
    while done < size:
        first = lines.number + 1
        want = min(READ_CHUNK, size - done)
        body = lines.take_many(want)
        parts = [line.split() for line in body]
        widths = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))  # (C,)
        ok = (widths == k + 1) | ((widths == k + 2) & (k < order))
        if not ok.all() or len(body) < want:  # a blank line or a section header (\\...) ends the section early
            i = int(np.flatnonzero(~ok)[0]) if not ok.all() else len(body)
            if i == len(body) or not parts[i] or body[i].startswith("\\"):
                raise ArpaFormatError(f"{path}:{first + i}: truncated: the header announces {size} "
                                      f"{k}-grams, found {done + i}")
            raise ArpaFormatError(f"{path}:{first + i}: malformed {k}-gram line {body[i]!r}")
        probs = _floats([q[0] for q in parts], first, path)  # (C,)
        backs = _floats([q[k + 1] if len(q) == k + 2 else "0" for q in parts], first, path)  # (C,)
        # as KenLM: a log10 probability is <= 0 (-inf and -99 mean 0), a backoff a number; NaN is neither
        bad = np.flatnonzero(~(probs <= 0) | np.isnan(backs) | np.isposinf(backs))
        if bad.shape[0]:
            i = int(bad[0])
            raise ArpaFormatError(f"{path}:{first + i}: {k}-gram line {body[i]!r}: a log10 probability must be "
                                  "<= 0 and a log10 backoff finite")
        yield first, [q[1:k + 1] for q in parts], probs, backs
        done += len(body)


def _read_unigrams(lines, path, size, order, *, bos, eos, unk):
    words: list[str] = []
    probs_parts, backs_parts = [], []
    for _, grams, probs, backs in _section_chunks(lines, path, 1, size, order):
        words.extend(g[0] for g in grams)
        probs_parts.append(probs)
        backs_parts.append(backs)
    if bos not in words or eos not in words:
        raise ArpaFormatError(f"{path}: the 1-grams must include {bos!r} and {eos!r}")
    vocab = [unk, bos, eos] + [w for w in words if w not in (unk, bos, eos)]
    index = {w: i for i, w in enumerate(vocab)}
    if len(index) != len(vocab) or len(set(words)) != len(words):
        raise ArpaFormatError(f"{path}: duplicate 1-grams")
    V = len(vocab)
    order1 = np.array([index[w] for w in words], dtype=np.int64)  # (N1,) id of each file line
    logp1 = np.full(V, -np.inf)  # (V,) an <unk> missing from the file gets probability 0
    logb1 = np.zeros(V)  # (V,)
    logp1[order1] = np.concatenate(probs_parts) if probs_parts else np.zeros(0)
    logb1[order1] = np.concatenate(backs_parts) if backs_parts else np.zeros(0)
    logp1[1] = -np.inf  # <s> is never predicted
    return vocab, index, np.arange(V, dtype=np.int64), logp1, logb1


def _read_section(lines, path, k, size, order, index, keys):
    """The k-gram section as (sorted keys, log10 probabilities, log10 backoffs); `keys` holds orders < k."""
    V = len(index)
    key_parts, probs_parts, backs_parts = [], [], []
    for _, grams, probs, backs in _section_chunks(lines, path, k, size, order):
        flat = [w for g in grams for w in g]
        ids = np.fromiter(map(index.get, flat, repeat(-1)), dtype=np.int64, count=len(flat))  # (C*k,)
        if (ids < 0).any():
            word = flat[int(np.flatnonzero(ids < 0)[0])]
            raise ArpaFormatError(f"{path}: a {k}-gram uses {word!r}, which is not a 1-gram")
        ids = ids.reshape(-1, k)  # (C, k)
        row = ids[:, 0]  # (C,)
        for j in range(2, k):
            row = lookup_rows(keys[j - 1], row * V + ids[:, j - 1])
            if (row < 0).any():
                bad = " ".join(grams[int(np.flatnonzero(row < 0)[0])])
                raise ArpaFormatError(f"{path}: the {k}-gram {bad!r} has no {k - 1}-gram prefix entry")
        key_parts.append(row * V + ids[:, -1])  # (C,)
        probs_parts.append(probs)
        backs_parts.append(backs)
    key = np.concatenate(key_parts) if key_parts else np.zeros(0, dtype=np.int64)  # (N_k,)
    probs = np.concatenate(probs_parts) if probs_parts else np.zeros(0)
    backs = np.concatenate(backs_parts) if backs_parts else np.zeros(0)
    del key_parts, probs_parts, backs_parts
    if key.shape[0] > 1 and not (key[1:] > key[:-1]).all():  # lm and lmplz write sorted sections: no copy then
        sort = np.argsort(key, kind="stable")
        key, probs, backs = key[sort], probs[sort], backs[sort]
        if (key[1:] == key[:-1]).any():
            raise ArpaFormatError(f"{path}: duplicate {k}-grams")
    return key, probs, backs


def _floats(texts: list, first_line: int, path) -> np.ndarray:
    try:
        return np.array(texts, dtype=np.float64)
    except ValueError:
        for i, text in enumerate(texts):
            try:
                float(text)
            except ValueError:
                raise ArpaFormatError(f"{path}:{first_line + i + 1}: {text!r} is not a number") from None
        raise
