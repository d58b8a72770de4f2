"""Reading model files that may be hostile: every lm loader opens its file through here.

A model file is something people download and load without reading. So a loader refuses what is not a
regular file before reading it, reads no more than the file holds, checks every claimed size against the
bytes really there before allocating, and fails with an `LMFileError` subclass naming the file.

    open_regular(path, error)   a binary file object; a directory, FIFO or device (/dev/zero) is refused
                                without blocking; a missing file stays FileNotFoundError (an OSError)
    NpzFile(path, error)        the arrays of an .npz as numpy's `savez` writes it, each member's .npy header
                                checked against the member's real size before any array is built
    content_hash(header, arrays)  the SHA-256 a model file's header records of its own content

Memory is bounded by the file's size: a stored member (what lm writes) yields at most its own bytes, a
deflated one at most DEFLATE_RATIO times its compressed bytes, whatever its headers claim.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import stat
import struct
import tokenize
import zipfile
import zlib

import numpy as np
from numpy.lib import format as npy_format

from .errors import LMFileError

DEFLATE_RATIO = 1032  # the most DEFLATE can expand: a member claiming more than this is forged
ARRAY_KINDS = "biufU"  # bool, integers, floats, str: no object (pickle), void or structured arrays
# What zipfile, zlib and numpy's .npy header parser (tokenize, then ast.literal_eval) raise on damaged bytes;
# RecursionError is a RuntimeError.
READ_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, ValueError, LookupError,
               TypeError, OverflowError, SyntaxError, RuntimeError, struct.error, tokenize.TokenError)


def open_regular(path, error: type[LMFileError]):
    """(binary file object, size) of the regular file at `path`. It is opened without blocking and checked
    before anything is read: a FIFO would block an ordinary open, a device such as /dev/zero never ends."""
    path = os.fspath(path)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file (a pipe, socket or device)"
            raise error(f"{path} is {kind}, not a model file")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb"), st.st_size
    except BaseException:
        os.close(fd)
        raise


class NpzFile:
    """The arrays of an .npz, read without trusting it. Opening checks the zip's directory and every
    member's .npy header (dtype, shape, claimed size == the member's real size), without reading any
    array; `self[name]` reads one array (the zip's CRC-32 checked). Anything malformed raises `error`,
    naming the file (and, for a file that is no .npz at all, saying it is not `kind`). Use as a context
    manager, or call `close`."""

    def __init__(self, path, error: type[LMFileError], *, kind: str = "an .npz model file"):
        self.path = os.fspath(path)
        self._error = error
        self._file, size = open_regular(self.path, error)
        try:
            self._zip = zipfile.ZipFile(self._file)
            self._members = self._read_headers(size)
        except LMFileError:
            self.close()
            raise
        except READ_ERRORS as exc:
            self.close()
            raise error(f"{self.path} is not {kind}: not a readable .npz ({type(exc).__name__}: {exc})") from None

    def _fail(self, message: str):
        raise self._error(f"{self.path}: {message}")

    def _read_headers(self, size: int) -> dict:
        members = {}
        for info in self._zip.infolist():
            name = info.filename
            if not name.endswith(".npy") or name[:-4] in members:
                self._fail(f"member {name!r} is not one .npy array (a foreign or duplicated member)")
            if info.compress_type == zipfile.ZIP_STORED:
                limit = info.compress_size
            elif info.compress_type == zipfile.ZIP_DEFLATED:
                limit = DEFLATE_RATIO * info.compress_size + 64
            else:
                self._fail(f"member {name!r} uses compression method {info.compress_type}, not stored or deflated")
            if info.header_offset + info.compress_size > size or info.file_size > limit:
                self._fail(f"member {name!r} claims {info.file_size} bytes, more than the file can hold")
            with self._zip.open(info) as member:
                version = npy_format.read_magic(member)
                if version == (1, 0):
                    shape, fortran, dtype = npy_format.read_array_header_1_0(member)
                elif version == (2, 0):
                    shape, fortran, dtype = npy_format.read_array_header_2_0(member)
                else:
                    self._fail(f"member {name!r} has .npy version {version}, not 1.0 or 2.0")
                offset = member.tell()
            if dtype.kind not in ARRAY_KINDS or dtype.fields is not None or dtype.subdtype is not None:
                self._fail(f"member {name!r} has dtype {dtype}, which a model file never holds")
            if not all(isinstance(n, int) and n >= 0 for n in shape):
                self._fail(f"member {name!r} has a malformed shape {shape!r}")
            n_bytes = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
            if offset + n_bytes != info.file_size:
                self._fail(f"member {name!r} claims shape {shape} of {dtype} ({n_bytes} bytes) but holds "
                           f"{info.file_size - offset} bytes")
            members[name[:-4]] = (info, shape, fortran, dtype, offset)
        return members

    @property
    def files(self) -> list[str]:
        return list(self._members)

    def __contains__(self, name) -> bool:
        return name in self._members

    def shape(self, name: str) -> tuple:
        """The shape `name`'s header claims (already checked against its size); nothing is read."""
        return self._member(name)[1]

    def dtype(self, name: str) -> np.dtype:
        return self._member(name)[3]

    def _member(self, name):
        if name not in self._members:
            self._fail(f"no array {name!r}")
        return self._members[name]

    def __getitem__(self, name: str) -> np.ndarray:
        info, shape, fortran, dtype, offset = self._member(name)
        try:
            data = self._zip.read(info)  # at most info.file_size bytes, checked against the CRC-32
        except READ_ERRORS as exc:
            self._fail(f"array {name!r} is damaged ({type(exc).__name__}: {exc})")
        if len(data) != info.file_size:
            self._fail(f"array {name!r} is truncated")
        count = math.prod(shape)
        if count == 0 or dtype.itemsize == 0:
            return np.zeros(shape, dtype=dtype)
        flat = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
        return flat.reshape(shape, order="F" if fortran else "C").copy()

    def read_json(self, name: str):
        """The JSON text stored as the 0-d str array `name` (lm's headers), parsed."""
        if self.shape(name) != () or self.dtype(name).kind != "U":
            self._fail(f"{name!r} is not a JSON header")
        try:
            return json.loads(str(self[name]))
        except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
            self._fail(f"{name!r} is not valid JSON ({type(exc).__name__}: {exc})")

    def close(self) -> None:
        zf = getattr(self, "_zip", None)
        if zf is not None:
            zf.close()
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def content_hash(header: dict, arrays: dict) -> str:
    """SHA-256 of a header (JSON, keys sorted; its own "sha256" field left out) and of every array's name,
    dtype, shape and bytes in name order: what `save` records and `load` checks, so an edit to any table or
    header field (a CRC-32 that was recomputed, members mixed from two files) is refused."""
    digest = hashlib.sha256(json.dumps({k: v for k, v in header.items() if k != "sha256"}, sort_keys=True).encode())
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        digest.update(json.dumps([name, a.dtype.str, list(a.shape)]).encode())
        digest.update(a.tobytes())
    return digest.hexdigest()
