"""Count pre-tokens on a Dask cluster: map over shards, reduce by adding WordCounts.

    from dask.distributed import Client
    client = Client("tcp://scheduler:8786")            # or Client() for a local cluster
    counts = fasttok.dask.count_words(["s3://.../shard-000.txt", ...])   # any path the workers can open
    tok = fasttok.train_bpe_from_counts(counts, vocab_size=50_000)

Needs the `distributed` extra (`pip install "fasttok[distributed]"`). Addition of counts is commutative
and associative, so the result is the same whatever the number of shards or the order they finish in.
"""
import os

from fasttok.counts import WordCounts, count_words as _count_words
from fasttok.pretokenize import pattern_source


def _count_path(path, source):
    return _count_words([_as_path(path)], pattern=source)


def _as_path(path):
    import pathlib
    return path if isinstance(path, os.PathLike) else pathlib.Path(path)


def _count_texts(texts, source):
    return [_count_words(list(texts), pattern=source)]


def count_words(bag_or_paths, *, pattern="gpt2", split_every=8):
    """Count pre-tokens of a dask.bag.Bag of str texts, or of a list of file paths, with Dask.

    Runs on the current Dask scheduler (a `dask.distributed.Client` if one exists, else Dask's
    default). Returns a WordCounts equal to `fasttok.count_words` on the same text.
    """
    import dask.bag as db

    source = pattern_source(pattern)
    if isinstance(bag_or_paths, db.Bag):
        partials = bag_or_paths.map_partitions(_count_texts, source)
    else:
        paths = [os.fspath(p) for p in bag_or_paths]
        if not paths:
            return WordCounts(source)
        partials = db.from_sequence(paths, npartitions=len(paths)).map(_count_path, source)
    total = partials.reduction(_sum_counts, _sum_counts, split_every=split_every)
    return total.compute()


def _sum_counts(tables):
    tables = [t for t in tables if t is not None]
    return WordCounts.merge(tables) if tables else None


__all__ = ["count_words"]
