"""Count pre-tokens on a Dask cluster: map over shards, reduce by adding WordCounts.

    from dask.distributed import Client
    client = Client("tcp://scheduler:8786")            # or Client() for a local cluster
    counts = fasttok.dask.count_words_dask(["s3://.../shard-000.txt", ...])   # any path the workers can open
    tok = fasttok.train_bpe_from_counts(counts, vocab_size=50_000)

Needs the `distributed` extra (`pip install "fasttok[distributed]"`). Addition of counts is commutative
and associative, so the result is the same whatever the number of shards or the order they finish in.
"""
import os
import pathlib
import warnings

from fasttok import counts
from fasttok._checks import check_int
from fasttok.pretokenize import pattern_source


def _count_path(path, source):
    return counts.count_words([path if isinstance(path, os.PathLike) else pathlib.Path(path)], pattern=source)


def _count_texts(texts, source):
    return [counts.count_words(list(texts), pattern=source)]


def count_words_dask(bag_or_paths, *, pattern="gpt2", split_every=8):
    """Count pre-tokens of a dask.bag.Bag of str texts, or of a list of file paths, with Dask.

    Runs on the current Dask scheduler (a `dask.distributed.Client` if one exists, else Dask's
    default). Returns a WordCounts equal to `fasttok.count_words` on the same text.
    """
    import dask.bag as db

    source = pattern_source(pattern)
    split_every = check_int("split_every", split_every, 2)
    if isinstance(bag_or_paths, db.Bag):
        partials = bag_or_paths.map_partitions(_count_texts, source)
    else:
        paths = [os.fspath(p) for p in bag_or_paths]
        if not paths:
            return counts.WordCounts(source)
        partials = db.from_sequence(paths, npartitions=len(paths)).map(_count_path, source)
    total = partials.reduction(_sum_counts, _sum_counts, split_every=split_every)
    return total.compute()


def _sum_counts(tables):
    tables = [t for t in tables if t is not None]
    return counts.WordCounts.merge(tables) if tables else None


def __getattr__(name):
    # The old name, kept for one release.
    if name == "count_words":
        warnings.warn("fasttok.dask.count_words is renamed fasttok.dask.count_words_dask; the old name will be "
                      "removed in the next release", DeprecationWarning, stacklevel=2)
        return count_words_dask
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["count_words_dask"]
