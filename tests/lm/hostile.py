"""Hostile model files for the loader tests, and the fuzz worker the tests run in a limited subprocess.

    python -m tests.lm.hostile KIND PATH N SEED [--rezip]   # mutate the file at PATH N times, load each

KIND is one of LOADERS. Each mutant (a byte flip, a truncation, a deleted, duplicated or inserted span) must
load to a model identical to the original's, or fail with an `LMFileError` (an `OSError` is allowed too);
the worker prints one JSON line {"identical", "changed", "refused", "n_escaped", "escaped": [the first few]}.
`run_limited` runs any such command under an address-space limit and a time limit, so that a regression
(a loader allocating what a forged header claims, or reading forever) fails a test instead of the machine.
"""
from __future__ import annotations

import io
import json
import struct
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from lm import checkpoint as ckpt
from lm.errors import LMFileError
from lm.files import content_hash
from lm.ngram import NgramModel



# ----------------------------------------------------------------------------- what a loaded model is

def checkpoint_state(path) -> tuple:
    """Everything `lm.checkpoint` reads from a file: header, parameters, embedded tokenizer bytes."""
    model, meta = ckpt.load(path)
    tokenizer = ckpt.read_tokenizer(path)
    params = {k: v.tobytes() for k, v in model.state_dict().items()}
    return json.dumps(meta, sort_keys=True), params, None if tokenizer is None else tokenizer.data


def ngram_state(model: NgramModel) -> tuple:
    """Everything a loaded n-gram model holds: vocabulary, options, metadata and every table's bytes."""
    tables = tuple(tuple(a.tobytes() for a in model.ngrams(k)) for k in range(1, model.order + 1))
    return (model.vocab, model.smoothing, model.discounts, model._missing_logb, model.metadata, tables)


LOADERS = {
    "checkpoint": checkpoint_state,
    "ngram": lambda path: ngram_state(NgramModel.load(path)),
    "arpa": lambda path: ngram_state(NgramModel.from_arpa(path)),
}


# ----------------------------------------------------------------------------- forged files

def rewrite_npz(src, dst, *, header: str, edit=None, text: str | None = None, arrays: dict | None = None,
                rehash: bool = True) -> Path:
    """Copy the .npz at `src` (or the {member: array} dict `src`) to `dst` with its JSON header (the member
    `header`) changed by edit(header) -> header or replaced by the raw `text`, and members replaced from
    `arrays` ({name: array, or None to drop it}). With `rehash` the header's "sha256" is recomputed, as a
    deliberate forger would."""
    if isinstance(src, dict):
        content = dict(src)
    else:
        with np.load(src) as data:
            content = {k: data[k] for k in data.files}
    meta = json.loads(str(content.pop(header)))
    for name, value in (arrays or {}).items():
        if value is None:
            content.pop(name, None)
        else:
            content[name] = value
    if edit is not None:
        meta = edit(meta)
    if rehash and isinstance(meta, dict) and isinstance(meta.get("sha256"), str):
        meta["sha256"] = content_hash(meta, content)
    content[header] = np.array(json.dumps(meta) if text is None else text)
    np.savez(dst, **content)
    return Path(dst)


def _copy_zip(src, dst, replace: dict) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, replace.get(info.filename, zin.read(info)))
    return Path(dst)


def forge_npy_header(src, dst, member: str, shape: tuple, descr: str = "<f8") -> Path:
    """Copy the .npz at `src` with `member` (e.g. "keys2") replaced by a .npy header claiming `shape` of `descr`
    over 16 bytes of data: a loader that trusts it allocates the claimed size."""
    body = io.BytesIO()
    npy_format.write_array_header_1_0(body, {"descr": descr, "fortran_order": False, "shape": shape})
    body.write(bytes(16))
    return _copy_zip(src, dst, {member + ".npy": body.getvalue()})


def forge_zip_size(src, dst, member: str, size: int) -> Path:
    """Copy the .npz at `src` with the central directory's uncompressed size of `member` set to `size`."""
    data = bytearray(Path(src).read_bytes())
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        n_name, n_extra, n_comment = struct.unpack_from("<HHH", data, at + 28)
        if data[at + 46:at + 46 + n_name].decode() == member + ".npy":
            struct.pack_into("<I", data, at + 24, size)
        at = data.find(b"PK\x01\x02", at + 46 + n_name + n_extra + n_comment)
    Path(dst).write_bytes(bytes(data))
    return Path(dst)


# ----------------------------------------------------------------------------- mutations

def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    """One random damage: flip bits of 1-4 bytes, truncate, delete a span, duplicate a span, insert bytes.
    Half of the positions fall in the first or last 512 bytes, where zip, gzip and .npy headers live."""
    n = len(data)

    def pos() -> int:
        if rng.random() < 0.5:
            edge = min(n, 512)
            return int(rng.integers(0, edge)) if rng.random() < 0.5 else n - 1 - int(rng.integers(0, edge))
        return int(rng.integers(0, n))

    kind = int(rng.integers(0, 5))
    if kind == 0:
        out = bytearray(data)
        for _ in range(int(rng.integers(1, 5))):
            out[pos()] ^= int(rng.integers(1, 256))
        return bytes(out)
    if kind == 1:
        return data[:pos()]
    i = pos()
    j = min(n, i + int(rng.integers(1, 64)))
    if kind == 2:
        return data[:i] + data[j:]
    if kind == 3:
        return data[:j] + data[i:j] + data[j:]
    return data[:i] + rng.integers(0, 256, int(rng.integers(1, 16)), dtype=np.uint8).tobytes() + data[i:]


def mutate_member(data: bytes, rng: np.random.Generator) -> bytes:
    """Damage one member of a zip (.npz) and write the zip again with correct CRC-32s: what a tool that
    edits a model file, or an attacker, produces. Only the loader's own checks can refuse it."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        members = [(info.filename, zf.read(info)) for info in zf.infolist()]
    target = int(rng.integers(0, len(members)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for i, (name, body) in enumerate(members):
            zf.writestr(name, mutate(body, rng) if i == target else body)
    return out.getvalue()


def fuzz(kind: str, path: str, n: int, seed: int, *, rezip: bool = False) -> dict:
    """Load `n` mutants of the file at `path` with LOADERS[kind] (with `rezip`, mutants of one zip member
    whose CRC-32 is then correct); count what happened. A plain .arpa file has no checksum: a flipped digit
    is another valid model, so there "changed" counts valid models that differ, and is no failure."""
    load = LOADERS[kind]
    original = load(path)
    data = Path(path).read_bytes()
    rng = np.random.default_rng(seed)
    may_change = path.endswith(".arpa")
    counts = {"identical": 0, "changed": 0, "refused": 0, "escaped": []}
    with tempfile.TemporaryDirectory() as tmp:
        mutant = Path(tmp) / Path(path).name
        for i in range(n):
            mutant.write_bytes(mutate_member(data, rng) if rezip else mutate(data, rng))
            try:
                state = load(mutant)
            except (LMFileError, OSError):
                counts["refused"] += 1
                continue
            except BaseException as exc:  # noqa: BLE001 -- exactly what must not happen
                counts["escaped"].append(f"mutant {i}: {type(exc).__name__}: {exc}"[:300])
                continue
            if state == original:
                counts["identical"] += 1
            elif may_change:
                counts["changed"] += 1
            else:
                counts["escaped"].append(f"mutant {i}: loaded a model that differs from the original")
    counts["n_escaped"] = len(counts["escaped"])
    counts["escaped"] = counts["escaped"][:5]
    return counts


HOSTILE_VALUES = [None, True, -1, 0, 10 ** 40, -(10 ** 40), 1e308, float("nan"), float("inf"), 2.5, "", "x" * 1000,
                  [], {}, [[[]]], {"a": [1]}, [1, "a", None]]


def header_fields(header: dict) -> list[tuple]:
    """Paths (tuples of keys) of every field of a header and of its nested objects (config, tokenizer...)."""
    paths = []
    for key, value in header.items():
        paths.append((key,))
        if isinstance(value, dict):
            paths.extend((key, sub) for sub in value)
    return paths


def replace_field(header: dict, path: tuple, value) -> dict:
    header = json.loads(json.dumps(header))
    target = header
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return header


def grid(kind: str, path: str) -> dict:
    """Every header field (nested ones too) set to each of HOSTILE_VALUES, the header's SHA-256 recomputed
    (a forger's file): each must load (it is then a valid, different model) or raise LMFileError."""
    name = {"checkpoint": "__meta__", "ngram": "header"}[kind]
    with np.load(path) as data:
        content = {k: data[k] for k in data.files}
    header = json.loads(str(content[name]))
    counts = {"loaded": 0, "refused": 0, "escaped": []}
    with tempfile.TemporaryDirectory() as tmp:
        forged = Path(tmp) / Path(path).name
        for field in header_fields(header):
            for value in HOSTILE_VALUES:
                rewrite_npz(content, forged, header=name, edit=lambda h: replace_field(h, field, value))
                try:
                    LOADERS[kind](forged)
                    counts["loaded"] += 1
                except LMFileError:
                    counts["refused"] += 1
                except BaseException as exc:  # noqa: BLE001 -- exactly what must not happen
                    counts["escaped"].append(f"{field} = {value!r:.40}: {type(exc).__name__}: {exc}"[:300])
    counts["n_escaped"] = len(counts["escaped"])
    counts["escaped"] = counts["escaped"][:5]
    return counts


if __name__ == "__main__":
    if sys.argv[1] == "grid":
        print(json.dumps(grid(sys.argv[2], sys.argv[3])))
    else:
        print(json.dumps(fuzz(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]),
                              rezip="--rezip" in sys.argv)))
