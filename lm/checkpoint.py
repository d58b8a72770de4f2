"""Checkpoints: one ``.npz`` holding the parameters, the optimiser state and a JSON header.

Layout: ``__meta__`` is a JSON string {"format": "lm-checkpoint", "version": 1, "family", "config",
"step", "optimizer", "rng_state", "history", "extra", "tokenizer"}; ``param/<name>`` arrays hold the
weights and ``optim/<key>`` arrays the optimiser's moments. A checkpoint saved with a tokenizer embeds the
tokenizer file's exact bytes as the uint8 array ``tokenizer``, with {"name", "sha256"} in the header, so
a checkpoint moved without its tokenizer file still samples and evaluates (``read_tokenizer``). The file
is written to a temporary file in the same directory and moved into place (``fasttok._files.atomic_write``),
so a crash never leaves a half-written checkpoint.
Read the header alone with ``read_meta(path)``.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from fasttok._files import atomic_write  # the one atomic writer of both packages

from .errors import CheckpointError
from .nn import BERT, GPT, MLPLM, T5, BERTConfig, GPTConfig, MLPLMConfig, T5Config
from .tokenizer_file import TokenizerFile

FORMAT, VERSION = "lm-checkpoint", 1
FAMILIES = {"gpt": (GPT, GPTConfig), "bert": (BERT, BERTConfig), "t5": (T5, T5Config), "mlplm": (MLPLM, MLPLMConfig)}


def family_of(model) -> str:
    for name, (cls, _) in FAMILIES.items():
        if type(model) is cls:
            return name
    raise TypeError(f"no checkpoint family for {type(model).__name__}")


def save(path, model, *, optimizer=None, step: int = 0, rng: np.random.Generator | None = None,
         history: dict | None = None, extra: dict | None = None, tokenizer: TokenizerFile | None = None) -> Path:
    """Write ``model`` (and optionally optimiser state, step, data-rng state, loss history, and the
    tokenizer file whose ids it models) to ``path``."""
    path = Path(path)
    meta = {"format": FORMAT, "version": VERSION, "family": family_of(model), "config": model.config.to_dict(),
            "step": int(step), "optimizer": None if optimizer is None else type(optimizer).__name__,
            "rng_state": None if rng is None else rng.bit_generator.state, "history": history or {},
            "extra": extra or {}, "tokenizer": None if tokenizer is None else tokenizer.record()}
    arrays = {f"param/{k}": v for k, v in model.state_dict().items()}
    if optimizer is not None:
        arrays.update({f"optim/{k}": v for k, v in optimizer.state_dict().items()})
    if tokenizer is not None:
        arrays["tokenizer"] = np.frombuffer(tokenizer.data, dtype=np.uint8)  # (n_bytes,)
    arrays["__meta__"] = np.array(json.dumps(meta))
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def _open(path):
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as exc:  # zip or format errors mean "not a checkpoint"
        raise CheckpointError(f"{path} is not an lm checkpoint ({exc})") from None
    if "__meta__" not in data.files and "header" in data.files:  # lm.ngram's .npz, a common mix-up
        raise CheckpointError(f"{path} holds an n-gram model, not a neural checkpoint: use `lm ngram eval`")
    try:
        meta = json.loads(str(data["__meta__"]))
    except Exception as exc:  # key or JSON errors all mean "not a checkpoint"
        raise CheckpointError(f"{path} is not an lm checkpoint ({exc})") from None
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise CheckpointError(f"{path}: unsupported checkpoint format {meta.get('format')!r} v{meta.get('version')}")
    return data, meta


def read_meta(path) -> dict:
    return _open(path)[1]


def read_tokenizer(path) -> TokenizerFile | None:
    """The tokenizer file embedded in the checkpoint, or None when it was saved without one."""
    data, meta = _open(path)
    record = meta.get("tokenizer")
    if record is None:
        return None
    if "tokenizer" not in data.files:
        raise CheckpointError(f"{path}: the header names tokenizer {record['name']} but its bytes are missing")
    tokenizer = TokenizerFile(name=record["name"], data=data["tokenizer"].tobytes())
    if tokenizer.sha256 != record["sha256"]:
        raise CheckpointError(f"{path}: the embedded tokenizer {record['name']} is damaged (its SHA-256 differs)")
    return tokenizer


def load(path, *, rng: np.random.Generator | None = None):
    """Rebuild the model a checkpoint describes; returns (model, meta)."""
    data, meta = _open(path)
    cls, config_cls = FAMILIES[meta["family"]]
    model = cls(config_cls(**meta["config"]), rng=rng or np.random.default_rng(0))
    model.load_state_dict({k[len("param/"):]: data[k] for k in data.files if k.startswith("param/")})
    return model, meta


def load_into(path, model, *, optimizer=None, rng: np.random.Generator | None = None) -> dict:
    """Restore ``model`` (and optimiser, data rng) in place for resuming; the configs must match exactly."""
    data, meta = _open(path)
    if meta["family"] != family_of(model):
        raise CheckpointError(f"{path} holds a {meta['family']} model, not a {family_of(model)} model")
    mine = model.config.to_dict()
    diffs = [f"{k}: checkpoint {meta['config'].get(k)!r} vs model {v!r}" for k, v in mine.items()
             if meta["config"].get(k) != v]
    if diffs:
        raise CheckpointError("checkpoint config does not match the model: " + "; ".join(diffs))
    model.load_state_dict({k[len("param/"):]: data[k] for k in data.files if k.startswith("param/")})
    if optimizer is not None:
        if meta["optimizer"] != type(optimizer).__name__:
            raise CheckpointError(f"checkpoint optimiser is {meta['optimizer']}, not {type(optimizer).__name__}")
        optimizer.load_state_dict({k[len("optim/"):]: data[k] for k in data.files if k.startswith("optim/")})
    if rng is not None and meta["rng_state"] is not None:
        rng.bit_generator.state = meta["rng_state"]
    return meta
