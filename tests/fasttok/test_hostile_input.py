"""Issue 17, hostile input: split patterns chosen by a file, patterns with groups, corpus-file errors.

A case that could hang or exhaust memory runs in a subprocess with a wall-clock limit and an address-space
limit (RLIMIT_AS), so a regression fails the test instead of stalling the suite.
"""
import json
import os
import pathlib
import resource
import subprocess
import sys
import textwrap
import time
import warnings

import pytest
import regex
from hypothesis import given
from hypothesis import strategies as st

import fasttok
from fasttok import _format, pretokenize
from fasttok._reference import bpe as reference
from fasttok.errors import CorpusError, ModelFileError, PatternTimeoutError

CATASTROPHIC = r"(a|aa)+$"   # exponential backtracking on "aaa...ab": over 90 s for 41 characters
HOSTILE_TEXT = "a" * 40 + "b"
MEMORY_LIMIT = 2 << 30       # bytes of address space for a hostile-input subprocess
TIME_LIMIT = 60              # seconds; the bounded cases finish in 1-3 s


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_bounded(args, **kwargs):
    """Run a command under the memory and time limits; the CompletedProcess and its wall time."""
    start = time.monotonic()
    out = subprocess.run(args, preexec_fn=_limit_memory, capture_output=True, text=True, timeout=TIME_LIMIT,
                         env=dict(os.environ, OPENBLAS_NUM_THREADS="1"), **kwargs)
    return out, time.monotonic() - start


def run_python(script):
    out, seconds = run_bounded([sys.executable, "-c", textwrap.dedent(script)])
    assert out.returncode == 0, out.stderr
    return out.stdout, seconds


@pytest.fixture(scope="module")
def hostile_files(tmp_path_factory):
    """A BPE tokenizer whose split pattern is CATASTROPHIC, saved natively and as tokenizer.json."""
    root = tmp_path_factory.mktemp("hostile")
    tok = fasttok.train_bpe(["aa", "aaaa"], vocab_size=258, pattern=CATASTROPHIC)
    native, hf = root / "tok.fasttok", root / "tokenizer.json"
    tok.save(native)
    tok.save(hf, format="tokenizer.json")
    assert CATASTROPHIC in native.read_text()
    return {"native": native, "tokenizer.json": hf}


@pytest.mark.parametrize("kind", ["native", "tokenizer.json"])
def test_a_custom_pattern_in_a_file_is_refused_and_a_trusted_one_is_time_bounded(hostile_files, kind):
    stdout, seconds = run_python(f"""
        import fasttok
        if {kind!r} == "tokenizer.json":
            fasttok.pretokenize.TIMEOUT_SECONDS = 0.2  # the default bound is pinned by the native case
        path = {str(hostile_files[kind])!r}
        try:
            fasttok.load(path)
        except fasttok.ModelFileError as e:
            assert "trust_pattern=True" in str(e) and "--trust-pattern" in str(e), e
        else:
            raise AssertionError("a custom pattern from a file was accepted")
        tok = fasttok.load(path, trust_pattern=True)
        try:
            tok.encode({HOSTILE_TEXT!r})
        except fasttok.PatternTimeoutError as e:
            print("stopped:", e)
    """)
    assert stdout.startswith("stopped:") and seconds < 30


def test_the_command_line_refuses_a_custom_pattern_unless_trusted(hostile_files, tmp_path):
    text = tmp_path / "in.txt"
    text.write_text("aaaa")   # matched at once: the stop on hostile text is tested through the API above
    cli = [sys.executable, "-m", "fasttok", "encode", "-t", str(hostile_files["native"]), str(text)]
    refused, _ = run_bounded(cli)
    assert refused.returncode == 1 and "--trust-pattern" in refused.stderr
    trusted, _ = run_bounded(cli + ["--trust-pattern"])
    assert trusted.returncode == 0 and trusted.stdout.split() == [str(i) for i in fasttok.load(
        hostile_files["native"], trust_pattern=True).encode("aaaa")]


def test_a_word_counts_file_with_a_custom_pattern_is_refused_unless_trusted(tmp_path):
    counts = fasttok.count_words(["aa aaaa"], pattern=CATASTROPHIC)
    counts.save(tmp_path / "c")
    with pytest.raises(ModelFileError, match="trust_pattern=True"):
        fasttok.WordCounts.load(tmp_path / "c")
    assert fasttok.WordCounts.load(tmp_path / "c", trust_pattern=True) == counts
    fasttok.count_words(["hello world"], pattern="gpt4").save(tmp_path / "named")
    assert fasttok.WordCounts.load(tmp_path / "named").pattern == "gpt4"


def test_count_words_and_training_with_a_catastrophic_pattern_stop():
    stdout, seconds = run_python(f"""
        import fasttok
        fasttok.pretokenize.TIMEOUT_SECONDS = 0.2   # the default (1 s) is pinned by the tests above
        for call in (lambda: fasttok.count_words([{HOSTILE_TEXT!r}], pattern={CATASTROPHIC!r}),
                     lambda: fasttok.train_bpe([{HOSTILE_TEXT!r}], vocab_size=260, pattern={CATASTROPHIC!r})):
            try:
                call()
            except fasttok.PatternTimeoutError:
                print("stopped")
    """)
    assert stdout.split() == ["stopped", "stopped"] and seconds < 30


def test_named_and_literal_patterns_load_from_files_without_trust(tmp_path):
    for pattern in ["gpt2", "gpt4", "whitespace", pretokenize.GPT4_PATTERN, None]:
        tok = fasttok.train_bpe(["hello world, 123"], vocab_size=260, pattern=pattern)
        for fmt in ("native", "tokenizer.json"):
            tok.save(tmp_path / "t", format=fmt)
            assert fasttok.load(tmp_path / "t").encode("hello world") == tok.encode("hello world")
    hf = json.loads((tmp_path / "t").read_text())
    hf["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"String": "a.b("}, "behavior": "Removed", "invert": True},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}
    (tmp_path / "t").write_text(json.dumps(hf))
    assert fasttok.load(tmp_path / "t").encode("xa.b(y") == tok.encode("a.b(")


HUGE_REPEATS = ["(?:a{65535}){65535}", "a{4294967294}", "(?:(?:a{1000}){1000}){1000}", "x(?:[ab]{99999}c){99}"]


def test_a_pattern_that_would_take_forever_to_compile_is_refused_first(hostile_files, tmp_path):
    # The regex module expands counted repeats when it compiles: these would not compile in minutes.
    native = hostile_files["native"].read_text()
    files = []
    for k, pattern in enumerate(HUGE_REPEATS):
        path = tmp_path / f"huge{k}.fasttok"
        lines = native.replace(json.dumps(CATASTROPHIC)[1:-1], json.dumps(pattern)[1:-1]).split("\n")[:-1]
        lines[-1] = lines[-1].split(" sha256=")[0]  # forged with a matching content hash
        path.write_text(_format.hashed_text(lines))
        files.append(str(path))
    stdout, seconds = run_python(f"""
        import fasttok
        for pattern, path in zip({HUGE_REPEATS!r}, {files!r}):
            for call in (lambda: fasttok.count_words("a", pattern=pattern),
                         lambda: fasttok.load(path, trust_pattern=True)):
                try:
                    call()
                except ValueError as e:
                    assert "repeats too much" in str(e), e
                    print("refused")
    """)
    assert stdout.split() == ["refused"] * 2 * len(HUGE_REPEATS) and seconds < 30
    assert pretokenize.pattern_source("(?:a{1000}){1000}")   # at the limit: compiles in well under a second


@pytest.mark.parametrize("source, safe", [
    ("gpt2", True), (pretokenize.GPT2_PATTERN, True), (pretokenize.WHITESPACE_PATTERN, True), (None, True),
    (regex.escape("a+b (c)"), True), ("hello", True), (CATASTROPHIC, False), (r"\w+", False), ("a+", False),
    (r"a\+", True), (r"\d", False), (".", False), (5, False)])
def test_is_safe_pattern(source, safe):
    assert pretokenize.is_safe_pattern(source) is safe
    if not safe:
        with pytest.raises(ModelFileError, match="trust_pattern"):
            pretokenize.check_stored_pattern(source, trust_pattern=False)
        assert pretokenize.check_stored_pattern(source, trust_pattern=True) == source


def test_trust_pattern_must_be_a_bool(hostile_files):
    with pytest.raises(TypeError, match="trust_pattern"):
        fasttok.load(hostile_files["native"], trust_pattern="yes")


def test_the_time_bound_grows_with_the_text(monkeypatch):
    split = pretokenize.splitter(CATASTROPHIC)
    monkeypatch.setattr(pretokenize, "TIMEOUT_SECONDS", 0.05)
    start = time.monotonic()
    with pytest.raises(PatternTimeoutError, match="0.05 s on a text of 41 characters"):
        split(HOSTILE_TEXT)
    assert time.monotonic() - start < 5
    assert split("aa" * 10_000) == ["aa" * 10_000]   # a linear match is never stopped


# ------------------------------------------------------------------------------------------------
# Patterns with capturing groups: pieces are whole matches, never the groups

GROUP_PATTERNS = [r"(ab)+|\s+|\w+|.", r"(?:(a)|(b))+|(\s)+|[^ab\s]+", r"((\w)\w*)|(\s+)|([^\w\s])", r"(?s)(.)"]


@pytest.mark.filterwarnings("ignore::fasttok.TrainingWarning")
def test_a_pattern_with_a_group_keeps_whole_matches():
    assert pretokenize.split("abab cd", r"(ab)+|\s+|\w+") == ["abab", " ", "cd"]
    assert pretokenize.split("abab cd", r"(ab)+") == ["abab"]
    tok = fasttok.train_bpe(["abab cd"] * 5, vocab_size=260, pattern=r"(ab)+|\s+|\w+")
    assert tok.decode(tok.encode("abab cd")) == "abab cd"
    assert fasttok.count_words("abab cd", pattern=r"(ab)+|\s+|\w+").to_dict() == {"abab": 1, " ": 1, "cd": 1}


@pytest.mark.filterwarnings("ignore::fasttok.TrainingWarning")
@given(st.sampled_from(GROUP_PATTERNS), st.lists(st.text(alphabet="ab cd\n!é", max_size=30), min_size=1, max_size=4))
def test_patterns_with_groups_round_trip_and_count_as_their_group_free_twin(pattern, texts):
    twin = regex.sub(r"\((?!\?)", "(?:", pattern)           # the same pattern, every group non-capturing
    counts = fasttok.count_words(texts, pattern=pattern)
    assert counts.to_dict() == fasttok.count_words(texts, pattern=twin).to_dict()
    assert counts.to_dict() == {p: c for p, c in reference.count_pieces(texts, pattern).items() if p}
    if not counts.total():
        return
    tok = fasttok.train_bpe(texts, vocab_size=270, pattern=pattern)
    twin_tok = fasttok.train_bpe(texts, vocab_size=270, pattern=twin)
    assert tok.merges == twin_tok.merges
    for text in texts:
        assert tok.decode(tok.encode(text)) == text
        assert tok.encode(text) == twin_tok.encode(text)


# ------------------------------------------------------------------------------------------------
# Corpus files: the same CorpusError whatever the number of threads

def _bad_corpus_files(tmp_path):
    (tmp_path / "bad.txt").write_bytes(b"ok \xff text\n")
    return {"a directory": (tmp_path, "it is a directory|Is a directory"),
            "a missing file": (tmp_path / "missing.txt", "No such file"),
            "invalid UTF-8": (tmp_path / "bad.txt", "invalid UTF-8 at byte offset 3")}


@pytest.mark.parametrize("num_threads", [1, 2])
@pytest.mark.parametrize("how", ["files", "list", "generator"])
@pytest.mark.parametrize("call", ["count_words", "count_words custom", "train_bpe", "train_wordpiece"])
def test_every_corpus_file_error_is_a_corpus_error_for_any_thread_count(tmp_path, num_threads, how, call):
    for path, message in _bad_corpus_files(tmp_path).values():
        arguments = {"files": {"files": [path]}, "list": {"corpus": ["some text", pathlib.Path(path)]},
                     "generator": {"corpus": (p for p in ["some text", pathlib.Path(path)])}}[how]
        function = {"count_words": lambda **a: fasttok.count_words(**a, num_threads=num_threads),
                    "count_words custom": lambda **a: fasttok.count_words(**a, pattern=r"\w+|\s+|.",
                                                                          num_threads=num_threads),
                    "train_bpe": lambda **a: fasttok.train_bpe(**a, vocab_size=300, num_threads=num_threads),
                    "train_wordpiece": lambda **a: fasttok.train_wordpiece(**a, vocab_size=300,
                                                                           num_threads=num_threads)}[call]
        with pytest.raises(CorpusError, match=message):
            function(**arguments)


# ------------------------------------------------------------------------------------------------
# Integer options of absurd size or the wrong type: one validator, the option and its range named

@pytest.fixture(scope="module")
def small_models():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fasttok.TrainingWarning)  # tiny corpora run out of pairs
        bpe = fasttok.train_bpe(["hello world"], vocab_size=260)
        wordpiece = fasttok.train_wordpiece(["hello world"] * 3, vocab_size=60)
    return {"bpe": bpe, "wordpiece": wordpiece, "counts": fasttok.count_words("hello world"),
            "vocab": [wordpiece.id_to_token(i) for i in range(wordpiece.vocab_size)]}


INT_OPTIONS = {  # public function -> (its integer options, a call that passes one of them)
    "train_bpe": (["vocab_size", "min_frequency", "max_token_length", "num_threads"],
                  lambda m, **o: fasttok.train_bpe(["hello world"], **{"vocab_size": 260, **o})),
    "train_bpe_from_counts": (["vocab_size", "min_frequency", "max_token_length"],
                              lambda m, **o: fasttok.train_bpe_from_counts(m["counts"], **{"vocab_size": 260, **o})),
    "train_wordpiece": (["vocab_size", "min_frequency", "max_token_length", "num_threads"],
                        lambda m, **o: fasttok.train_wordpiece(["hello world"], **{"vocab_size": 60, **o})),
    "count_words": (["num_threads"], lambda m, **o: fasttok.count_words(["hello"], **o)),
    "count_bert_words": (["num_threads"], lambda m, **o: fasttok.wordpiece.count_bert_words(["hello"], **o)),
    "BPETokenizer.encode_batch": (["num_threads"], lambda m, **o: m["bpe"].encode_batch(["hello"] * 40, **o)),
    "WordPieceTokenizer.encode_batch": (["num_threads"],
                                        lambda m, **o: m["wordpiece"].encode_batch(["hello"] * 40, **o)),
    "WordPieceTokenizer": (["max_input_chars_per_word"], lambda m, **o: fasttok.WordPieceTokenizer(m["vocab"], **o)),
}
BAD_VALUES = [(10**30, ValueError, "must be at most"), (-1, ValueError, "must be at least"),
              (True, TypeError, "must be an int"), (1.5, TypeError, "must be an int"), ("3", TypeError, "must be an int")]


@pytest.mark.parametrize("value, error, message", BAD_VALUES, ids=["1e30", "-1", "True", "1.5", "'3'"])
@pytest.mark.parametrize("function, option", [(f, o) for f, (options, _) in INT_OPTIONS.items() for o in options])
def test_every_integer_option_is_checked_by_name_and_range(small_models, function, option, value, error, message):
    call = INT_OPTIONS[function][1]
    with pytest.raises(error, match=rf"^{option} {message}.*\(?(allowed: )?\d+\.\.\d+"):
        call(small_models, **{option: value})


# ------------------------------------------------------------------------------------------------
# The Unicode version (README, "Unicode version"): exactly which code points the peers class otherwise

def test_the_code_points_tiktoken_and_hf_class_as_letters_or_numbers_and_fasttok_does_not():
    tiktoken = pytest.importorskip("tiktoken")
    tokenizers = pytest.importorskip("tokenizers")
    import unicodedata

    from tests.fasttok.unicode_agreement import newer_code_points
    candidates = sorted(newer_code_points())   # every code point our table and `regex` class differently
    letter_texts = {cp: f"a{chr(cp)}b" for cp in candidates}
    number_texts = {cp: f"1{chr(cp)}" for cp in candidates}
    # tiktoken returns a piece's own rank when the piece is a token: a one-id result means one piece.
    ranks = {bytes([b]): b for b in range(256)}
    for text in [*letter_texts.values(), *number_texts.values()]:
        ranks[text.encode()] = len(ranks)
    peer = tiktoken.Encoding("pieces", pat_str=pretokenize.GPT2_PATTERN, mergeable_ranks=ranks, special_tokens={})
    hf = tokenizers.pre_tokenizers.Split(tokenizers.Regex(pretokenize.hf_pattern(pretokenize.GPT2_PATTERN)),
                                         behavior="isolated")

    def one_piece(split):
        return {cp for cp in candidates if len(split(letter_texts[cp])) == 1 or len(split(number_texts[cp])) == 1}

    by_tiktoken = one_piece(peer.encode_ordinary)
    assert one_piece(hf.pre_tokenize_str) == by_tiktoken
    assert not one_piece(lambda text: pretokenize.split(text, "gpt2"))
    assert all(unicodedata.category(chr(cp)) == "Cn" for cp in by_tiktoken)
    if (unicodedata.unidata_version, tiktoken.__version__, tokenizers.__version__) == ("14.0.0", "0.14.0", "0.23.3"):
        assert len(by_tiktoken) == 9392 and (min(by_tiktoken), max(by_tiktoken)) == (0x1C89, 0x323AF)


def test_the_time_bound_can_be_turned_off_and_named_patterns_run_without_it(monkeypatch):
    monkeypatch.setattr(pretokenize, "TIMEOUT_SECONDS", None)
    assert pretokenize.split("aaaa", CATASTROPHIC) == ["aaaa"]
    monkeypatch.setattr(pretokenize, "TIMEOUT_SECONDS", 0.0)   # would stop anything that checks the clock
    monkeypatch.setattr(pretokenize, "TIMEOUT_SECONDS_PER_CHAR", 0.0)
    assert pretokenize.split("hello, world", "whitespace") == ["hello", ",", "world"]
