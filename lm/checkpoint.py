"""Checkpoints: one ``.npz`` holding the parameters, the optimiser state and a JSON header.

Layout: ``__meta__`` is a JSON string {"format": "lm-checkpoint", "version": 2, "family", "config",
"step", "optimizer", "rng_state", "history", "extra", "tokenizer", "sha256"}; ``param/<name>`` arrays hold the
weights and ``optim/<key>`` arrays the optimiser's moments. A checkpoint saved with a tokenizer embeds the
tokenizer file's exact bytes as the uint8 array ``tokenizer``, with {"name", "sha256"} in the header, so
a checkpoint moved without its tokenizer file still samples and evaluates (``read_tokenizer``). The file
is written to a temporary file in the same directory and moved into place (``fasttok._files.atomic_write``),
so a crash never leaves a half-written checkpoint.
Read the header alone with ``read_meta(path)``. Loading trusts nothing in the file (see ``_read`` and
``lm.files``): the header's fields, the config, the arrays' sizes and the recorded SHA-256 (``content_hash``
of the header and every array) are all checked before a model is built; a version 1 checkpoint, written
before the SHA-256 was recorded, is loaded after the other checks.
"""
from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np

from fasttok._files import atomic_write  # the one atomic writer of both packages

from .errors import CheckpointError, TokenizerFileError
from .files import NpzFile, content_hash
from .nn import BERT, GPT, MLPLM, T5, BERTConfig, GPTConfig, MLPLMConfig, T5Config
from .tokenizer_file import TokenizerFile, is_plain_name

FORMAT, VERSION = "lm-checkpoint", 2  # version 2: the header records the SHA-256 of the content, required
OLD_VERSIONS = (1,)  # written before the SHA-256 was recorded: loaded after every other check
FAMILIES = {"gpt": (GPT, GPTConfig), "bert": (BERT, BERTConfig), "t5": (T5, T5Config), "mlplm": (MLPLM, MLPLMConfig)}


def family_of(model) -> str:
    for name, (cls, _) in FAMILIES.items():
        if type(model) is cls:
            return name
    raise TypeError(f"no checkpoint family for {type(model).__name__}")


def save(path, model, *, optimizer=None, step: int = 0, rng: np.random.Generator | None = None,
         history: dict | None = None, extra: dict | None = None, tokenizer: TokenizerFile | None = None) -> Path:
    """Write ``model`` (and optionally optimiser state, step, data-rng state, loss history, and the
    tokenizer file whose ids it models) to ``path``; the header records the SHA-256 of the whole content."""
    path = Path(path)
    meta = {"format": FORMAT, "version": VERSION, "family": family_of(model), "config": model.config.to_dict(),
            "step": int(step), "optimizer": None if optimizer is None else type(optimizer).__name__,
            "rng_state": None if rng is None else rng.bit_generator.state, "history": history or {},
            "extra": extra or {}, "tokenizer": None if tokenizer is None else tokenizer.record()}
    arrays = {f"param/{k}": v for k, v in model.state_dict().items()}
    if optimizer is not None:
        arrays.update({f"optim/{k}": v for k, v in optimizer.state_arrays().items()})
    if tokenizer is not None:
        arrays["tokenizer"] = np.frombuffer(tokenizer.data, dtype=np.uint8)  # (n_bytes,)
    meta["sha256"] = content_hash(meta, arrays)
    arrays["__meta__"] = np.array(json.dumps(meta))
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


# What a header holds besides format, version, family and config: (its check, its value when absent).
META_FIELDS = {
    "step": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, 0),
    "optimizer": (lambda v: v is None or isinstance(v, str), None),
    "rng_state": (lambda v: v is None or isinstance(v, dict), None),
    "history": (lambda v: isinstance(v, dict) and all(isinstance(x, list) and all(_is_number(y) for y in x)
                                                      for x in v.values()), {}),
    "extra": (lambda v: isinstance(v, dict) and isinstance(v.get("tokenizer", ""), (str, type(None))), {}),
    "tokenizer": (lambda v: v is None or (isinstance(v, dict) and is_plain_name(v.get("name"))
                                          and isinstance(v.get("sha256"), str)), None),
    "sha256": (lambda v: isinstance(v, str), None),
}
MEMBER_KINDS = {"param/": "f", "optim/": "fiu", "tokenizer": "u"}  # what each kind of member may hold


def _read_meta(data: NpzFile, path) -> dict:
    """The checked header of an open checkpoint: every field of the type `save` writes, the config one its
    family's config class accepts (`meta["config"]` stays the dict; `_config` builds the object)."""
    if "__meta__" not in data:
        if "header" in data:  # lm.ngram's .npz, a common mix-up
            raise CheckpointError(f"{path} holds an n-gram model, not a neural checkpoint: use `lm ngram eval`")
        raise CheckpointError(f"{path} is not an lm checkpoint (no __meta__ header)")
    meta = data.read_json("__meta__")
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path} is not an lm checkpoint (its header is a JSON {type(meta).__name__})")
    version = meta.get("version")
    if meta.get("format") != FORMAT or type(version) is not int or version not in (VERSION, *OLD_VERSIONS):
        raise CheckpointError(f"{path}: unsupported checkpoint format {meta.get('format')!r} v{meta.get('version')}")
    if meta["version"] == VERSION and not isinstance(meta.get("sha256"), str):
        raise CheckpointError(f"{path}: its header lacks the SHA-256 of its content")
    if not isinstance(meta.get("family"), str) or meta["family"] not in FAMILIES:
        raise CheckpointError(f"{path}: unknown model family {meta.get('family')!r}")
    for name, (ok, default) in META_FIELDS.items():
        if name not in meta:  # files from before the field was recorded
            meta[name] = copy.copy(default)
        elif not ok(meta[name]):
            raise CheckpointError(f"{path}: malformed header field {name!r}")
    _config(meta, path)
    for name in data.files:
        kinds = next((k for prefix, k in MEMBER_KINDS.items() if name.startswith(prefix)), None)
        if name != "__meta__" and (kinds is None or data.dtype(name).kind not in kinds):
            raise CheckpointError(f"{path}: unexpected array {name!r} of dtype {data.dtype(name)}")
    return meta


def _config(meta: dict, path):
    """The config object of a checked header (CheckpointError if its class refuses the values)."""
    config_cls = FAMILIES[meta["family"]][1]
    if not isinstance(meta.get("config"), dict):
        raise CheckpointError(f"{path}: malformed header field 'config'")
    try:
        return config_cls(**meta["config"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: invalid {config_cls.__name__}: {exc}") from None


def _read(path, *, only: tuple | None = None) -> tuple[dict, dict]:
    """(checked header, {member: array}) of the checkpoint at `path`. Before any array is read, the config's
    parameter count is checked against the sizes the arrays' headers claim (themselves checked against the
    file), so memory stays bounded by the file's size; then the recorded SHA-256, if any, is checked. With
    `only`, just those members are read and the SHA-256 of the whole is not checked (`read_meta`)."""
    if not Path(path).exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    with NpzFile(path, CheckpointError, kind="an lm checkpoint") as data:
        meta = _read_meta(data, path)
        if only is not None:
            return meta, {k: data[k] for k in only if k in data}
        want = _config(meta, path).n_params()
        have = sum(math.prod(data.shape(k)) for k in data.files if k.startswith("param/"))
        if want != have:
            raise CheckpointError(f"{path}: its config describes {want:,} parameters but it holds {have:,}")
        content = {k: data[k] for k in data.files if k != "__meta__"}
    if meta["sha256"] is not None and meta["sha256"] != content_hash(meta, content):
        raise CheckpointError(f"{path}: its content differs from the SHA-256 recorded when it was saved "
                              "(the file was modified or damaged)")
    for name, value in content.items():
        if name.startswith("param/") and not np.isfinite(value).all():
            raise CheckpointError(f"{path}: parameter {name[len('param/'):]} holds NaN or infinite values")
    return meta, content


def _prefixed(content: dict, prefix: str) -> dict:
    return {k[len(prefix):]: v for k, v in content.items() if k.startswith(prefix)}


def read_meta(path) -> dict:
    """The checked header alone (no array is read, so its SHA-256 is not checked here)."""
    return _read(path, only=())[0]


def read_tokenizer(path) -> TokenizerFile | None:
    """The tokenizer file embedded in the checkpoint, or None when it was saved without one. The whole file
    is checked as by `load` (the header's record of the tokenizer's name, which decides how fasttok reads the
    bytes, is covered only by the SHA-256 of the whole), and the bytes against their own SHA-256."""
    return _embedded_tokenizer(path, *_read(path))


def _embedded_tokenizer(path, meta: dict, content: dict) -> TokenizerFile | None:
    record = meta["tokenizer"]
    if record is None:
        return None
    if "tokenizer" not in content or content["tokenizer"].ndim != 1:
        raise CheckpointError(f"{path}: the header names tokenizer {record['name']!r} but its bytes are missing")
    try:
        tokenizer = TokenizerFile(name=record["name"], data=content["tokenizer"].tobytes())
    except TokenizerFileError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    if tokenizer.sha256 != record["sha256"]:
        raise CheckpointError(f"{path}: the embedded tokenizer {record['name']} is damaged (its SHA-256 differs)")
    return tokenizer


def load(path, *, rng: np.random.Generator | None = None):
    """Rebuild the model a checkpoint describes; returns (model, meta). Nothing is allocated before the
    header, the config and the arrays' sizes agree (see `_read`)."""
    meta, content = _read(path)
    return _build(path, meta, content, rng), meta


def load_with_tokenizer(path, *, rng: np.random.Generator | None = None):
    """(model, meta, embedded TokenizerFile or None) from one read of the file: `load` and `read_tokenizer`
    together, so the file is read and its SHA-256 checked once."""
    meta, content = _read(path)
    return _build(path, meta, content, rng), meta, _embedded_tokenizer(path, meta, content)


def _build(path, meta: dict, content: dict, rng):
    cls = FAMILIES[meta["family"]][0]
    model = cls(_config(meta, path), rng=rng or np.random.default_rng(0))
    _restore(path, model.load_state_dict, _prefixed(content, "param/"), "parameters")
    return model


def _restore(path, load_state, state: dict, what: str) -> None:
    try:
        load_state(state)
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{path}: its {what} do not fit: {exc}") from None


def load_into(path, model, *, optimizer=None, rng: np.random.Generator | None = None) -> dict:
    """Restore ``model`` (and optimiser, data rng) in place for resuming; the configs must match exactly."""
    meta, content = _read(path)
    if meta["family"] != family_of(model):
        raise CheckpointError(f"{path} holds a {meta['family']} model, not a {family_of(model)} model")
    mine = model.config.to_dict()
    diffs = [f"{k}: checkpoint {meta['config'].get(k)!r} vs model {v!r}" for k, v in mine.items()
             if meta["config"].get(k) != v]
    if diffs:
        raise CheckpointError("checkpoint config does not match the model: " + "; ".join(diffs))
    _restore(path, model.load_state_dict, _prefixed(content, "param/"), "parameters")
    if optimizer is not None:
        if meta["optimizer"] != type(optimizer).__name__:
            raise CheckpointError(f"checkpoint optimiser is {meta['optimizer']}, not {type(optimizer).__name__}")
        _restore(path, optimizer.load_state_arrays, _prefixed(content, "optim/"), "optimiser state")
    if rng is not None and meta["rng_state"] is not None:
        state = rng.bit_generator.state
        try:
            rng.bit_generator.state = meta["rng_state"]
        except (ValueError, KeyError, TypeError, OverflowError) as exc:
            rng.bit_generator.state = state
            raise CheckpointError(f"{path}: malformed rng state ({type(exc).__name__}: {exc})") from None
    return meta
