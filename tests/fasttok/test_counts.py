"""WordCounts: counting in the core equals regex counting; map-reduce gives the same merges."""
import collections
import pickle

import pytest
from hypothesis import given, strategies as st

import fasttok
from fasttok import pretokenize
from fasttok._reference import bpe as reference
from tests.fasttok.unicode_agreement import agreeing_text
from tests.texts import docs_lines, docs_text


def regex_counts(texts, pattern):
    return dict(reference.count_pieces(texts, pattern))


@given(texts=st.lists(agreeing_text(max_size=60), max_size=5),
       pattern=st.sampled_from(["gpt2", "gpt4", "whitespace", r"\d+|[a-z]+", None]))
def test_counts_equal_regex_findall_counts(texts, pattern):
    counts = fasttok.count_words(texts, pattern=pattern)
    expected = regex_counts(texts, pattern) if pattern else dict(collections.Counter(t for t in texts if t))
    assert counts.to_dict() == expected
    assert counts.total() == sum(expected.values())
    assert counts.pattern == (pretokenize.pattern_name(pretokenize.pattern_source(pattern)) if pattern else None)


def test_file_counts_equal_text_counts_and_stream_in_blocks(tmp_path, monkeypatch, docs_file):
    text = docs_text()
    monkeypatch.setattr(fasttok.counts, "BLOCK_SIZE", 4096)  # many blocks, pieces cut at block ends
    for pattern in ("gpt2", "gpt4"):
        assert fasttok.count_words([docs_file], pattern=pattern) == fasttok.count_words(text, pattern=pattern)


def test_long_line_without_newlines_is_counted_exactly(tmp_path, monkeypatch):
    monkeypatch.setattr(fasttok.counts, "BLOCK_SIZE", 1000)
    text = ("word " * 3000) + "x" * 5000 + " 12345 \u00e9t\u00e9  " * 100
    path = tmp_path / "one_line.txt"
    path.write_text(text, encoding="utf-8")
    assert fasttok.count_words([path]).to_dict() == regex_counts([text], "gpt2")


@pytest.mark.parametrize("workers", [2, 3])
def test_num_threads_gives_identical_counts_and_merges(tmp_path, monkeypatch, workers, docs_file):
    monkeypatch.setattr(fasttok.counts, "_SPLIT_BYTES", 100_000)  # split the file into ranges
    one = fasttok.count_words([docs_file])
    many = fasttok.count_words([docs_file], num_threads=workers)
    assert many == one
    a = fasttok.train_bpe([docs_file], vocab_size=600)
    b = fasttok.train_bpe([docs_file], vocab_size=600, num_threads=workers)
    assert a == b


def test_sum_is_order_independent_and_pattern_checked():
    lines = docs_lines()
    shards = [fasttok.count_words(lines[i::4]) for i in range(4)]
    whole = fasttok.count_words(lines)
    assert shards[0] + shards[1] + shards[2] + shards[3] == whole
    assert fasttok.WordCounts.merge(reversed(shards)) == whole
    assert fasttok.train_bpe_from_counts(whole, vocab_size=500) == fasttok.train_bpe(lines, vocab_size=500)
    with pytest.raises(ValueError, match="made with pattern 'gpt4' into counts made with pattern 'gpt2'"):
        shards[0] + fasttok.count_words(lines[:10], pattern="gpt4")
    with pytest.raises(ValueError, match="at least one"):
        fasttok.WordCounts.merge([])


def test_pickle_save_load_round_trip(tmp_path):
    counts = fasttok.count_words(["héllo wörld, hello world 123 \U0001F600"], pattern="gpt4")
    assert pickle.loads(pickle.dumps(counts)) == counts
    path = tmp_path / "counts.txt"
    counts.save(path)
    assert fasttok.WordCounts.load(path) == counts
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    with pytest.raises(fasttok.ModelFileError, match="counts"):
        fasttok.WordCounts.load(path)
    path.write_text("something else\n")
    with pytest.raises(fasttok.ModelFileError, match="not a fasttok-counts"):
        fasttok.WordCounts.load(path)


def test_invalid_utf8_in_a_later_block_names_the_file_offset(tmp_path, monkeypatch):
    monkeypatch.setattr(fasttok.counts, "BLOCK_SIZE", 64)
    path = tmp_path / "bad.txt"
    path.write_bytes(b"fine text here\n" * 20 + b"oops \xc3\x28 here\n")
    with pytest.raises(fasttok.CorpusError, match=f"bad.txt: invalid UTF-8 at byte offset {15 * 20 + 5}"):
        fasttok.count_words([path])


def test_dask_local_cluster_equals_single_process(tmp_path):
    distributed = pytest.importorskip("dask.distributed")  # installed in CI by the distributed extra
    import dask.bag as db
    import fasttok.dask
    lines = docs_lines(keepends=True)
    paths = []
    for i in range(5):
        p = tmp_path / f"shard{i}.txt"
        p.write_text("".join(lines[i::5]), encoding="utf-8")
        paths.append(p)
    expected = fasttok.count_words(paths)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        from_paths = fasttok.dask.count_words_dask(paths)
        from_bag = fasttok.dask.count_words_dask(db.from_sequence(lines, npartitions=7))
    assert from_paths == expected
    assert from_bag == fasttok.count_words(lines)
    assert fasttok.train_bpe_from_counts(from_paths, vocab_size=400) == fasttok.train_bpe(paths, vocab_size=400)


def test_custom_regex_that_matches_empty_strings():
    counts = fasttok.count_words(["ab  cd"], pattern=r"\w*")
    assert counts.to_dict() == {"ab": 1, "cd": 1}


def test_one_piece_much_longer_than_a_block(tmp_path, monkeypatch):
    monkeypatch.setattr(fasttok.counts, "BLOCK_SIZE", 256)
    path = tmp_path / "long.txt"
    path.write_text("x" * 100_000 + " tail", encoding="utf-8")
    assert fasttok.count_words([path]).to_dict() == {"x" * 100_000: 1, " tail": 1}
