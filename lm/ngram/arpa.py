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


def _read_text(path) -> str:
    """The whole text of a (gzipped, when the name ends in .gz) UTF-8 file; a FIFO or device is refused."""
    raw, _ = open_regular(path, ArpaFormatError)
    with raw:
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if Path(path).name.endswith(".gz") else raw
        with io.TextIOWrapper(stream, encoding="utf-8") as text:
            return text.read()


def read_arpa(path, *, bos: str = "<s>", eos: str = "</s>", unk: str = "<unk>") -> ArpaTables:
    """Read an ARPA file into plain tables (tokens are strings); `NgramModel.from_arpa` builds the model."""
    # Parsing makes hundreds of thousands of small lists that all live to the end: the cyclic
    # garbage collector would rescan them again and again for nothing.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _read_arpa(path, bos=bos, eos=eos, unk=unk)
    finally:
        if enabled:
            gc.enable()


def _read_arpa(path, *, bos: str, eos: str, unk: str) -> ArpaTables:
    try:
        lines = _read_text(path).split("\n")
    except (OSError, EOFError, UnicodeDecodeError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise ArpaFormatError(f"{path}: cannot read ARPA file ({type(exc).__name__}: {exc})") from None

    pos = 0
    n_lines = len(lines)

    def fail(msg: str):
        raise ArpaFormatError(f"{path}:{pos + 1}: {msg}")

    while pos < n_lines and lines[pos].strip() != "\\data\\":
        pos += 1
    if pos == n_lines:
        raise ArpaFormatError(f"{path}: no \\data\\ header: not an ARPA file")
    pos += 1
    sizes: list[int] = []
    while pos < n_lines and lines[pos].strip().startswith("ngram "):
        head, _, value = lines[pos].strip()[6:].partition("=")
        try:
            k, n = int(head), int(value)
        except ValueError:
            fail(f"malformed count line {lines[pos]!r}")
        if k != len(sizes) + 1 or n < 0:
            fail(f"expected the count of {len(sizes) + 1}-grams, got {lines[pos]!r}")
        sizes.append(n)
        pos += 1
    if not sizes:
        fail("no 'ngram k=N' count lines after \\data\\")
    order = len(sizes)

    sections: list[tuple[list[str], np.ndarray, np.ndarray]] = []
    for k in range(1, order + 1):
        while pos < n_lines and not lines[pos].strip():
            pos += 1
        if pos == n_lines:
            raise ArpaFormatError(f"{path}: truncated: missing the \\{k}-grams: section")
        if lines[pos].strip() != f"\\{k}-grams:":
            fail(f"expected \\{k}-grams:, got {lines[pos]!r}")
        pos += 1
        body = lines[pos : pos + sizes[k - 1]]
        parts = [line.split() for line in body]
        widths = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))  # (N_k,)
        ok = (widths == k + 1) | ((widths == k + 2) & (k < order))
        if not ok.all():
            i = int(np.flatnonzero(~ok)[0])
            pos += i
            if not body[i].strip() or body[i].startswith("\\"):
                fail(f"truncated: the header announces {sizes[k - 1]} {k}-grams, found {i}")
            fail(f"malformed {k}-gram line {body[i]!r}")
        probs = _floats([q[0] for q in parts], pos, path)
        backs = _floats([q[k + 1] if len(q) == k + 2 else "0" for q in parts], pos, path)
        # as KenLM: a log10 probability is <= 0 (-inf and -99 mean 0), a backoff a number; NaN is neither
        bad = np.flatnonzero(~(probs <= 0) | np.isnan(backs) | np.isposinf(backs))
        if bad.shape[0]:
            pos += int(bad[0])
            fail(f"{k}-gram line {lines[pos]!r}: a log10 probability must be <= 0 and a log10 backoff finite")
        grams = [q[1 : k + 1] for q in parts]
        if len(body) < sizes[k - 1]:
            raise ArpaFormatError(
                f"{path}: truncated: the header announces {sizes[k - 1]} {k}-grams, found {len(body)}"
            )
        pos += sizes[k - 1]
        sections.append((grams, probs, backs))
    while pos < n_lines and not lines[pos].strip():
        pos += 1
    if pos == n_lines or lines[pos].strip() != "\\end\\":
        raise ArpaFormatError(f"{path}: truncated or malformed: expected \\end\\ after the {order}-grams")

    unigrams, probs1, backs1 = sections[0]
    unigrams = [g[0] for g in unigrams]
    if bos not in unigrams or eos not in unigrams:
        raise ArpaFormatError(f"{path}: the 1-grams must include {bos!r} and {eos!r}")
    vocab = [unk, bos, eos] + [w for w in unigrams if w not in (unk, bos, eos)]
    index = {w: i for i, w in enumerate(vocab)}
    if len(index) != len(vocab) or len(set(unigrams)) != len(unigrams):
        raise ArpaFormatError(f"{path}: duplicate 1-grams")
    V = len(vocab)
    order1 = np.array([index[w] for w in unigrams], dtype=np.int64)  # (N1,) id of each file line
    logp1 = np.full(V, -np.inf)  # (V,) an <unk> missing from the file gets probability 0
    logb1 = np.zeros(V)  # (V,)
    logp1[order1] = probs1
    logb1[order1] = backs1
    logp1[1] = -np.inf  # <s> is never predicted
    keys, logp, logb = [np.arange(V, dtype=np.int64)], [logp1], [logb1]
    for k in range(2, order + 1):
        grams, probs, backs = sections[k - 1]
        flat = [w for g in grams for w in g]
        ids = np.fromiter(map(index.get, flat, repeat(-1)), dtype=np.int64, count=len(flat))  # (N_k*k,)
        if (ids < 0).any():
            word = flat[int(np.flatnonzero(ids < 0)[0])]
            raise ArpaFormatError(f"{path}: a {k}-gram uses {word!r}, which is not a 1-gram")
        ids = ids.reshape(-1, k)  # (N_k, k)
        row = ids[:, 0]  # (N_k,)
        for j in range(2, k):
            row = lookup_rows(keys[j - 1], row * V + ids[:, j - 1])
            if (row < 0).any():
                bad = " ".join(grams[int(np.flatnonzero(row < 0)[0])])
                raise ArpaFormatError(f"{path}: the {k}-gram {bad!r} has no {k - 1}-gram prefix entry")
        key = row * V + ids[:, -1]  # (N_k,)
        sort = np.argsort(key, kind="stable")
        key = key[sort]
        if key.shape[0] > 1 and (np.diff(key) == 0).any():
            raise ArpaFormatError(f"{path}: duplicate {k}-grams")
        keys.append(key)
        logp.append(probs[sort])
        logb.append(backs[sort])
    for arr in logp + logb:
        arr[arr <= LOG_ZERO] = -np.inf
    return ArpaTables(vocab=vocab, keys=keys, logp=logp, logb=logb[: order - 1])


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
