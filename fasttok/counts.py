"""Pre-token counting: the first, corpus-sized half of training, as a mergeable value.

`count_words` turns a corpus into a `WordCounts` table (piece bytes -> 64-bit count) that can be added
to other tables, pickled, saved and loaded, so counting can run as map-reduce over processes or
machines (see fasttok/dask.py); `train_bpe_from_counts` learns from such a table.
"""
import json
import os
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np

from fasttok import _format, _pretok
from fasttok._checks import check_num_threads
from fasttok._files import (BLOCK_SIZE, atomic_write, corpus_and_files, corpus_items, open_corpus_file,
                            read_blocks, utf8_error)
from fasttok.errors import ModelFileError
from fasttok.pretokenize import check_stored_pattern, pattern_name, pattern_source, safe_cut, splitter

_FORMAT = "fasttok-counts"
_VERSION = 2  # 2 ends with `end N sha256=...` (see fasttok/_format.py); version 1 files, without it, still load
_READS = (1, 2)

# Files larger than this are split into byte ranges so that several workers can share one file.
_SPLIT_BYTES = 8 << 20


class WordCounts:
    """Counts of pre-tokens (as UTF-8 bytes), tagged with the split pattern that produced them.

    Immutable in use: `a + b` and `WordCounts.merge(tables)` return new tables. Counting with
    different patterns cannot be mixed (ValueError).
    """

    def __init__(self, pattern="gpt2"):
        source = pattern_source(pattern)
        self._source = source
        # The core table: for the named patterns it also scans; for others it only stores counts
        # (the Python regex splits), under the scanner id it is never asked to use.
        self._table = _pretok.WordCounter(pattern_name(source) if _scannable(source) else "gpt2")

    # -- building -----------------------------------------------------------------------------

    def _add_text(self, text):
        if _scannable(self._source):
            self._table.add_text(text)
        elif self._source is None:
            if text:
                self._table.add_counts([text.encode("utf-8")], [1])
        else:
            self._add_pieces(splitter(self._source)(text))

    def _add_unit(self, unit):
        """Count one work unit of count_words: ("text", [str...]) or ("file", path, start, stop)."""
        if unit[0] == "text":
            for text in unit[1]:
                self._add_text(text)
        else:
            self._add_file(*unit[1:])

    def _add_pieces(self, pieces):
        counts = {}
        for p in pieces:
            if p:  # a custom regex may match the empty string; an empty piece has nothing to learn
                counts[p] = counts.get(p, 0) + 1
        if counts:
            self._table.add_counts([p.encode("utf-8") for p in counts], list(counts.values()))

    def _add_file(self, path, start=0, stop=None):
        """Count data[start:stop) of a file, streamed in blocks."""
        if not _scannable(self._source):
            if start or stop is not None:
                raise ValueError("byte ranges need a named pattern")
            for block in _blocks_for(path, self._source):
                self._add_text(block)
            return
        path_s = os.fspath(path)
        with open_corpus_file(path) as f:
            if start:
                f.seek(start)  # only then: a pipe (`fasttok train <(zcat corpus.gz)`) cannot seek at all
            offset = start  # file offset of pending[0]
            pending = b""
            while True:
                # A piece longer than the pending bytes makes add_bytes consume nothing; reading as
                # much again as is pending keeps the rescans of such a piece linear in total.
                want = max(BLOCK_SIZE, len(pending))
                if stop is not None:
                    want = min(want, stop - f.tell())
                chunk = f.read(want) if want > 0 else b""
                data = pending + chunk
                final = not chunk
                try:
                    used = self._table.add_bytes(data, final=final) if data else 0
                except UnicodeDecodeError as e:
                    raise utf8_error(e, data, path_s, offset) from None
                if final:
                    return
                pending = data[used:]
                offset += used

    @property
    def pattern(self):
        """The split pattern: a name from fasttok.pretokenize.PATTERNS, a regex string, or None."""
        return None if self._source is None else pattern_name(self._source)

    # -- reading ------------------------------------------------------------------------------

    def __len__(self):
        """Number of distinct pre-tokens."""
        return len(self._table)

    def total(self):
        """Number of pre-tokens counted."""
        return self._table.total()

    def items(self):
        """(words, counts): distinct pieces as bytes, sorted bytewise, and their int64 counts."""
        return self._table.items()

    def to_dict(self):
        """{piece str: count}."""
        words, counts = self.items()
        return {w.decode("utf-8"): int(c) for w, c in zip(words, counts.tolist())}

    def __eq__(self, other):
        if not isinstance(other, WordCounts):
            return NotImplemented
        if self._source != other._source or len(self) != len(other):
            return False
        (w1, c1), (w2, c2) = self.items(), other.items()
        return w1 == w2 and np.array_equal(c1, c2)

    __hash__ = None

    def __repr__(self):
        return f"WordCounts(pattern={self.pattern!r}, n_words={len(self)}, total={self.total()})"

    # -- combining ----------------------------------------------------------------------------

    def _check_same_pattern(self, other):
        if not isinstance(other, WordCounts):
            raise TypeError(f"can only combine WordCounts with WordCounts, not {type(other).__name__}")
        if other._source != self._source:
            raise ValueError(f"cannot merge word counts made with pattern {other.pattern!r} into counts made "
                             f"with pattern {self.pattern!r}")

    def __add__(self, other):
        self._check_same_pattern(other)
        out = WordCounts(self._source)
        out._table.merge(self._table)
        out._table.merge(other._table)
        return out

    @classmethod
    def merge(cls, tables):
        """The sum of an iterable of WordCounts (all made with the same pattern)."""
        tables = list(tables)
        if not tables:
            raise ValueError("WordCounts.merge needs at least one table")
        out = WordCounts(tables[0]._source)
        for t in tables:
            out._check_same_pattern(t)
            out._table.merge(t._table)
        return out

    # -- persistence --------------------------------------------------------------------------

    def __reduce__(self):
        words, counts = self.items()
        return (_from_items, (self._source, words, counts))

    def save(self, path):
        """Write atomically: a header line, a settings line, `<count> <hex bytes>` per word, then
        `end N sha256=...` (the number of words and the content hash)."""
        words, counts = self.items()
        lines = [f"{_FORMAT} {_VERSION}", json.dumps({"pattern": self.pattern, "n_words": len(words)}),
                 *(f"{c} {w.hex()}" for w, c in zip(words, counts.tolist())), f"end {len(words)}"]
        with atomic_write(path) as f:
            f.write(_format.hashed_text(lines))

    @classmethod
    def load(cls, path, *, trust_pattern=False):
        """Read a file `save` wrote; ModelFileError naming it for anything else (a damaged, truncated or
        changed file: a wrong hash, a malformed or repeated word, a count that is not a positive int64).
        Its pattern is chosen by the file: as with fasttok.load, only named patterns and literals are
        accepted unless trust_pattern=True (pretokenize.check_stored_pattern)."""
        path = os.fspath(path)
        text = _format.read_text(path, "word counts")
        header = text[:text.find("\n")] if "\n" in text else text
        version = next((v for v in _READS if header == f"{_FORMAT} {v}"), None)
        if version is None:
            raise ModelFileError(f"{path}: not a {_FORMAT} file of version {' or '.join(map(str, _READS))} "
                                 f"(header {header[:40]!r})")
        if not text.endswith("\n"):
            raise ModelFileError(f"{path}: truncated word-counts file (the last line is incomplete)")
        try:
            text, hashed = _format.check_hash(text, "word-counts file")
        except ModelFileError as e:
            raise ModelFileError(f"{path}: {e}") from None
        if version >= 2 and not hashed:
            raise ModelFileError(f"{path}: truncated word-counts file (no 'end N sha256=...' line)")
        lines = text.split("\n")[:-1]
        if len(lines) < 2:
            raise ModelFileError(f"{path}: truncated word-counts file")
        settings = _format.json_loads(lines[1], f"{path}: corrupt word-counts settings")
        if not isinstance(settings, dict):
            raise ModelFileError(f"{path}: corrupt word-counts settings (not a JSON object)")
        try:
            _format.check_settings(settings, {"pattern": ((str, type(None)), True), "n_words": ((int,), True)})
            records = _format.without_end(lines[2:]) if version >= 2 else lines[2:]
            words, counts = _parse_counts(records)
            if len(words) != settings["n_words"]:
                raise ModelFileError("truncated word-counts file (n_words says otherwise)")
            source = pattern_source(check_stored_pattern(settings["pattern"], trust_pattern=trust_pattern))
        except (ModelFileError, ValueError) as e:
            raise ModelFileError(f"{path}: {e}") from None
        return _from_items(source, words, np.array(counts, dtype=np.int64))


def _parse_counts(records):
    """The `<count> <hex>` records as (words, counts): counts positive int64 in plain decimal, words
    distinct non-empty UTF-8 in lowercase hex."""
    words, counts, seen = [], [], set()
    for k, line in enumerate(records):
        c, _, h = line.partition(" ")
        try:
            word = bytes.fromhex(h)
            word.decode("utf-8")
        except ValueError:
            word = None
        if not (c.isascii() and c.isdigit() and len(c) <= 19 and 0 < int(c) < 2**63 and c[0] != "0") or not word \
                or word.hex() != h or word in seen:
            raise ModelFileError(f"corrupt word-counts record on line {k + 3}: {line[:60]!r}")
        seen.add(word)
        counts.append(int(c))
        words.append(word)
    return words, counts


def _from_items(source, words, counts):
    out = WordCounts(source)
    if len(words):
        out._table.add_counts(list(words), counts)
    return out


def _scannable(source):
    return source is not None and pattern_name(source) in _pretok.PATTERNS


def _blocks_for(path, source):
    return read_blocks(path, cut=safe_cut(source))


# ------------------------------------------------------------------------------------------------
# count_words: one process or many

def _units(corpus, source, num_threads):
    """Split a corpus into work units: ("text", [str...]) and ("file", path, start, stop)."""
    texts, size = [], 0
    for item in corpus_items(corpus):
        if isinstance(item, str):
            texts.append(item)
            size += len(item)
            if size >= _SPLIT_BYTES:
                yield ("text", texts)
                texts, size = [], 0
        elif num_threads > 1 and _scannable(source):
            yield from _file_ranges(item)
        else:
            yield ("file", item, 0, None)
    if texts:
        yield ("text", texts)


def _file_ranges(path):
    """Byte ranges of a file cut at lone newlines between printable ASCII (see pretokenize.safe_cut)."""
    start = 0
    with open_corpus_file(path) as f:
        size = os.fstat(f.fileno()).st_size
        while size - start > _SPLIT_BYTES:
            f.seek(start + _SPLIT_BYTES)
            window = f.read(1 << 16)
            cut = _first_safe_cut(window)
            if cut < 0:
                break  # no safe cut nearby: the rest stays one range
            stop = start + _SPLIT_BYTES + cut
            yield ("file", path, start, stop)
            start = stop
    yield ("file", path, start, None)


def _first_safe_cut(data):
    i = 0
    while True:
        i = data.find(b"\n", i + 1)
        if i < 1 or i + 1 >= len(data):
            return -1
        if 0x21 <= data[i + 1] <= 0x7E and 0x21 <= data[i - 1] <= 0x7E:
            return i + 1


def count_words(corpus=None, *, files=None, pattern="gpt2", num_threads=1, num_workers=None):
    """Count the pre-tokens of a corpus into a WordCounts.

    corpus: a str text, a pathlib.Path, or an iterable of str texts and Path files; files: a path
    (str or Path) or a list of them, read as UTF-8 files. Either or both may be given.

    num_threads > 1 splits the corpus into units (large files into byte ranges) and counts them in
    parallel, then sums the tables; the result is identical for any number of threads. With the named
    patterns the core scans and counts without the GIL, so the workers are threads (no start-up or
    pickling cost); a custom regex holds the GIL in Python, so its workers are processes.
    (num_workers: the old name of num_threads, deprecated.)
    """
    source = pattern_source(pattern)
    num_threads = check_num_threads(num_threads, num_workers)
    corpus = corpus_and_files(corpus, files)
    if num_threads == 1:
        return _count_units(source, _units(corpus, source, 1))
    units = list(_units(corpus, source, num_threads))
    if not units:
        return WordCounts(source)
    n = min(num_threads, len(units))
    if _scannable(source):
        # One table per thread (a table refuses concurrent updates); units are dealt round-robin.
        with ThreadPoolExecutor(max_workers=n) as pool:
            parts = list(pool.map(_count_units, [source] * n, [units[k::n] for k in range(n)]))
    else:
        with ProcessPoolExecutor(max_workers=n) as pool:
            parts = list(pool.map(_count_units, [source] * len(units), [[u] for u in units]))
    return WordCounts.merge(parts)


def _count_units(source, units):
    """One table of the given work units (a worker's share)."""
    counts = WordCounts(source)
    for unit in units:
        counts._add_unit(unit)
    return counts
