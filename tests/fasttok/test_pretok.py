"""The core pre-tokenizer (fasttok._pretok) against its oracle, the `regex` module.

Every property here compares with `regex.findall(pattern, text)` (or a Counter of it) for the two
published patterns. Generated text avoids exactly one set of code points (tests/fasttok/unicode_agreement.py):
those unassigned in the running Python's unicodedata that the (newer) regex module classes as letters or
numbers; the exhaustive table tests below prove that this set is the *only* place where the classes differ.
"""
import collections
import doctest
import os
import pickle
import subprocess
import sys
import threading
import unicodedata

import numpy as np
import pytest
import regex
from hypothesis import example, given
from hypothesis import strategies as st

from fasttok import _pretok, _unicode
from tests.fasttok.unicode_agreement import AGREEING_CHARS, newer_code_points, regex_classes
from tests.texts import docs_lines, docs_text, stdlib_text

PATTERN_NAMES = ["gpt2", "gpt4"]


def findall(text, name):
    return regex.findall(_pretok.PATTERNS[name], text)


# Pieces that exercise each alternative of the two patterns.
FRAGMENTS = [
    "'s", "'S", "'t", "'T", "'re", "'RE", "'rE", "'ve", "'Ve", "'m", "'M", "'ll", "'LL", "'lL", "'d",
    "'D", "'\u017f", "'\u212a", "'", "''", "'x", "'l", "'r", "'v", "\u2019s", "\u2019",
    " ", "  ", "   ", "\t", "\n", "\r", "\r\n", "\n\n", " \n", "\r\r\n", "\u3000", "\x85", "\x0b", "\x0c",
    "\x1c", "\x1f", "\u2028", "\u2029", "\xa0", "\u1680", "\u200b", "\u202f",
    "a", "Z", "word", "\xe9", "e\u0301", "\u0301", "\u3042", "\u4e2d\u6587", "\u00df", "\u017f",
    "7", "123", "1234567", "\u0661\u0662\u0663", "\u0967", "\u2460", "\u216b", "\u00bd", "\U0001d7d8",
    "\U0001f44d\U0001f3fd", "\U0001f600", "\u200d", ".", ",", "!?", "_", "-", "\x00", "\x7f",
    "\ufeff", "\U0010ffff", "\uffff",
]


CHARS = AGREEING_CHARS
TEXTS = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(CHARS, max_size=3)), max_size=24).map("".join)


# ----------------------------------------------------------------------------------------------
# The class table


def test_class_table_equals_unicodedata_for_every_code_point():
    ours = _unicode.class_of_all_code_points(*_pretok._class_table())
    # The slow reference, one unicodedata lookup per code point (surrogates excluded: never decoded).
    slow = np.array([_unicode.char_class(cp) for cp in range(0x110000)], dtype=np.uint8)
    slow[0xD800:0xE000] = _unicode.OTHER
    assert np.array_equal(ours, slow)


def test_class_table_differs_from_regex_only_on_code_points_unassigned_in_unicodedata():
    newer = sorted(newer_code_points())
    categories = {unicodedata.category(chr(cp)) for cp in newer}
    assert categories <= {"Cn"}, f"classes differ on assigned code points: {categories}"
    # ...and the regex module calls each of them a letter or a number, never white space.
    assert set(regex_classes()[newer].tolist()) <= {_unicode.LETTER, _unicode.NUMBER}


def test_whitespace_is_unicode_white_space_not_str_isspace():
    # \x1c-\x1f are str.isspace() but not White_Space, so regex's \s does not match them.
    for ch in "\x1c\x1d\x1e\x1f":
        assert _pretok.split("a" + ch + "b", "gpt2") == findall("a" + ch + "b", "gpt2") == ["a", ch, "b"]


def test_case_insensitive_contraction_letters_are_those_of_regex():
    # The GPT-4 scanner accepts exactly ASCII s d m t l v r e in either case, plus U+017F (long s).
    every_char = "".join(chr(cp) for cp in range(0x110000) if not 0xD800 <= cp < 0xE000)
    folded = set(regex.findall(r"(?i:[sdmtlvre])", every_char))
    assert folded == set("sdmtlvreSDMTLVRE\u017f")
    candidates = sorted(folded) + ["x", "'", " "]
    for a in candidates:
        for b in candidates:
            text = "'" + a + b + "x"
            for name in PATTERN_NAMES:
                assert _pretok.split(text, name) == findall(text, name), (name, text)


# ----------------------------------------------------------------------------------------------
# split / split_bytes against regex.findall


@pytest.mark.parametrize("name", PATTERN_NAMES)
@given(text=TEXTS)
@example(text="I'LL be there, 'cause we've 12345 \U0001f600  \r\n\r\n  ok")
@example(text="\n" + " " * 5 + "x\t\t\n  \n ")
def test_split_equals_regex_findall(name, text):
    pieces = _pretok.split(text, name)
    assert pieces == findall(text, name)
    assert _pretok.split_bytes(text.encode("utf-8"), name) == [p.encode("utf-8") for p in pieces]


@pytest.mark.parametrize("name", PATTERN_NAMES)
@given(text=st.text(CHARS, max_size=60))
def test_split_equals_regex_findall_on_plain_random_text(name, text):
    assert _pretok.split(text, name) == findall(text, name)


@given(text=TEXTS)
def test_gpt2_pattern_splits_like_tiktoken_r50k_pattern(text):
    # tiktoken publishes GPT-2's pattern rewritten with possessive quantifiers; same pieces.
    openai_public = pytest.importorskip("tiktoken_ext.openai_public")
    assert _pretok.split(text, "gpt2") == regex.findall(openai_public.r50k_pat_str, text)


TARGETED = [
    "", " ", "  ", "\n", "\r\n", "'", "''", "'s", " 's", "x's", "X'S", "it'LL", "'ſ", "'\u212a",
    "a\n\n  b", "a \n \n  ", "x\r\n\r\n  ", "   x", "\t\tx", " \tx", "\u3000x", "x\u3000", "  1",
    "12345678", "\u0661\u0662\u0663\u0664", "(word)", " (word)", "'hello", " !!!\n\n\nx", "!!!\r\r\n",
    "e\u0301t\u00e9", "\U0001f44d\U0001f3fd\U0001f44d", "tab\tand\x0bvt\x0cff\x85nel",
]


@pytest.mark.parametrize("name", PATTERN_NAMES)
@pytest.mark.parametrize("text", TARGETED)
def test_targeted_examples_equal_regex(name, text):
    assert _pretok.split(text, name) == findall(text, name)


def test_documented_differences_between_the_patterns():
    # GPT-2 contractions are lowercase only; GPT-4's are case-insensitive.
    assert _pretok.split("I'LL", "gpt2") == ["I", "'", "LL"]
    assert _pretok.split("I'LL", "gpt4") == ["I", "'LL"]
    # GPT-4 cuts digit runs into threes and keeps a run of newlines apart from the spaces after it.
    assert _pretok.split("1234567", "gpt4") == ["123", "456", "7"]
    assert _pretok.split("1234567", "gpt2") == ["1234567"]
    assert _pretok.split("a\n\n  b", "gpt4") == ["a", "\n\n", " ", " b"]
    assert _pretok.split("a\n\n  b", "gpt2") == ["a", "\n\n ", " b"]


LONG_INPUTS = {
    "letters": "x" * 1_000_000, "spaces": " " * 1_000_000, "digits": "1" * 999_999,
    "newline_then_spaces": "\n" + " " * 300_000 + "x", "apostrophes": "'" * 500_000, "kana": "\u3042" * 300_000,
}


@pytest.mark.parametrize("name", PATTERN_NAMES)
@pytest.mark.parametrize("kind", sorted(LONG_INPUTS))
def test_long_uniform_inputs_equal_regex(name, kind):
    # Correctness only; time per byte is in benchmarks/bench_pretok.py.
    text = LONG_INPUTS[kind]
    assert _pretok.split(text, name) == findall(text, name)


# ----------------------------------------------------------------------------------------------
# Invalid UTF-8


def _corrupt(data, position, byte):
    return data[:position] + bytes([byte]) + data[position:]


@pytest.mark.parametrize("name", PATTERN_NAMES)
@given(text=TEXTS, where=st.floats(0, 1), byte=st.integers(0x80, 0xFF), cut=st.booleans())
@example(text="caf\xe9", where=1.0, byte=0xC3, cut=False)  # truncated sequence at the end
@example(text="\ud7ff", where=0.0, byte=0xED, cut=True)
def test_invalid_utf8_raises_with_the_offset_python_reports(name, text, where, byte, cut):
    data = text.encode("utf-8")
    position = int(where * len(data))
    data = data[:position] + data[position + 1:] if cut and data else _corrupt(data, position, byte)
    try:
        expected = data.decode("utf-8")
    except UnicodeDecodeError as err:
        with pytest.raises(UnicodeDecodeError) as raised:
            _pretok.split_bytes(data, name)
        assert raised.value.start == err.start
        counter = _pretok.WordCounter(name)
        with pytest.raises(ValueError, match=f"byte offset {err.start}"):
            counter.add_bytes(data)
    else:
        assert _pretok.split_bytes(data, name) == [p.encode("utf-8") for p in findall(expected, name)]


@pytest.mark.parametrize("data", [b"\xed\xa0\x80", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xf4\x90\x80\x80",
                                  b"\xf8\x88\x80\x80\x80", b"ok \x80", b"ok \xe2\x82"])
def test_surrogates_overlongs_and_out_of_range_are_rejected(data):
    with pytest.raises(UnicodeDecodeError) as raised:
        _pretok.split_bytes(data, "gpt2")
    with pytest.raises(UnicodeDecodeError) as expected:
        data.decode("utf-8")
    assert raised.value.start == expected.value.start


# ----------------------------------------------------------------------------------------------
# Streaming: the pieces a partial scan commits never change when more text arrives


@pytest.mark.parametrize("name", PATTERN_NAMES)
@given(text=TEXTS, where=st.floats(0, 1), more=TEXTS)
@example(text="x'l", where=1.0, more="l")  # GPT-2: "'" alone is a piece only if no "l" follows
@example(text="\n  ", where=1.0, more=" x")
def test_partial_scan_commits_only_final_pieces(name, text, where, more):
    full = (text + more).encode("utf-8")
    data = text.encode("utf-8")
    cut = int(where * len(data))  # may fall inside a multi-byte character
    ends, consumed = _pretok._py_scan_utf8(full[:cut], name, final=False)
    full_ends, n = _pretok._py_scan_utf8(full, name)
    assert n == len(full)
    assert ends == full_ends[:len(ends)]
    assert consumed == (ends[-1] if ends else 0)


@pytest.mark.parametrize("name", PATTERN_NAMES)
@given(text=TEXTS, chunk_size=st.integers(1, 9))
def test_counting_in_chunks_equals_counting_the_whole(name, text, chunk_size):
    data = text.encode("utf-8")
    counter = _pretok.WordCounter(name)
    pending = b""
    for start in range(0, len(data), chunk_size):
        buffer = pending + data[start:start + chunk_size]
        pending = buffer[counter.add_bytes(buffer, final=False):]
    counter.add_bytes(pending)
    expected = collections.Counter(p.encode("utf-8") for p in findall(text, name))
    assert _as_dict(counter) == expected


# ----------------------------------------------------------------------------------------------
# WordCounter


def _as_dict(counter):
    words, counts = counter.items()
    assert words == sorted(words)
    assert counts.dtype == np.int64
    return dict(zip(words, counts.tolist()))


@pytest.mark.parametrize("name", PATTERN_NAMES)
@given(texts=st.lists(TEXTS, max_size=5))
def test_word_counter_equals_counter_of_regex_findall(name, texts):
    counter = _pretok.WordCounter(name)
    expected = collections.Counter()
    for text in texts:
        counter.add_text(text)
        expected.update(p.encode("utf-8") for p in findall(text, name))
    assert _as_dict(counter) == expected
    assert len(counter) == len(expected)
    assert counter.total() == sum(expected.values())


@pytest.mark.parametrize("name", PATTERN_NAMES)
def test_word_counter_on_real_text(name):
    data = (docs_text() + stdlib_text(1_000_000)).encode("utf-8")
    counter = _pretok.WordCounter(name)
    counter.add_bytes(data)
    expected = collections.Counter(p.encode("utf-8") for p in findall(data.decode("utf-8"), name))
    assert _as_dict(counter) == expected


def test_word_counter_grows_past_many_distinct_words():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in rng.permutation(50_000)]
    counter = _pretok.WordCounter("gpt2")
    counter.add_text(" ".join(words + words[:1000]))
    expected = collections.Counter(p.encode() for p in findall(" ".join(words + words[:1000]), "gpt2"))
    assert _as_dict(counter) == expected


def test_counters_filled_in_threads_merge_to_the_whole():
    lines = docs_lines(keepends=True)
    halves = ["".join(lines[: len(lines) // 2]), "".join(lines[len(lines) // 2:])]
    counters = [_pretok.WordCounter("gpt4") for _ in halves]
    threads = [threading.Thread(target=c.add_text, args=(h,)) for c, h in zip(counters, halves)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counters[0].merge(counters[1])
    expected = collections.Counter()
    for half in halves:
        expected.update(p.encode() for p in findall(half, "gpt4"))
    assert _as_dict(counters[0]) == expected


def test_merge_with_itself_doubles_and_rejects_other_patterns():
    counter = _pretok.WordCounter("gpt2")
    counter.add_text("a b a")
    counter.merge(counter)
    assert _as_dict(counter) == {b"a": 2, b" b": 2, b" a": 2}
    with pytest.raises(ValueError, match="pattern 'gpt4'"):
        counter.merge(_pretok.WordCounter("gpt4"))


def test_pickle_and_add_counts_round_trip():
    counter = _pretok.WordCounter("gpt4")
    counter.add_text("It's 2024, it's   fine\r\n")
    clone = pickle.loads(pickle.dumps(counter))
    assert clone.pattern == "gpt4"
    assert _as_dict(clone) == _as_dict(counter)
    with pytest.raises(ValueError, match="not positive"):
        clone.add_counts([b"x"], [0])
    with pytest.raises(ValueError, match="2 words but 1 counts"):
        clone.add_counts([b"x", b"y"], [1])


# ----------------------------------------------------------------------------------------------
# Bad input


def test_unknown_pattern_names_the_pattern():
    with pytest.raises(ValueError, match="'bert'"):
        _pretok.split("x", "bert")
    with pytest.raises(ValueError, match="only the patterns"):
        _pretok.WordCounter(r"\w+")
    with pytest.raises(TypeError):
        _pretok.split("x", None)
    with pytest.raises(TypeError):
        _pretok.split(b"x", "gpt2")


def test_exact_pattern_strings_are_accepted():
    assert _pretok.pattern_id(_pretok.GPT2_PATTERN) == _pretok.pattern_id("gpt2")
    assert _pretok.pattern_id(_pretok.GPT4_PATTERN) == _pretok.pattern_id("gpt4")
    assert _pretok.pattern_id("gpt2") != _pretok.pattern_id("gpt4")


def test_lone_surrogate_in_str_is_a_value_error():
    with pytest.raises(ValueError):
        _pretok.split("a\ud800b", "gpt2")
    with pytest.raises(ValueError):
        _pretok.WordCounter("gpt2").add_text("a\ud800b")


def test_buffers_other_than_bytes_are_accepted():
    data = "it's a test".encode()
    expected = _pretok.split_bytes(data, "gpt2")
    assert _pretok.split_bytes(bytearray(data), "gpt2") == expected
    assert _pretok.split_bytes(memoryview(data), "gpt2") == expected
    assert _pretok.split_bytes(np.frombuffer(data, dtype=np.uint8), "gpt2") == expected
    assert _pretok.split_bytes(b"", "gpt4") == []


def test_docstring_examples_hold():
    for module in (_pretok, _unicode):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__


def test_class_table_disk_cache_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv("FASTTOK_CACHE_DIR", str(tmp_path))
    built = _unicode.build_class_table()
    first = _unicode.load_class_table()          # builds and writes the cache
    path = _unicode.cache_path()
    assert path.startswith(str(tmp_path)) and os.path.exists(path)
    cached = _unicode.load_class_table()         # reads it back
    for a, b, c in zip(built, first, cached):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    monkeypatch.setenv("FASTTOK_CACHE_DIR", "")
    assert _unicode.cache_path() is None
    np.testing.assert_array_equal(_unicode.load_class_table()[0], built[0])


def _corrupt_cache(path, how, built):
    block_index, blocks = built
    if how == "truncated":
        data = open(path, "rb").read()
        open(path, "wb").write(data[:len(data) // 2])
    elif how == "crc":  # one byte of the stored (uncompressed) blocks array flipped: the zip CRC fails
        data = bytearray(open(path, "rb").read())
        at = data.find(blocks.tobytes()[:4096]) + 2000
        data[at] ^= 0x01
        open(path, "wb").write(bytes(data))
    elif how == "not npz":
        open(path, "wb").write(b"not an npz file")
    elif how == "index out of range":  # what the scanner would read past its blocks with
        bad_index = block_index.copy()
        bad_index[5] = 60000
        np.savez(path, block_index=bad_index, blocks=blocks, sha256=_unicode._checksum(bad_index, blocks))
    elif how == "wrong, no checksum":  # structurally valid, every code point "other": the old format
        np.savez(path, block_index=block_index, blocks=np.zeros_like(blocks))
    elif how == "wrong, checksum of another table":
        np.savez(path, block_index=block_index, blocks=np.zeros_like(blocks),
                 sha256=_unicode._checksum(block_index, blocks))
    else:
        raise AssertionError(how)


_CACHE_CASES = ["truncated", "crc", "not npz", "index out of range", "wrong, no checksum",
                "wrong, checksum of another table"]
# Ids of tinyshakespeare-like text with letters, digits and spaces of several scripts, in a fresh process.
_IDS_SCRIPT = """
import json, fasttok
tok = fasttok.train_bpe("Hello world 123 \u0645\u0631\u062d\u0628\u0627 \u4e16\u754c  \u00e9t\u00e9 " * 20, vocab_size=300)
print(json.dumps([tok.encode("Hello \u0645\u0631\u062d\u0628\u0627 \u4e16\u754c 42 \u00e9t\u00e9\u3000x"),
                  fasttok.count_words("a\u00e9 \u4e16\u754c 9 ").to_dict()]))
"""


def _ids_in_fresh_process(cache_dir):
    env = dict(os.environ, FASTTOK_CACHE_DIR=str(cache_dir))
    out = subprocess.run([sys.executable, "-c", _IDS_SCRIPT], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_class_table_cache_that_fails_any_check_is_rebuilt_with_identical_ids(tmp_path, monkeypatch):
    monkeypatch.setenv("FASTTOK_CACHE_DIR", str(tmp_path))
    built = _unicode.build_class_table()
    path = _unicode.cache_path()
    expected = _ids_in_fresh_process(tmp_path)   # builds and writes the cache
    good = open(path, "rb").read()
    for how in _CACHE_CASES:
        open(path, "wb").write(good)
        _corrupt_cache(path, how, built)
        assert _unicode._read_cache(path) is None, how
        assert _ids_in_fresh_process(tmp_path) == expected, how   # rebuilt: identical ids ...
        assert _unicode._read_cache(path) is not None, how         # ... and the file rewritten
        for a, b in zip(_unicode.load_class_table(), built):
            np.testing.assert_array_equal(a, b)
