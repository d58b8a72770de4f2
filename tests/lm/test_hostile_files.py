"""Untrusted model files (issue 17): every lm loader refuses a hostile file with an `LMFileError` naming it,
before allocating what the file claims, or loads exactly the model that was saved.

Cases that could exhaust memory or block run in a subprocess under RLIMIT_AS and a time limit
(`tests.limits.run_python`), so a regression fails the test instead of the machine.
"""
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

import fasttok
from lm import checkpoint as ckpt
from lm.errors import ArpaFormatError, CheckpointError, LMFileError, NgramFileError, TokenizerFileError
from lm.ngram import NgramModel, train_ngram
from lm.nn import BERT, GPT, MLPLM, T5, BERTConfig, GPTConfig, MLPLMConfig, T5Config
from lm.optim import AdamW
from lm.tokenizer_file import TokenizerFile

from .cli_support import fails_naming
from tests.limits import run_python

from .hostile import checkpoint_state, forge_npy_header, forge_zip_size, ngram_state, rewrite_npz

WORDS = "the moon rises over a quiet sea and the ships sail home at dawn".split()
FUZZ_MUTANTS = 300  # per loader and mode: about a second each


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Small real files written by lm itself: an n-gram model as .npz, .arpa and .arpa.gz, and a GPT
    checkpoint with optimiser state, data-rng state, history and an embedded tokenizer."""
    d = tmp_path_factory.mktemp("hostile")
    rng = np.random.default_rng(0)
    sentences = [list(rng.choice(WORDS, 6)) for _ in range(40)]
    model = train_ngram(sentences, order=3, metadata={"note": "hostile"})
    model.save(d / "m.npz")
    model.to_arpa(d / "m.arpa")
    model.to_arpa(d / "m.arpa.gz")
    fasttok.train_bpe([" ".join(WORDS)], vocab_size=260).save(str(d / "tok.json"))
    gpt = GPT(GPTConfig(vocab_size=12, block_size=4, n_layer=1, n_head=1, d_model=4), rng=np.random.default_rng(0))
    ckpt.save(d / "c.npz", gpt, optimizer=AdamW(gpt.parameters(), lr=1e-3), step=3, rng=np.random.default_rng(1),
              history={"loss": [1.5]}, tokenizer=TokenizerFile.read(d / "tok.json"))
    return d


# ----------------------------------------------------------------------------- 5. fuzzing every loader

@pytest.mark.parametrize("kind, name, rezip", [
    ("checkpoint", "c.npz", False), ("checkpoint", "c.npz", True), ("ngram", "m.npz", False),
    ("ngram", "m.npz", True), ("arpa", "m.arpa", False), ("arpa", "m.arpa.gz", False),
], ids=["checkpoint", "checkpoint-rezipped", "ngram-npz", "ngram-npz-rezipped", "arpa", "arpa-gz"])
def test_fuzzed_files_load_identically_or_fail_typed(files, kind, name, rezip):
    """FUZZ_MUTANTS seeded mutants of each file (byte flips, truncations, deleted, duplicated and inserted
    spans; "rezipped": of one zip member, the CRC-32 then recomputed) each load to the original model or
    raise LMFileError/OSError; nothing else escapes, within 2 GiB and 60 s."""
    argv = ["-m", "tests.lm.hostile", kind, str(files / name), str(FUZZ_MUTANTS), "17"] + (["--rezip"] if rezip else [])
    run = run_python(argv)
    assert run.returncode == 0, run.stderr[-2000:]
    counts = json.loads(run.stdout)
    assert counts["n_escaped"] == 0, counts["escaped"]
    assert counts["identical"] + counts["changed"] + counts["refused"] == FUZZ_MUTANTS
    assert counts["refused"] > FUZZ_MUTANTS // 2  # the mutations do damage


# ----------------------------------------------------------------------------- 1. memory bounded by the file

LOAD_IN_CHILD = """
import json, sys
from lm import checkpoint as ckpt
from lm.ngram import NgramModel
out = {}
for case, kind, path in json.loads(sys.argv[1]):
    try:
        {"checkpoint": ckpt.load, "ngram": NgramModel.load}[kind](path)
        out[case] = "loaded"
    except Exception as exc:
        out[case] = f"{type(exc).__name__} {exc}"
print(json.dumps(out))
"""

NPY_HEADERS = [("checkpoint", "c.npz", "param/wte.weight"), ("checkpoint", "c.npz", "__meta__"),
               ("ngram", "m.npz", "keys2"), ("ngram", "m.npz", "header")]
ZIP_SIZES = [("checkpoint", "c.npz", "param/wte.weight"), ("ngram", "m.npz", "logp3")]
BIG_CONFIGS = [("vocab_size", 10 ** 10), ("d_model", 10 ** 6), ("n_layer", 10 ** 5), ("block_size", 10 ** 9),
               ("d_ff", 10 ** 9)]


def _set_config(field, value):
    def edit(meta):
        meta["config"][field] = value
        return meta
    return edit


@pytest.fixture(scope="module")
def forged(files, tmp_path_factory):
    """{case: what loading it did} for every file forged to make a trusting loader allocate what it claims,
    all loaded in one child under RLIMIT_AS (2 GiB) and a time limit."""
    d = tmp_path_factory.mktemp("forged")
    cases = []
    for kind, name, member in NPY_HEADERS:
        path = forge_npy_header(files / name, d / f"npy-{len(cases)}-{name}", member, (10 ** 11,))
        cases.append((f"npy {kind} {member}", kind, str(path)))
    for kind, name, member in ZIP_SIZES:
        path = forge_zip_size(files / name, d / f"zip-{len(cases)}-{name}", member, 2 ** 32 - 2)
        cases.append((f"zip {kind} {member}", kind, str(path)))
    for field, value in BIG_CONFIGS:
        path = rewrite_npz(files / "c.npz", d / f"config-{field}.npz", header="__meta__",
                           edit=_set_config(field, value))
        cases.append((f"config {field}", "checkpoint", str(path)))
    run = run_python(["-c", LOAD_IN_CHILD, json.dumps(cases)], timeout=60)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout)


@pytest.mark.parametrize("kind, name, member", NPY_HEADERS)
def test_a_forged_npy_header_is_refused_before_allocation(forged, kind, name, member):
    """A member whose .npy header claims shape (1e11,) (800 GB) over 16 bytes: refused from the header."""
    out = forged[f"npy {kind} {member}"]
    assert out.startswith(("CheckpointError", "NgramFileError")) and "claims shape (100000000000,)" in out, out
    assert "npy-" in out and name in out  # the message names the file


@pytest.mark.parametrize("kind, name, member", ZIP_SIZES)
def test_a_forged_zip_size_is_refused(forged, kind, name, member):
    out = forged[f"zip {kind} {member}"]
    assert out.startswith(("CheckpointError", "NgramFileError")) and "more than the file can hold" in out, out


@pytest.mark.parametrize("field, value", BIG_CONFIGS)
def test_a_checkpoint_config_larger_than_its_arrays_is_refused_before_building(forged, field, value):
    """The header's config (its SHA-256 recomputed) claims a model far larger than the arrays in the file:
    refused by comparing the config's parameter count with the arrays' sizes, no model built."""
    out = forged[f"config {field}"]
    assert out.startswith("CheckpointError") and "parameters" in out, out


def test_arrays_that_do_not_fit_the_config_are_refused(files, tmp_path):
    """Same parameter count, other shapes: refused by the shape check after the (bounded) build."""
    with np.load(files / "c.npz") as data:
        wte = data["param/wte.weight"]
    path = rewrite_npz(files / "c.npz", tmp_path / "c.npz", header="__meta__",
                       arrays={"param/wte.weight": wte.reshape(wte.shape[1], wte.shape[0])})
    with pytest.raises(CheckpointError, match="wte.weight"):
        ckpt.load(path)


@pytest.mark.parametrize("cls, config", [
    (GPT, GPTConfig(vocab_size=11, block_size=5, n_layer=2, n_head=2, d_model=6)),
    (GPT, GPTConfig(vocab_size=11, block_size=5, n_layer=1, n_head=3, d_model=6, d_ff=7, bias=False)),
    (BERT, BERTConfig(vocab_size=13, block_size=3, n_layer=2, n_head=1, d_model=4, d_ff=5)),
    (T5, T5Config(vocab_size=9, block_size=6, n_layer=2, n_head=2, d_model=4, target_size=3)),
    (MLPLM, MLPLMConfig(vocab_size=9, context=2, d_embed=3, d_hidden=5)),
])
def test_config_n_params_counts_the_model_without_building_it(cls, config):
    assert config.n_params() == cls(config, rng=np.random.default_rng(0)).n_params()


# ----------------------------------------------------------------------------- 2. nothing silently different

def _ngram_tables(path):
    with np.load(path) as data:
        return {k: data[k] for k in data.files if k != "header"}


def _permuted(keys):
    return keys[np.random.default_rng(0).permutation(keys.shape[0])]


def _with(table, at, value):
    table = table.copy()
    table[at] = value
    return table


NGRAM_TABLE_CASES = {  # name -> (members to replace, given the original tables; what the error says)
    "permuted-keys": (lambda t: {"keys2": _permuted(t["keys2"])}, "sorted"),
    "out-of-range-key": (lambda t: {"keys3": _with(t["keys3"], -1, 10 ** 12)}, "out of range"),
    "negative-key": (lambda t: {"keys2": _with(t["keys2"], 0, -5)}, "out of range"),
    "unigram-keys-not-ids": (lambda t: {"keys1": t["keys1"][::-1].copy()}, "unigram keys"),
    "nan-logp": (lambda t: {"logp2": _with(t["logp2"], 3, np.nan)}, "NaN or positive"),
    "positive-logp": (lambda t: {"logp1": _with(t["logp1"], 4, 0.5)}, "NaN or positive"),
    "nan-backoff": (lambda t: {"logb1": _with(t["logb1"], 4, np.nan)}, "backoff"),
    "inf-backoff": (lambda t: {"logb2": _with(t["logb2"], 0, np.inf)}, "backoff"),
    "short-logp": (lambda t: {"logp2": t["logp2"][:-1].copy()}, "lengths differ"),
    "float-keys": (lambda t: {"keys2": t["keys2"].astype(np.float64)}, "int64"),
    "2-d-logp": (lambda t: {"logp1": t["logp1"][:, None].copy()}, "1-d"),
    "missing-table": (lambda t: {"logb2": None}, "logb2"),
}


@pytest.mark.parametrize("case", NGRAM_TABLE_CASES)
@pytest.mark.parametrize("version", ["current", "old"])
def test_an_invalid_ngram_table_is_refused(files, tmp_path, case, version):
    """Each table defect is refused: in a current file (its SHA-256 recomputed, so only the table checks can
    tell) and in an lm.ngram/1 file, which has no SHA-256 at all."""
    replace, message = NGRAM_TABLE_CASES[case]

    def edit(header):
        if version == "old":
            del header["sha256"]
            header["format"] = "lm.ngram/1"
        return header
    path = rewrite_npz(files / "m.npz", tmp_path / "m.npz", header="header", edit=edit,
                       arrays=replace(_ngram_tables(files / "m.npz")))
    with pytest.raises(NgramFileError, match=message) as err:
        NgramModel.load(path)
    assert str(path) in str(err.value)


def test_permuted_keys_no_longer_change_perplexity_silently(files, tmp_path):
    """The issue's example: a file with permuted 2-gram keys (and a stale hash) is refused."""
    path = rewrite_npz(files / "m.npz", tmp_path / "m.npz", header="header", rehash=False,
                       arrays={"keys2": _permuted(_ngram_tables(files / "m.npz")["keys2"])})
    with pytest.raises(NgramFileError, match="SHA-256"):
        NgramModel.load(path)


@pytest.mark.parametrize("header, member", [("header", "logp2"), ("__meta__", "param/wte.weight")])
def test_an_edited_array_with_a_valid_crc_fails_the_content_hash(files, tmp_path, header, member):
    """A value changed by a tool that rewrites the zip (so the CRC-32 is right) but not the hash."""
    name = "m.npz" if header == "header" else "c.npz"
    with np.load(files / name) as data:
        table = data[member].copy()
    table.flat[0] = table.flat[0] - 0.25  # still a valid value
    path = rewrite_npz(files / name, tmp_path / name, header=header, rehash=False, arrays={member: table})
    with pytest.raises(LMFileError, match="SHA-256"):
        (NgramModel.load if name == "m.npz" else ckpt.load)(path)


def test_files_from_before_the_hash_still_load(files, tmp_path):
    """lm.ngram/1 and checkpoint version 1 files, which never had a SHA-256, load after the other checks."""
    def old_ngram(h):
        return {**{k: v for k, v in h.items() if k != "sha256"}, "format": "lm.ngram/1"}

    def old_ckpt(m):
        return {**{k: v for k, v in m.items() if k not in ("sha256", "tokenizer")}, "version": 1}
    path = rewrite_npz(files / "m.npz", tmp_path / "m.npz", header="header", edit=old_ngram)
    assert ngram_state(NgramModel.load(path)) == ngram_state(NgramModel.load(files / "m.npz"))
    path = rewrite_npz(files / "c.npz", tmp_path / "c.npz", header="__meta__", edit=old_ckpt)
    model, meta = ckpt.load(path)
    assert meta["version"] == 1 and meta["tokenizer"] is None
    assert checkpoint_state(files / "c.npz")[1] == {k: v.tobytes() for k, v in model.state_dict().items()}


def test_current_files_must_carry_their_hash(files, tmp_path):
    path = rewrite_npz(files / "m.npz", tmp_path / "m.npz", header="header",
                       edit=lambda h: {k: v for k, v in h.items() if k != "sha256"})
    with pytest.raises(NgramFileError, match="lacks the SHA-256"):
        NgramModel.load(path)
    path = rewrite_npz(files / "c.npz", tmp_path / "c.npz", header="__meta__",
                       edit=lambda m: {k: v for k, v in m.items() if k != "sha256"})
    with pytest.raises(CheckpointError, match="lacks the SHA-256"):
        ckpt.load(path)


def test_nan_parameters_are_refused(files, tmp_path):
    with np.load(files / "c.npz") as data:
        w = data["param/ln_f.weight"].copy()
    w[0] = np.nan
    path = rewrite_npz(files / "c.npz", tmp_path / "c.npz", header="__meta__", arrays={"param/ln_f.weight": w})
    with pytest.raises(CheckpointError, match="NaN"):
        ckpt.load(path)


@pytest.mark.parametrize("field, value", [("nan-logp", "nan"), ("positive-logp", "0.5"), ("inf-logp", "inf"),
                                          ("nan-backoff", None)])
def test_arpa_refuses_nan_and_positive_log_probabilities_naming_the_line(files, tmp_path, field, value):
    lines = (files / "m.arpa").read_text(encoding="utf-8").split("\n")
    at = lines.index("\\2-grams:") + 3
    parts = lines[at].split("\t")
    if value is None:
        parts[-1] = "nan"
    else:
        parts[0] = value
    lines[at] = "\t".join(parts)
    path = tmp_path / "m.arpa"
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(ArpaFormatError, match=f"m.arpa:{at + 1}: "):
        NgramModel.from_arpa(path)


# ----------------------------------------------------------------------------- 3. typed errors for wrong-shape JSON

DEEP = "[" * 100_000 + "]" * 100_000
CHECKPOINT_HEADERS = {  # name -> edit of the header dict, or raw JSON text
    "list": "[1, 2, 3]", "string": '"gpt"', "deep": DEEP, "huge-int": "1" + "0" * 5000, "not-json": "{'a': 1",
    "family-list": lambda m: {**m, "family": ["gpt"]}, "family-unknown": lambda m: {**m, "family": "rnn"},
    "config-list": lambda m: {**m, "config": [1, 2]},
    "config-str-int": lambda m: {**m, "config": {**m["config"], "vocab_size": "12"}},
    "config-bool-int": lambda m: {**m, "config": {**m["config"], "n_layer": True}},
    "config-huge-int": lambda m: {**m, "config": {**m["config"], "n_head": 10 ** 40}},
    "config-negative": lambda m: {**m, "config": {**m["config"], "d_model": -4}},
    "config-unknown-key": lambda m: {**m, "config": {**m["config"], "evil": 1}},
    "config-nan-dropout": lambda m: {**m, "config": {**m["config"], "dropout": float("nan")}},
    "config-dtype": lambda m: {**m, "config": {**m["config"], "dtype": "object"}},
    "config-deep": lambda m: {**m, "config": {**m["config"], "d_ff": [[[[[[1]]]]]]}},
    "step-str": lambda m: {**m, "step": "3"}, "step-negative": lambda m: {**m, "step": -1},
    "history-list": lambda m: {**m, "history": [1]}, "history-values": lambda m: {**m, "history": {"loss": 1}},
    "history-strings": lambda m: {**m, "history": {"loss": ["x"]}},
    "extra-list": lambda m: {**m, "extra": []}, "extra-tokenizer-int": lambda m: {**m, "extra": {"tokenizer": 5}}, "rng-list": lambda m: {**m, "rng_state": [1]},
    "tokenizer-str": lambda m: {**m, "tokenizer": "tok.json"},
    "tokenizer-escapes": lambda m: {**m, "tokenizer": {**m["tokenizer"], "name": "../../evil.json"}},
    "tokenizer-absolute": lambda m: {**m, "tokenizer": {**m["tokenizer"], "name": "/tmp/evil.json"}},
    "version-str": lambda m: {**m, "version": "2"}, "sha-int": lambda m: {**m, "sha256": 5},
    "version-bool-no-hash": lambda m: {**{k: v for k, v in m.items() if k != "sha256"}, "version": True},
}
NGRAM_HEADERS = {
    "list": "[1, 2, 3]", "string": '"lm.ngram/2"', "deep": DEEP, "huge-int": "9" * 5000,
    "order-str": lambda h: {**h, "order": "3"}, "order-huge": lambda h: {**h, "order": 10 ** 30},
    "order-zero": lambda h: {**h, "order": 0}, "order-float": lambda h: {**h, "order": 3.0},
    "vocab-str": lambda h: {**h, "vocab": "abc"}, "vocab-nested": lambda h: {**h, "vocab": [["a"]] * 3},
    "vocab-duplicate": lambda h: {**h, "vocab": h["vocab"][:-1] + [h["vocab"][4]]},
    "vocab-short": lambda h: {**h, "vocab": h["vocab"][:-1]},
    "smoothing-int": lambda h: {**h, "smoothing": 5}, "discounts-nan": lambda h: {**h, "discounts": [[float("nan")]]},
    "discounts-dict": lambda h: {**h, "discounts": {"a": 1}}, "missing-logb-str": lambda h: {**h, "missing_logb": "x"},
    "missing-logb-positive": lambda h: {**h, "missing_logb": 3.0},
    "metadata-list": lambda h: {**h, "metadata": []}, "format-list": lambda h: {**h, "format": ["lm.ngram/2"]},
}


@pytest.mark.parametrize("case", CHECKPOINT_HEADERS)
def test_a_malformed_checkpoint_header_is_a_checkpoint_error(files, tmp_path, case):
    edit = CHECKPOINT_HEADERS[case]
    path = rewrite_npz(files / "c.npz", tmp_path / "c.npz", header="__meta__",
                       **({"text": edit} if isinstance(edit, str) else {"edit": edit}))
    for load in (ckpt.load, ckpt.read_tokenizer):
        with pytest.raises(CheckpointError) as err:
            load(path)
        assert str(path) in str(err.value)


@pytest.mark.parametrize("case", NGRAM_HEADERS)
def test_a_malformed_ngram_header_is_an_ngram_file_error(files, tmp_path, case):
    edit = NGRAM_HEADERS[case]
    path = rewrite_npz(files / "m.npz", tmp_path / "m.npz", header="header",
                       **({"text": edit} if isinstance(edit, str) else {"edit": edit}))
    with pytest.raises(NgramFileError) as err:
        NgramModel.load(path)
    assert str(path) in str(err.value)


def test_an_embedded_tokenizer_name_cannot_escape_the_temporary_directory():
    for name in ("../x.json", "/tmp/x.json", "..", "", "a\\b", "a\0b"):
        with pytest.raises(TokenizerFileError):
            TokenizerFile(name=name, data=b"")


# ----------------------------------------------------------------------------- 3. paths that are not files

NOT_FILES_IN_CHILD = """
import json, sys
from lm import checkpoint as ckpt
from lm.ngram import NgramModel
from lm.tokenizer_file import TokenizerFile
loaders = {"ckpt.load": ckpt.load, "ckpt.read_meta": ckpt.read_meta, "NgramModel.load": NgramModel.load,
           "NgramModel.from_arpa": NgramModel.from_arpa, "TokenizerFile.read": TokenizerFile.read}
out = {}
for path in sys.argv[1:]:
    for name, load in loaders.items():
        try:
            load(path)
            out[f"{name} {path}"] = "loaded"
        except Exception as exc:
            out[f"{name} {path}"] = type(exc).__name__
print(json.dumps(out))
"""


def test_a_directory_fifo_or_device_is_refused_without_blocking(tmp_path):
    """Opening a FIFO for reading blocks until a writer comes; /dev/zero never ends: both refused at once,
    as is a directory (the child has 30 s)."""
    fifo = tmp_path / "model.npz"
    os.mkfifo(fifo)
    paths = [str(tmp_path), str(fifo), os.devnull] + (["/dev/zero"] if Path("/dev/zero").exists() else [])
    run = run_python(["-c", NOT_FILES_IN_CHILD, *paths], timeout=30)
    assert run.returncode == 0, run.stderr[-2000:]
    outcomes = json.loads(run.stdout)
    expected = {"ckpt.load": "CheckpointError", "ckpt.read_meta": "CheckpointError",
                "NgramModel.load": "NgramFileError", "NgramModel.from_arpa": "ArpaFormatError",
                "TokenizerFile.read": "TokenizerFileError"}
    assert len(outcomes) == len(expected) * len(paths)
    for key, outcome in outcomes.items():
        assert outcome == expected[key.split()[0]], (key, outcome)


def test_a_missing_model_file_stays_file_not_found(tmp_path):
    for load in (ckpt.load, ckpt.read_meta, NgramModel.load):
        with pytest.raises(FileNotFoundError):
            load(tmp_path / "missing.npz")


def test_a_corrupt_gzip_is_an_arpa_format_error(files, tmp_path):
    data = (files / "m.arpa.gz").read_bytes()
    for i, damaged in enumerate([data[:len(data) // 2], data[:40] + bytes(64) + data[104:], b"\x1f\x8b" + data[5:]]):
        path = tmp_path / f"{i}.arpa.gz"
        path.write_bytes(damaged)
        with pytest.raises(ArpaFormatError, match=str(path)):
            NgramModel.from_arpa(path)


def test_loaded_models_are_the_saved_ones(files):
    """The reference the fuzz test compares against: the checks accept what lm writes."""
    model, arpa = NgramModel.load(files / "m.npz"), NgramModel.from_arpa(files / "m.arpa.gz")
    assert model.metadata == {"note": "hostile"} and ngram_state(model) == ngram_state(NgramModel.load(files / "m.npz"))
    assert math.isclose(model.perplexity([WORDS[:5]]), arpa.perplexity([WORDS[:5]]), rel_tol=1e-6)
    assert checkpoint_state(files / "c.npz")[2] == (files / "tok.json").read_bytes()


# ----------------------------------------------------------------------------- 4. the command line

TRAIN = ["--block-size", "8", "--batch-size", "2", "--n-layer", "1", "--n-head", "2", "--d-model", "8", "--steps", "2"]
BAD_OPTIONS = [  # (command, options, a word of the message); each a usage error: status 2, one line
    ("gpt train", ["--batch-size", "0"], "batch_size"), ("gpt train", ["--lr", "nan"], "lr"),
    ("gpt train", ["--lr", "-1"], "lr"), ("gpt train", ["--steps", "-1"], "steps"),
    ("gpt train", ["--clip", "nan"], "clip"), ("gpt train", ["--weight-decay", "inf"], "weight_decay"),
    ("gpt train", ["--val-fraction", "1"], "val_fraction"), ("gpt train", ["--gamma", "0"], "gamma"),
    ("gpt train", ["--eval-every", "-1"], "eval_every"), ("gpt train", ["--warmup", "-2"], "warmup"),
    ("gpt train", ["--dropout", "2"], "dropout"), ("gpt train", ["--dropout", "nan"], "dropout"),
    ("gpt train", ["--label-smoothing", "1"], "label_smoothing"), ("gpt train", ["--d-ff", "0"], "d_ff"),
    ("bert train", ["--dropout", "-0.5"], "dropout"), ("t5 train", ["--batch-size", "0"], "batch_size"),
    ("gpt sample", ["-n", "-5"], "tokens"), ("gpt sample", ["--temperature", "nan"], "temperature"),
    ("gpt sample", ["--temperature", "inf"], "temperature"), ("gpt sample", ["--top-k", "0"], "top_k"),
    ("ngram train", ["-k", "0", "--smoothing", "add_k"], "k must"), ("ngram train", ["-k", "nan"], "k must"),
    ("ngram train", ["--alpha", "2"], "alpha"), ("ngram train", ["--alpha", "0", "--smoothing", "stupid_backoff"],
                                                 "alpha"),
]


def _argv(command, options, files, king_files, out):
    d, corpus, tok = king_files
    family, verb = command.split()
    if verb == "train" and family == "ngram":
        return [family, verb, "-o", str(out), *options, str(corpus)]
    if verb == "train":
        return [family, verb, "--tokenizer", str(tok), "-o", str(out), *TRAIN, *options, str(corpus)]
    return [family, verb, str(files / "c.npz"), "--prompt", "the", *options]


@pytest.mark.parametrize("command, options, word", BAD_OPTIONS, ids=[f"{c}{' '.join(o)}" for c, o, _ in BAD_OPTIONS])
def test_a_bad_option_value_is_a_usage_error(files, king_files, tmp_path, capsys, command, options, word):
    out = tmp_path / ("m.arpa" if command.startswith("ngram") else "x.npz")
    fails_naming(capsys, _argv(command, options, files, king_files, out), word, status=2)
    assert not out.exists()


@pytest.mark.parametrize("command", ["gpt train", "ngram train"])
def test_an_output_path_that_is_a_directory_fails_in_one_line(files, king_files, tmp_path, capsys, command):
    fails_naming(capsys, _argv(command, [], files, king_files, tmp_path), "directory", status=1)


def test_hostile_model_files_fail_the_cli_in_one_line(files, king_files, tmp_path, capsys):
    d, corpus, tok = king_files
    (tmp_path / "dir.npz").mkdir()
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes((files / "m.npz").read_bytes()[:-100])
    forged = rewrite_npz(files / "c.npz", tmp_path / "forged.npz", header="__meta__",
                         edit=lambda m: {**m, "config": {**m["config"], "vocab_size": 10 ** 10}})
    for argv, word in [(["ngram", "eval", str(tmp_path / "dir.npz"), str(corpus)], "directory"),
                       (["ngram", "eval", str(tmp_path), str(corpus)], "directory"),
                       (["ngram", "eval", str(damaged), str(corpus)], "damaged.npz"),
                       (["gpt", "sample", str(forged), "--prompt", "the"], "parameters"),
                       (["gpt", "eval", str(tmp_path / "dir.npz"), str(corpus)], "directory")]:
        fails_naming(capsys, argv, word, status=1)


RLHF_BAD_OPTIONS = [(["--ppo-lr", "nan"], "lr"), (["--ppo-clip-eps", "1"], "clip_eps"),
                    (["--ppo-target-kl", "-1"], "target_kl"), (["--pretrain-steps", "-1"], "pretrain_steps"),
                    (["--dpo-beta", "inf"], "dpo_beta"), (["--n-heldout", "10000"], "n_heldout")]


@pytest.mark.parametrize("options, word", RLHF_BAD_OPTIONS, ids=[" ".join(o) for o, _ in RLHF_BAD_OPTIONS])
def test_a_bad_rlhf_demo_option_is_a_usage_error(capsys, options, word):
    fails_naming(capsys, ["rlhf", "demo", "--quick", "--quiet", "--plot", "", *options], word, status=2)


@pytest.mark.parametrize("kind, name", [("checkpoint", "c.npz"), ("ngram", "m.npz")])
def test_every_header_field_set_to_hostile_values_loads_or_fails_typed(files, kind, name):
    """Each header field, nested ones too (config, tokenizer record), set to None, bools, huge and negative
    ints, NaN, inf, long strings, lists and objects, with the SHA-256 recomputed: LMFileError or a load."""
    run = run_python(["-m", "tests.lm.hostile", "grid", kind, str(files / name)])
    assert run.returncode == 0, run.stderr[-2000:]
    counts = json.loads(run.stdout)
    assert counts["n_escaped"] == 0, counts["escaped"]
    assert counts["refused"] > counts["loaded"]
