"""Pre-tokenization speed: fasttok's core scanner and word counter against `regex` + `collections.Counter`.

    python benchmarks/bench_pretok.py [--repeats 3] [--stdlib-mb 4] [FILE ...]

Run from the repository root after `python setup.py build_ext --inplace`. For each corpus and each
pattern ("gpt2", "gpt4") it times, as the median of --repeats (= --runs) runs, each in a fresh
subprocess (benchmarks/_harness.py; wall clock, one thread):

    regex+Counter   collections.Counter(regex.findall(pattern, text))      text already a str
    count bytes     fasttok WordCounter(pattern).add_bytes(data)           data as read from a file
    count str       fasttok WordCounter(pattern).add_text(text)            includes the UTF-8 encode
    regex.findall   regex.findall(pattern, text)
    split_bytes     fasttok split_bytes(data, pattern): list of bytes pieces
    scan only       the scanner kernel alone (no Python objects, no counting)

(a call under 0.2 s is timed a second time in the same child, warm) and prints MB/s (of UTF-8 input) and two speed-ups: regex+Counter's time / count bytes' time, and
regex.findall's time / split_bytes' time (above 1: fasttok is faster). Before timing, a child checks
that fasttok's counts equal regex + Counter's. Corpora: ../shared tinyshakespeare, the first
--stdlib-mb MB of this Python's standard-library sources (sorted paths, reproducible), random non-ASCII
words (nearly every piece new: the counter's worst case), two single-piece inputs, and any FILE given.
`--json PATH` writes the rows as JSON.
"""

from __future__ import annotations

import argparse
import sys
import sysconfig
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness  # noqa: E402

SHAKESPEARE = _harness.shared_corpus("tinyshakespeare.txt")
PATTERNS = ("gpt2", "gpt4")  # the names of fasttok._pretok.PATTERNS


# -- the corpora, rebuilt in each child (deterministic; not timed) -----------------------------------

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


def random_words(rng, n_words: int) -> bytes:
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


def corpus_names(stdlib_mb: int, files) -> list[str]:
    names = ["tinyshakespeare"] if SHAKESPEARE.exists() else []
    names += [f"stdlib-py-{stdlib_mb}MB", "random-words-nonascii", "letters-no-spaces-2MB", "one-char-2MB"]
    return names + [str(Path(f).resolve()) for f in files]


def corpus_bytes(name: str) -> bytes:
    if name == "tinyshakespeare":
        return SHAKESPEARE.read_bytes()
    if name.startswith("stdlib-py-"):
        return stdlib_sources(int(name[len("stdlib-py-"):-2]) << 20)
    if name == "one-char-2MB":
        return b"x" * (2 << 20)
    if Path(name).is_absolute():
        return Path(name).read_bytes()
    import numpy as np
    # one default_rng(0) stream, drawn in the order of the original single-process script (the random
    # words, then the letters), so that the letters are the same bytes as in its tables
    rng = np.random.default_rng(0)
    words = random_words(rng, 150_000)
    if name == "random-words-nonascii":
        return words
    if name == "letters-no-spaces-2MB":
        return rng.integers(97, 123, size=2 << 20, dtype=np.uint8).tobytes()
    raise ValueError(f"unknown corpus {name!r}")


# -- workers: each runs in a fresh process (see _harness) and returns {"seconds": ..., ...} -----------

def class_table():
    from fasttok import _pretok
    start = time.perf_counter()
    _pretok._class_table()  # built once per process, on first use
    return {"seconds": time.perf_counter() - start}


def check(corpus, pattern):
    """fasttok's counts must equal regex + Counter's: a fast wrong counter is worth nothing."""
    import collections
    import regex
    from fasttok import _pretok
    data = corpus_bytes(corpus)
    counter = _pretok.WordCounter(pattern)
    counter.add_bytes(data)
    words, counts = counter.items()
    expected = collections.Counter(regex.compile(_pretok.PATTERNS[pattern]).findall(data.decode("utf-8")))
    if dict(zip((w.decode() for w in words), counts.tolist())) != expected:
        raise AssertionError(f"fasttok's counts differ from regex + Counter on {corpus} ({pattern})")
    return {"seconds": 0.0, "mb": len(data) / 1e6, "regex": regex.__version__}


def pretok(corpus, pattern, method):
    """One timed call of `method` on the corpus (the corpus, the pattern and the class table are ready)."""
    import collections
    data = corpus_bytes(corpus)
    text = data.decode("utf-8")
    if method in ("regex+Counter", "regex.findall"):
        import regex
        from fasttok._pretok import PATTERNS as FASTTOK_PATTERNS
        compiled = regex.compile(FASTTOK_PATTERNS[pattern])
        compiled.findall("warm up")
        call = {"regex+Counter": lambda: collections.Counter(compiled.findall(text)),
                "regex.findall": lambda: compiled.findall(text)}[method]
    else:
        from fasttok import _pretok
        _pretok._class_table()
        call = {"count bytes": lambda: _pretok.WordCounter(pattern).add_bytes(data),
                "count str": lambda: _pretok.WordCounter(pattern).add_text(text),
                "split_bytes": lambda: _pretok.split_bytes(data, pattern),
                "scan only": lambda: _pretok._py_n_pieces(data, pattern)}[method]
    start = time.perf_counter()
    call()
    seconds = time.perf_counter() - start
    if seconds < 0.2:
        # a call this short is dominated by first-touch costs (page faults, cold caches) in a fresh
        # process: time a second one, as the repeated in-process runs of earlier versions did
        start = time.perf_counter()
        call()
        seconds = time.perf_counter() - start
    return {"seconds": seconds}


METHODS = ("regex+Counter", "count bytes", "count str", "regex.findall", "split_bytes", "scan only")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", help="extra UTF-8 corpora to time")
    parser.add_argument("--stdlib-mb", type=int, default=4)
    _harness.add_common_arguments(parser)
    parser.add_argument("--repeats", dest="runs", type=int, default=argparse.SUPPRESS, help="the same as --runs")
    args = parser.parse_args(argv)
    _harness.check_common_arguments(parser, args)

    def measure(worker, kwargs, runs=args.runs):
        return _harness.measure(__file__, worker, kwargs, runs=runs, threads=args.threads, quiet=True)

    table = measure("class_table", {}, runs=1)
    if _harness.ok(table):
        print(f"class table build (once per process, in a fresh one): {1e3 * table['seconds']:.0f} ms")
    rows = []
    for corpus in corpus_names(args.stdlib_mb, args.files):
        for pattern in PATTERNS:
            row = {"corpus": Path(corpus).name, "pattern": pattern}
            checked = measure("check", {"corpus": corpus, "pattern": pattern}, runs=1)
            if not _harness.ok(checked):
                rows.append({**row, **checked})
                continue
            row.update(mb=checked["mb"], mb_label=f"{checked['mb']:.1f}", regex=checked["regex"], status="ok")
            for method in METHODS:
                r = measure("pretok", {"corpus": corpus, "pattern": pattern, "method": method})
                if not _harness.ok(r):
                    row.update(status=r["status"], reason=f"{method}: {r['reason']}")
                    break
                row[method] = r["seconds"]
                row[f"{method} MB/s"] = row["mb"] / r["seconds"]
            if _harness.ok(row):
                row["count_speedup"] = _harness.speedup(row["count bytes"], row["regex+Counter"])
                row["split_speedup"] = _harness.speedup(row["split_bytes"], row["regex.findall"])
            rows.append(row)
            print(f"  done: {row['corpus']} {pattern}", file=sys.stderr, flush=True)
    regex_version = next((r["regex"] for r in rows if "regex" in r), "?")
    columns = [("corpus", "corpus", None), ("MB", "mb_label", None), ("pattern", "pattern", None)]
    for method in METHODS[:3]:
        columns.append((f"{method} MB/s", f"{method} MB/s", "{:.1f}"))
    columns.append(("speed-up (count)", "count_speedup", "{:.1f}"))
    for method in METHODS[3:5]:
        columns.append((f"{method} MB/s", f"{method} MB/s", "{:.1f}"))
    columns += [("speed-up (split)", "split_speedup", "{:.1f}"), ("scan only MB/s", "scan only MB/s", "{:.1f}")]
    _harness.print_table(columns, rows, title=f"python {sys.version.split()[0]}, regex {regex_version}, "
                         f"median of {args.runs}, MB/s of UTF-8 input",
                         notes=["(speed-up (count) = regex+Counter's time / count bytes' time; "
                                "speed-up (split) = regex.findall's time / split_bytes' time)"])
    _harness.write_json(args.json, _harness.results(runs=args.runs, class_table=table, rows=rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
