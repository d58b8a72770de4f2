"""Untrusted files (issue 17): every loader is bounded by the file's size, says what is wrong with a typed
error, and never loads a changed file as a silently different model.

Cases that could exhaust memory or hang run in a subprocess under an address-space limit
(RLIMIT_AS) and a timeout, so that a regression fails the test instead of taking the machine down.
"""
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

import fasttok
from fasttok import _format
from fasttok.bpe import BYTE_TO_CHAR, BPETokenizer, load_gpt2, split_pattern
from fasttok.counts import WordCounts
from fasttok.errors import FasttokError, ModelFileError
from fasttok.wordpiece import load_bert_vocab

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
LIMIT = 2 << 30  # bytes of address space for the subprocesses


def run_limited(code, *args, timeout=120):
    """Run `code` (python) with `args` in a subprocess limited to LIMIT bytes and `timeout` seconds."""
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout, preexec_fn=limit)


def bpe_file(merges, *, version=2, settings=None, base=range(256)):
    """The text of a native byte-level BPE file with these (left, right, new) merges."""
    settings = settings or {"byte_level": True, "pattern": "gpt2", "special_tokens": {}}
    records = [f"b {i} {i:02x}" for i in base] + [f"m {l} {r} {n}" for l, r, n in merges]
    lines = [f"fasttok bpe {version}", json.dumps(settings), *records, f"end {len(records)}"]
    return _format.hashed_text(lines)


# -- 1. bounded by the file's size -----------------------------------------------------------------

def test_a_self_doubling_merge_chain_is_refused_before_anything_is_built(tmp_path):
    # 40 merges, each joining the last token with itself: a 2**40-byte token from a 3 KB file.
    doubling = [(0, 0, 256)] + [(255 + k, 255 + k, 256 + k) for k in range(1, 40)]
    many = [(0, 0, 256)] + [(255 + k, 255 + k, 256 + k) for k in range(1, 19)] + \
        [(274, b, 274 + b) for b in range(1, 256)]  # 255 tokens of 512 KiB + 1: 128 MiB in all
    (tmp_path / "deep.txt").write_text(bpe_file(doubling))
    (tmp_path / "wide.txt").write_text(bpe_file(many))
    assert (tmp_path / "deep.txt").stat().st_size < 3000
    result = run_limited("""
        import sys, fasttok
        for name in sys.argv[1:]:
            try:
                fasttok.load(name)
                print("loaded")
            except fasttok.ModelFileError as e:
                print(e)
        """, tmp_path / "deep.txt", tmp_path / "wide.txt")
    assert result.returncode == 0, result.stderr
    deep, wide = result.stdout.splitlines()
    assert "merge 20 makes a token of 2097152 bytes; fasttok refuses tokens longer than 1048576" in deep
    assert "vocabularies larger than 67108864 bytes + 256 per token" in wide


def test_a_long_merge_chain_in_tokenizer_json_and_gpt2_files_is_refused(tmp_path):
    # Here the file must spell every token, so its size bounds them; still no token may pass 1 MiB.
    tok = fasttok.train_bpe(["ab"], vocab_size=257)
    data = tok.to_hf_json()
    vocab, merges = data["model"]["vocab"], data["model"]["merges"]
    a = BYTE_TO_CHAR[ord("a")]
    token = a
    for _ in range(21):
        merges.append([token, token])
        token += token
        vocab[token] = len(vocab)
    (tmp_path / "tokenizer.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ModelFileError, match="refuses tokens longer than 1048576 bytes"):
        fasttok.load(tmp_path / "tokenizer.json")
    (tmp_path / "encoder.json").write_text(json.dumps(vocab), encoding="utf-8")
    (tmp_path / "vocab.bpe").write_text("#version: 0.2\n" + "".join(f"{l} {r}\n" for l, r in merges),
                                        encoding="utf-8")
    with pytest.raises(ModelFileError, match="refuses tokens longer than 1048576 bytes"):
        load_gpt2(tmp_path / "encoder.json", tmp_path / "vocab.bpe")


def test_loaders_refuse_devices_fifos_and_directories(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "dir").mkdir()
    (tmp_path / "vocab.txt").mkdir()
    (tmp_path / "ok.txt").write_text("#version: 0.2\n")
    (tmp_path / "ok.json").write_text("{}")
    result = run_limited("""
        import sys, fasttok
        from fasttok.counts import WordCounts
        from fasttok.bpe import load_gpt2
        from fasttok.wordpiece import load_bert_vocab
        ok = sys.argv[1] + "/ok.txt"
        for path in ["/dev/zero", sys.argv[1] + "/fifo", sys.argv[1] + "/dir", sys.argv[1] + "/vocab.txt"]:
            for load in (fasttok.load, WordCounts.load, load_bert_vocab, lambda p: load_gpt2(p, ok),
                         lambda p: load_gpt2(sys.argv[1] + "/ok.json", p)):
                try:
                    load(path)
                    print("loaded", path)
                except fasttok.ModelFileError as e:
                    print(str(e).split(": it is ")[-1])
        """, tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 20
    assert set(lines[:10]) == {"not a regular file"} and set(lines[10:]) == {"a directory"}, lines


def test_reading_stops_at_the_size_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(_format, "MAX_FILE_BYTES", 100)
    (tmp_path / "big.json").write_text("{" + " " * 200 + "}")
    with pytest.raises(ModelFileError, match="more than the 100 fasttok reads"):
        fasttok.load(tmp_path / "big.json")


# -- 2. nothing silently different -----------------------------------------------------------------

@pytest.fixture(scope="module")
def bpe():
    return fasttok.train_bpe(["low lower lowest newer wider new news"] * 5, vocab_size=270,
                             special_tokens=["<|endoftext|>"])


def test_native_files_end_with_their_hash_and_a_changed_byte_is_an_error(bpe, tmp_path):
    path = tmp_path / "tok.txt"
    bpe.save(path)
    text = path.read_text()
    last = text.splitlines()[-1]
    assert last.startswith(f"end {len(bpe.to_native()[1]) - 1} sha256=") and len(last.split("=")[1]) == 64
    assert fasttok.load(path) == bpe
    path.write_text(text.replace("m 108 111 ", "m 108 112 "))  # one merge changed, the count still right
    with pytest.raises(ModelFileError, match="does not match its content hash"):
        fasttok.load(path)
    path.write_text(text[:-3] + "zz\n")
    with pytest.raises(ModelFileError, match="malformed content hash"):
        fasttok.load(path)
    path.write_text(text[:text.rindex(" sha256=")] + "\n")  # a version 2 file must have its hash
    with pytest.raises(ModelFileError, match="not 'end N sha256=...'"):
        fasttok.load(path)


def test_files_from_before_the_hash_still_load():
    v1 = fasttok.load(GOLDEN / "bpe_generated_20k_376_v1.txt")      # BPE version 1: `end N`, no hash
    assert v1 == fasttok.load(GOLDEN / "bpe_generated_20k_376.txt")
    v2 = fasttok.load(GOLDEN / "wordpiece_pmi_75_v2.txt")           # WordPiece version 2
    assert v2 == fasttok.load(GOLDEN / "wordpiece_pmi_75.txt")


def test_word_counts_files_carry_the_hash_and_version_1_still_loads(tmp_path):
    counts = fasttok.count_words(["a b c a"])   # "a", " b", " c", " a"
    counts.save(tmp_path / "c.txt")
    lines = (tmp_path / "c.txt").read_text().splitlines()
    assert lines[0] == "fasttok-counts 2" and lines[-1].startswith("end 4 sha256=") and "1 61" in lines
    (tmp_path / "c.txt").write_text("\n".join(lines).replace("\n1 61\n", "\n2 61\n") + "\n")
    with pytest.raises(ModelFileError, match="content hash"):
        WordCounts.load(tmp_path / "c.txt")
    (tmp_path / "v1.txt").write_text("\n".join(["fasttok-counts 1"] + lines[1:-1]) + "\n")
    assert WordCounts.load(tmp_path / "v1.txt") == counts
    for bad in (["1 61", "1 61"], ["0 61"], ["-1 61"], ["1 6"], ["1 FF"], ["99999999999999999999 61"]):
        (tmp_path / "bad.txt").write_text(_format.hashed_text(
            [lines[0], '{"pattern": "gpt2", "n_words": %d}' % len(bad), *bad, f"end {len(bad)}"]))
        with pytest.raises(ModelFileError, match="corrupt word-counts record"):
            WordCounts.load(tmp_path / "bad.txt")


SETTINGS = {"byte_level": True, "pattern": "gpt2", "special_tokens": {}}


@pytest.mark.parametrize("settings, message", [
    ({"byte_level": True, "special_tokens": {}}, "the setting 'pattern' is missing"),
    (dict(SETTINGS, byte_level="no"), "the setting 'byte_level' is 'no', not bool"),
    (dict(SETTINGS, byte_level=1), "the setting 'byte_level' is '1', not bool"),
    (dict(SETTINGS, lowercase=True), "unknown setting 'lowercase'"),
    (dict(SETTINGS, special_tokens={"": 256}), "special tokens must be non-empty strings"),
    (dict(SETTINGS, special_tokens={"<s>": True}), "not a token id"),
    (dict(SETTINGS, special_tokens={"<s>": -1}), "not a token id"),
    (dict(SETTINGS, special_tokens={"<s>": 5}), "id 5, which is taken"),
    (dict(SETTINGS, special_tokens={"Ġ": 256}), "special token 'Ġ' is also the vocabulary token 32"),
])
def test_native_bpe_settings_are_checked(tmp_path, settings, message):
    (tmp_path / "t.txt").write_text(bpe_file([], settings=settings))
    with pytest.raises(ModelFileError, match=message):
        fasttok.load(tmp_path / "t.txt")


@pytest.mark.parametrize("records, message", [
    (["b -1 00"], "corrupt record"),
    (["b 0 00"], "corrupt record"),                       # base id 0 twice
    (["b 256 0000"], "exactly one base token for each of the 256 bytes"),
    (["m 97 98 256", "m 97 98 257"], "repeats an earlier merge"),
    (["m 97 98 2147483648"], "corrupt record"),           # an id past int32
    (["m 97 98 300"], "outside 0..256"),                  # an id no token has: a hole
    (["m 97 257 256"], "outside"),
    (["m ٩٧ 98 256"], "corrupt record"),                  # Unicode digits are not file numbers
])
def test_native_bpe_records_are_checked(tmp_path, records, message):
    base = [f"b {i} {i:02x}" for i in range(256)]
    lines = ["fasttok bpe 2", json.dumps(SETTINGS), *base, *records, f"end {256 + len(records)}"]
    (tmp_path / "t.txt").write_text(_format.hashed_text(lines))
    with pytest.raises(ModelFileError, match=message):
        fasttok.load(tmp_path / "t.txt")


def test_native_wordpiece_settings_are_checked(tmp_path):
    tok = fasttok.WordPieceTokenizer(["[UNK]", "a", "##b"], special_tokens=["[UNK]"])
    settings, records = tok.to_native()
    for change, message in [({"lowercase": "no"}, "'lowercase' is 'no', not bool"),
                            ({"max_input_chars_per_word": True}, "'max_input_chars_per_word' is 'True', not int"),
                            ({"extra": 1}, "unknown setting 'extra'"), ({"unk_token": None}, "'unk_token' is")]:
        _format.write_native(tmp_path / "t.txt", "wordpiece", 3, dict(settings, **change), records)
        with pytest.raises(ModelFileError, match=message):
            fasttok.load(tmp_path / "t.txt")
    missing = {k: v for k, v in settings.items() if k != "strip_accents"}
    _format.write_native(tmp_path / "t.txt", "wordpiece", 3, missing, records)
    with pytest.raises(ModelFileError, match="'strip_accents' is missing"):
        fasttok.load(tmp_path / "t.txt")


def test_a_bom_on_vocab_txt_is_refused_as_hf_would_misread_it(tmp_path):
    tokenizers = pytest.importorskip("tokenizers")
    (tmp_path / "vocab.txt").write_text("\ufeff[PAD]\n[UNK]\nhello\n", encoding="utf-8")
    # HF keeps the mark in the first token, so "[PAD]" is not in its vocabulary: neither silently
    # follow that nor silently differ from it.
    hf = tokenizers.models.WordPiece.from_file(str(tmp_path / "vocab.txt"))
    assert hf.token_to_id("[PAD]") is None and hf.token_to_id("\ufeff[PAD]") == 0
    with pytest.raises(ModelFileError, match="byte-order mark"):
        load_bert_vocab(tmp_path / "vocab.txt")


def test_max_input_chars_per_word_must_be_an_int(tmp_path):
    tok = fasttok.WordPieceTokenizer(["[UNK]", "a"], special_tokens=["[UNK]"])
    data = tok.to_hf_json()
    data["model"]["max_input_chars_per_word"] = True
    (tmp_path / "t.json").write_text(json.dumps(data))
    with pytest.raises(ModelFileError, match="max_input_chars_per_word"):
        fasttok.load(tmp_path / "t.json")
    tok.save(tmp_path / "vocab.txt", format="vocab.txt")
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(dict(config, max_input_chars_per_word=True)))
    with pytest.raises(ModelFileError, match="max_input_chars_per_word is True, not a int"):
        load_bert_vocab(tmp_path / "vocab.txt")


def test_dead_and_duplicate_ids_in_tokenizer_json_are_refused(bpe, tmp_path):
    def load_with(change):
        data = bpe.to_hf_json()
        change(data["model"])
        (tmp_path / "t.json").write_text(json.dumps(data))
        return fasttok.load(tmp_path / "t.json")

    with pytest.raises(ModelFileError, match="no merge makes"):  # a token no merge makes and no byte is
        load_with(lambda m: m["vocab"].update({"ĠnoMerge": len(m["vocab"])}))
    with pytest.raises(ModelFileError, match="outside|out of range"):  # an id past the others: a hole
        load_with(lambda m: m["vocab"].update({"Ġlow": 5000}))
    with pytest.raises(ModelFileError, match="repeats an earlier merge|reuses id"):
        load_with(lambda m: m["merges"].append(m["merges"][0]))


# -- 3. HF Split behaviours --------------------------------------------------------------------------

BEHAVIORS = {"Removed": "removed", "Isolated": "isolated", "MergedWithPrevious": "merged_with_previous",
             "MergedWithNext": "merged_with_next", "Contiguous": "contiguous"}
SPLIT_TEXT = st.text(st.sampled_from("abABXx y1 23\n\té中.!'s"), max_size=30)


@settings(max_examples=40, deadline=None)
@given(texts=st.lists(SPLIT_TEXT, min_size=5, max_size=5))
def test_every_split_behaviour_gives_hf_pieces(texts):
    tokenizers = pytest.importorskip("tokenizers")
    regex = pytest.importorskip("regex")
    from fasttok.pretokenize import GPT2_PATTERN, GPT4_PATTERN, hf_pattern, pattern_from_hf
    for hf_regex in (r"ab|X", r"\s+", r"\p{L}+", r" ?\d", r"(?<=a)b", r"[a-z]+(?=\d)", r"(?i:AB)", r"(?:ab)+x?",
                     hf_pattern(GPT2_PATTERN), hf_pattern(GPT4_PATTERN)):
        for behavior, name in BEHAVIORS.items():
            for invert in (False, True):
                hf = tokenizers.pre_tokenizers.Split(tokenizers.Regex(hf_regex), name, invert=invert)
                if (behavior, invert) == ("Removed", False):
                    with pytest.raises(ModelFileError, match="'Removed' without invert"):
                        split_pattern(pattern_from_hf(hf_regex), behavior, invert)
                    continue
                ours = regex.compile(split_pattern(pattern_from_hf(hf_regex), behavior, invert))
                for text in texts:
                    assert [p for p in ours.findall(text) if p] == [p for p, _ in hf.pre_tokenize_str(text)], \
                        (hf_regex, behavior, invert, text)


SUPPORTED = [(b, invert) for b in BEHAVIORS for invert in (False, True) if (b, invert) != ("Removed", False)]


@pytest.fixture(scope="module", params=SUPPORTED, ids=lambda p: f"{p[0]}-invert={p[1]}")
def split_json(request, tmp_path_factory):
    """A byte-level tokenizer.json whose Split leaves gaps, with each supported behaviour."""
    behavior, invert = request.param
    tok = fasttok.train_bpe(["hello world, hello there! 123 hello"] * 5, vocab_size=270)
    data = tok.to_hf_json()
    data["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "hello| "}, "behavior": behavior, "invert": invert},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}
    path = tmp_path_factory.mktemp("split") / "tokenizer.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path, behavior


def test_a_split_file_gives_hf_ids_and_exports_the_same(split_json, tmp_path):
    # e.g. Isolated keeps the text between matches: "hello world" is [hello][ ][world], not [hello][ ]
    tokenizers = pytest.importorskip("tokenizers")
    split_json, behavior = split_json
    hf = tokenizers.Tokenizer.from_file(str(split_json))
    tok = fasttok.load(split_json, trust_pattern=True)  # "hello| " is a custom regex
    texts = ["hello world", "say hello, world!", "xhellohello  yz", "  hello", ""]
    expected = [e.ids for e in hf.encode_batch(texts, add_special_tokens=False)]
    assert tok.encode_batch(texts) == expected
    if behavior != "Removed":  # every behaviour but Removed keeps all the text
        assert tok.decode(tok.encode("say hello, world!")) == "say hello, world!"
    # and our own export of it gives the same ids in HF and reads back
    tok.save(tmp_path / "again.json", format="tokenizer.json")
    again = tokenizers.Tokenizer.from_file(str(tmp_path / "again.json"))
    assert [e.ids for e in again.encode_batch(texts, add_special_tokens=False)] == expected
    assert fasttok.load(tmp_path / "again.json", trust_pattern=True).encode_batch(texts) == expected


@pytest.mark.parametrize("pre_tokenizer, message", [
    ({"type": "Sequence", "pretokenizers": [
        {"type": "ByteLevel", "add_prefix_space": False, "use_regex": False},
        {"type": "Split", "pattern": {"Regex": "a"}, "behavior": "Isolated", "invert": False}]}, "after ByteLevel"),
    ({"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "a"}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True}]}, "more than one splitting"),
    ({"type": "Split", "pattern": {"Regex": "a"}, "behavior": "Removed", "invert": False}, "without invert"),
    ({"type": "Split", "pattern": {"Regex": "a"}, "behavior": "isolated", "invert": False}, "not a Split"),
    ({"type": "Split", "pattern": {"Regex": "a"}, "behavior": "Isolated", "invert": "no"}, "not a Split"),
    ({"type": "Split", "pattern": {"Regex": ""}, "behavior": "Isolated", "invert": False}, "non-empty"),
    ({"type": "Split", "pattern": {"Regex": "(a)\\1"}, "behavior": "Isolated", "invert": False},
     "backreferences|cannot be written"),
    ({"type": "Split", "pattern": {"Regex": "a*"}, "behavior": "Isolated", "invert": False}, "empty string"),
    ({"type": "Split", "pattern": {"Regex": "\\b"}, "behavior": "Contiguous", "invert": True}, "empty string"),
    ({"type": "Digits", "individual_digits": True}, "'Digits' is not supported"),
    ({"type": "Sequence", "pretokenizers": "x"}, "needs a list"),
])
def test_pre_tokenizers_fasttok_cannot_run_exactly_are_refused(bpe, tmp_path, pre_tokenizer, message):
    data = bpe.to_hf_json()
    data["pre_tokenizer"] = pre_tokenizer
    (tmp_path / "t.json").write_text(json.dumps(data))
    with pytest.raises(ModelFileError, match=message):
        fasttok.load(tmp_path / "t.json", trust_pattern=True)


# -- 4. special tokens that are also vocabulary strings ----------------------------------------------

def test_a_special_token_equal_to_a_vocabulary_string_is_refused(bpe):
    with pytest.raises(ValueError, match=r"special tokens \['é'\] are also byte tokens"):
        fasttok.train_bpe(["abc"], vocab_size=300, special_tokens=["é"])   # é: the glyph of byte 0xe9
    learned = bpe.id_to_token(256)                                         # the first learned merge
    with pytest.raises(ValueError, match=f"special token '{learned}' is also the vocabulary token 256"):
        fasttok.train_bpe(["low lower lowest newer wider new news"] * 5, vocab_size=260,
                          special_tokens=[learned])
    with pytest.raises(ValueError, match="is also the vocabulary token"):
        BPETokenizer(base={i: bytes([i]) for i in range(256)}, merges=[], special_tokens={"!": 256})


# -- 5. typed errors -----------------------------------------------------------------------------------

@pytest.mark.parametrize("document", [
    '{"model": {"type": "BPE", "vocab": [], "merges": []}}',
    '{"model": {"type": "BPE", "vocab": {"a": "0"}, "merges": []}}',
    '{"model": {"type": "BPE", "vocab": {}, "merges": {}}}',
    '{"model": {"type": "BPE", "vocab": {}, "merges": [1]}, "added_tokens": {}}',
    '{"model": {"type": "BPE", "vocab": {}, "merges": []}, "added_tokens": [{"id": 1}]}',
    '{"model": {"type": "BPE", "vocab": {}, "merges": []}, "pre_tokenizer": "ByteLevel"}',
    '{"model": {"type": ["BPE"]}}',
    '{"model": {"type": "WordPiece", "vocab": {"[UNK]": 0}}, "normalizer": []}',
    '{"model": {"type": "WordPiece", "vocab": {"[UNK]": 0}}, "normalizer": {"type": "BertNormalizer"}, '
    '"pre_tokenizer": {"type": "BertPreTokenizer"}, "added_tokens": [{"content": "[UNK]", "id": "0"}]}',
    '{"model": {"type": "BPE", "vocab": {"a": 1' + "0" * 5000 + '}, "merges": []}}',
    '{"model": {"type": "BPE", "vocab": {}, "merges": []}, "pre_tokenizer": ' + "[" * 100_000 + "]" * 100_000 + "}",
    '{"model": {"type": "BPE", "vocab": {}, "merges": []}, "pre_tokenizer": '
    + '{"type": "Sequence", "pretokenizers": [' * 50 + "]}" * 50 + "}",
])
def test_malformed_tokenizer_json_is_a_model_file_error(tmp_path, document):
    (tmp_path / "t.json").write_text(document)
    with pytest.raises(ModelFileError, match=str(tmp_path)):
        fasttok.load(tmp_path / "t.json")


def test_other_malformed_files_are_model_file_errors(tmp_path):
    (tmp_path / "bad.txt").write_bytes(b"fasttok bpe 2\n\xff\n")
    with pytest.raises(ModelFileError, match="invalid UTF-8 at byte offset 14"):
        fasttok.load(tmp_path / "bad.txt")
    with pytest.raises(ModelFileError, match="cannot read tokenizer file .*No such file"):
        fasttok.load(tmp_path / "missing.txt")
    (tmp_path / "encoder.json").write_text('{"a": "1"}')
    (tmp_path / "vocab.bpe").write_text("#version: 0.2\n")
    with pytest.raises(ModelFileError, match="not a token id"):
        load_gpt2(tmp_path / "encoder.json", tmp_path / "vocab.bpe")
    (tmp_path / "counts.txt").write_text('fasttok-counts 1\n{"pattern": "gpt2", "n_words": "1"}\n1 61\n')
    with pytest.raises(ModelFileError, match="'n_words' is '1', not int"):
        WordCounts.load(tmp_path / "counts.txt")


# -- 6. the fuzz test ------------------------------------------------------------------------------------

def test_mutated_files_of_every_format_give_a_typed_error_or_the_same_model(tmp_path):
    # Thousands of small writes: on a RAM disk when there is one.
    shm = Path("/dev/shm")
    scratch = Path(tempfile.mkdtemp(dir=shm)) if shm.is_dir() and os.access(shm, os.W_OK) else tmp_path
    try:
        result = run_limited("""
            import sys
            from tests.fasttok.fuzz_loaders import run
            sys.exit(0 if run(sys.argv[1], 500, 17) else 1)
            """, scratch, timeout=120)
    finally:
        if scratch != tmp_path:
            shutil.rmtree(scratch)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-3000:]
    rows = [line.split() for line in result.stdout.splitlines()]
    assert len(rows) == 10 and all(int(r[1]) == 500 for r in rows)
    hashed = [r for r in rows if r[0] in ("native-bpe", "native-wordpiece", "word-counts")]
    assert all(r[4] == "0" for r in hashed)  # no changed native file loaded as another model
