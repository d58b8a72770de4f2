"""Build the benchmark corpus: Python standard library sources mixed with the Python docs text.

    python benchmarks/make_corpus.py                      # -> benchmarks/out/corpus50.txt, 50 MB
    python benchmarks/make_corpus.py /tmp/c5.txt --mb 5

Sources: every *.py file under `sysconfig.get_paths()["stdlib"]` in sorted path order (site-packages
left out: it is not the standard library and differs between machines; files that are not valid
UTF-8, a few deliberately broken test files, are skipped), and the docs topics of `pydoc_data.topics`
in sorted key order. The topics are spread evenly between the source files so that every stretch of
the corpus has both English and code. When the sources run out before `--mb` megabytes (10**6 bytes),
the same sequence starts again; the output is cut at the last line end before the size, so it is a
few bytes under it. The result depends only on the Python version that runs this script: it prints
that version, the size, how much of it is distinct text, and the sha256 so runs can be compared.
"""
import argparse
import hashlib
import pathlib
import sys
import sysconfig

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _harness import write_atomic  # noqa: E402  (one atomic writer for every benchmark output)

DEFAULT_OUT = pathlib.Path(__file__).resolve().parent / "out" / "corpus50.txt"


def source_files(root):
    """The stdlib's *.py files in sorted path order, site-packages excluded."""
    root = pathlib.Path(root)
    return sorted(p for p in root.rglob("*.py") if "site-packages" not in p.relative_to(root).parts)


def read_utf8(path):
    """The file's text with a final newline, or None when it is not valid UTF-8."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if text.endswith("\n") else text + "\n"


def docs_topics():
    from pydoc_data import topics
    return [topics.topics[k] if topics.topics[k].endswith("\n") else topics.topics[k] + "\n"
            for k in sorted(topics.topics)]


def mixed_documents(sources, docs):
    """Interleave: doc k goes after source number about (k + 1) * len(sources) / (len(docs) + 1).

    >>> mixed_documents(["s0", "s1", "s2", "s3"], ["d0"])
    ['s0', 's1', 'd0', 's2', 's3']
    """
    out = []
    k = 0
    for i, src in enumerate(sources):
        out.append(src)
        while k < len(docs) and (k + 1) * len(sources) <= (i + 1) * (len(docs) + 1):
            out.append(docs[k])
            k += 1
    out.extend(docs[k:])
    return out


def build(size):
    """The corpus as UTF-8 bytes of at most `size` bytes ending at a line end, the distinct byte count,
    and the number of files skipped as invalid UTF-8."""
    texts = [read_utf8(path) for path in source_files(sysconfig.get_paths()["stdlib"])]
    sources = [t for t in texts if t is not None]
    one_pass = "".join(mixed_documents(sources, docs_topics())).encode("utf-8")
    if not one_pass:
        raise SystemExit("no stdlib sources found")
    n_passes = -(-size // len(one_pass))
    data = one_pass * n_passes
    cut = data.rfind(b"\n", 0, size) + 1  # whole lines only; b"\n" is never inside a multi-byte character
    return data[:cut], min(len(one_pass), cut), len(texts) - len(sources)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", nargs="?", default=str(DEFAULT_OUT), help=f"output file (default {DEFAULT_OUT})")
    p.add_argument("--mb", type=float, default=50.0, help="size in megabytes of 10**6 bytes (default 50)")
    args = p.parse_args(argv)
    if not args.mb > 0:
        p.error("--mb must be positive")
    data, distinct, n_skipped = build(int(args.mb * 1e6))
    write_atomic(args.out, data)
    print(f"{args.out}: {len(data)} bytes ({len(data) / 1e6:.2f} MB, {distinct / 1e6:.2f} MB distinct), "
          f"python {sys.version.split()[0]}, {n_skipped} non-UTF-8 files skipped")
    print(f"sha256 {hashlib.sha256(data).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
