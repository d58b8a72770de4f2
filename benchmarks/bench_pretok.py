"""Pre-tokenization speed: fasttok's core scanner and word counter against `regex` + `collections.Counter`.

    python benchmarks/bench_pretok.py [--repeats 3] [--stdlib-mb 4] [FILE ...]

Run from the repository root after `python setup.py build_ext --inplace`. For each corpus and each
pattern ("gpt2", "gpt4") it times, as the median of --repeats runs (wall clock, one thread):

    regex+Counter   collections.Counter(regex.findall(pattern, text))      text already a str
    count bytes     fasttok WordCounter(pattern).add_bytes(data)           data as read from a file
    count str       fasttok WordCounter(pattern).add_text(text)            includes the UTF-8 encode
    regex.findall   regex.findall(pattern, text)
    split_bytes     fasttok split_bytes(data, pattern): list of bytes pieces
    scan only       the scanner kernel alone (no Python objects, no counting)

and prints MB/s (of UTF-8 input) and the ratio fasttok / regex. Corpora: ../shared tinyshakespeare,
the first --stdlib-mb MB of this Python's standard-library sources (sorted paths, reproducible), random
non-ASCII words (nearly every piece new: the counter's worst case), two single-piece inputs, and any
FILE given.
"""
from __future__ import annotations

import argparse
import collections
import statistics
import sys
import sysconfig
import time
from pathlib import Path

import numpy as np
import regex

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the in-place build of this checkout, not an installed fasttok

from fasttok import _pretok  # noqa: E402

SHAKESPEARE = ROOT.parent / "shared" / "corpora" / "tinyshakespeare.txt"


def stdlib_sources(n_bytes: int) -> bytes:
    """The first n_bytes of the standard library's .py files, concatenated in sorted path order."""
    parts, total = [], 0
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).rglob("*.py")):
        if "site-packages" in path.parts:
            continue
        data = path.read_bytes()
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            continue  # a few test files are deliberately not UTF-8
        parts.append(data)
        total += len(data)
        if total >= n_bytes:
            break
    return b"".join(parts)


def random_words(rng: np.random.Generator, n_words: int) -> bytes:
    """Worst case for a counter: words of 1-8 random Cyrillic/CJK letters, nearly all distinct,
    with some digits and punctuation, separated by spaces and newlines."""
    alphabet = [chr(c) for c in range(0x430, 0x450)] + [chr(c) for c in range(0x4E00, 0x4E00 + 500)]
    alphabet += list("0123456789.,!'")
    lengths = rng.integers(1, 9, size=n_words)  # (n_words,)
    letters = rng.integers(0, len(alphabet), size=int(lengths.sum()))  # (total letters,)
    separators = rng.choice([" ", " ", " ", "\n"], size=n_words)  # (n_words,)
    words, start = [], 0
    for length, separator in zip(lengths.tolist(), separators.tolist()):
        words.append("".join(alphabet[i] for i in letters[start:start + length]) + separator)
        start += length
    return "".join(words).encode("utf-8")


def corpora(args) -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    found = {}
    if SHAKESPEARE.exists():
        found["tinyshakespeare"] = SHAKESPEARE.read_bytes()
    found[f"stdlib-py-{args.stdlib_mb}MB"] = stdlib_sources(args.stdlib_mb << 20)
    found["random-words-nonascii"] = random_words(rng, 150_000)
    found["letters-no-spaces-2MB"] = rng.integers(97, 123, size=2 << 20, dtype=np.uint8).tobytes()
    found["one-char-2MB"] = b"x" * (2 << 20)
    for name in args.files:
        found[Path(name).name] = Path(name).read_bytes()
    return found


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", help="extra UTF-8 corpora to time")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--stdlib-mb", type=int, default=4)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    _pretok._class_table()  # built once per process, on first use
    print(f"class table build (once per process): {1e3 * (time.perf_counter() - start):.0f} ms")
    print(f"python {sys.version.split()[0]}, regex {regex.__version__}, median of {args.repeats}, MB/s of UTF-8 input")

    header = (f"{'corpus':<24}{'MB':>6} {'pattern':<8}{'regex+Counter':>14}{'count bytes':>12}{'count str':>10}"
              f"{'ratio':>7}{'regex.findall':>14}{'split_bytes':>12}{'ratio':>7}{'scan only':>10}")
    print(header)
    print("-" * len(header))
    for corpus_name, data in corpora(args).items():
        text = data.decode("utf-8")
        mb = len(data) / 1e6
        for name, pattern in _pretok.PATTERNS.items():
            compiled = regex.compile(pattern)
            # Same answer first: a fast wrong counter is worth nothing.
            counter = _pretok.WordCounter(name)
            counter.add_bytes(data)
            words, counts = counter.items()
            expected = collections.Counter(compiled.findall(text))
            assert dict(zip((w.decode() for w in words), counts.tolist())) == expected, corpus_name

            t_regex_count = median_seconds(lambda: collections.Counter(compiled.findall(text)), args.repeats)
            t_count_bytes = median_seconds(lambda: _pretok.WordCounter(name).add_bytes(data), args.repeats)
            t_count_text = median_seconds(lambda: _pretok.WordCounter(name).add_text(text), args.repeats)
            t_findall = median_seconds(lambda: compiled.findall(text), args.repeats)
            t_split = median_seconds(lambda: _pretok.split_bytes(data, name), args.repeats)
            t_scan = median_seconds(lambda: _pretok._py_n_pieces(data, name), args.repeats)
            print(f"{corpus_name:<24}{mb:>6.1f} {name:<8}{mb / t_regex_count:>14.1f}{mb / t_count_bytes:>12.1f}"
                  f"{mb / t_count_text:>10.1f}{t_regex_count / t_count_bytes:>6.1f}x"
                  f"{mb / t_findall:>14.1f}{mb / t_split:>12.1f}{t_findall / t_split:>6.1f}x{mb / t_scan:>10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
