"""The framing every tokenizer file shares: fasttok's native files, and Hugging Face's tokenizer.json.

A native file is a header line, a settings line, then one record per line:

    fasttok <model> <version>             (each model numbers its own versions)
    {"byte_level": true, "pattern": "gpt2", "special_tokens": {...}, ...}     (JSON, one line)
    <record>
    ...

What a record says belongs to the model (fasttok/bpe.py, fasttok/wordpiece.py); the last record is
`end N`, the number of records before it, so that a truncated file is an error. Since format versions
BPE 2, WordPiece 3 and counts 2 the closing record is `end N sha256=<hex>`: the SHA-256 of every byte
before that line, so that any change to a file (a flipped byte, a lost line) is an error rather than a
silently different model. Older files, which end with a bare `end N`, still load unchecked. Files diff
cleanly line by line and serve directly as golden files in the tests.

Untrusted files: every reader here refuses what is not a regular file (a directory, /dev/zero, a FIFO)
before reading, and reads at most MAX_FILE_BYTES, so memory is bounded by the file's size.
"""
import hashlib
import json
import os
import stat

from fasttok._files import atomic_write
from fasttok.errors import ModelFileError

__all__ = ["HEADER", "MAX_FILE_BYTES", "read_bytes", "read_text", "decode_text", "write_native", "read_native", "is_native",
           "with_end", "without_end", "hashed_text", "check_hash", "write_json", "hf_added_tokens",
           "json_loads", "check_settings", "check_id"]

HEADER = "fasttok"

# No model file is read past this size (a second line of defence after the regular-file check; the
# largest published tokenizer.json files are tens of MB).
MAX_FILE_BYTES = 1 << 30

_HASH = "sha256="


def read_bytes(path, what="tokenizer file"):
    """The bytes of a model file: ModelFileError naming `path` when it is missing, unreadable, not a
    regular file (a directory, a device such as /dev/zero, a FIFO) or larger than MAX_FILE_BYTES."""
    shown = os.fspath(path)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer (the fstat below then refuses it).
        fd = os.open(shown, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        raise ModelFileError(f"cannot read {what} {shown!r}: {e.strerror}") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise ModelFileError(f"cannot read {what} {shown!r}: it is {kind}")
    with os.fdopen(fd, "rb") as f:
        if st.st_size > MAX_FILE_BYTES:
            raise ModelFileError(f"cannot read {what} {shown!r}: {st.st_size} bytes is more than the "
                                 f"{MAX_FILE_BYTES} fasttok reads")
        try:
            # Ask for the size fstat gave plus one byte (a file that grows while read is caught below),
            # never for the cap itself: read(n) allocates n bytes up front.
            chunks = [f.read(st.st_size + 1)]
            size = len(chunks[0])
            while size <= MAX_FILE_BYTES and size > st.st_size and chunks[-1]:
                chunks.append(f.read(1 << 20))
                size += len(chunks[-1])
            raw = b"".join(chunks)
        except OSError as e:
            raise ModelFileError(f"cannot read {what} {shown!r}: {e.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ModelFileError(f"cannot read {what} {shown!r}: it grew past the {MAX_FILE_BYTES} bytes fasttok reads")
    return raw


def read_text(path, what="tokenizer file"):
    """The text of a UTF-8 model file (see read_bytes); ModelFileError naming `path` when it cannot be
    read or decoded."""
    return decode_text(read_bytes(path, what), path, what)


def decode_text(raw, path, what="tokenizer file"):
    """`raw` as UTF-8 text; ModelFileError naming `path` and the offset of the first invalid byte."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ModelFileError(f"{os.fspath(path)}: not a {what} (invalid UTF-8 at byte offset {e.start})") from None


def hashed_text(lines):
    """`lines` (the last one a bare `end N`) as file text, the last one with the SHA-256 of the text
    before it appended: `end N sha256=<64 hex digits>`.

    >>> hashed_text(["x", "end 0"]).split("\\n")[1][:20]
    'end 0 sha256=73cb385'
    """
    body = "".join(line + "\n" for line in lines[:-1])
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
    return f"{body}{lines[-1]} {_HASH}{digest}\n"


def check_hash(text, what="file"):
    """(text with the closing record's hash removed, whether it had one); ModelFileError when the hash
    is malformed or does not match. `text` ends with a newline."""
    start = text.rfind("\n", 0, len(text) - 1) + 1
    last = text[start:-1]
    parts = last.split(" ")
    if len(parts) != 3 or parts[0] != "end" or not parts[2].startswith(_HASH):
        return text, False
    digest = parts[2][len(_HASH):]
    if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
        raise ModelFileError(f"malformed content hash in the last line {last[:90]!r}")
    if hashlib.sha256(text[:start].encode("utf-8")).hexdigest() != digest:
        raise ModelFileError(f"the {what} does not match its content hash (sha256): it was changed or damaged "
                             f"after it was written")
    return text[:start] + " ".join(parts[:2]) + "\n", True


def write_native(path, model, version, settings, records):
    """Write a native file atomically: the header of `model` `version`, `settings` as one JSON line,
    the records, the last of which (`end N`) gets the content hash (see hashed_text)."""
    lines = [f"{HEADER} {model} {version}", json.dumps(settings, ensure_ascii=False, sort_keys=True), *records]
    with atomic_write(path) as f:
        f.write(hashed_text(lines))


def is_native(text):
    """Whether `text` starts as a native file does."""
    return text.startswith(HEADER + " ")


def read_native(text, path, *, hash_since=None):
    """(model, version, settings, records) of a native file's text; ModelFileError naming `path` if the
    framing is bad or the content hash is wrong (which versions a model reads is the model's business).
    The records end with a bare `end N` (the hash, checked, is removed). hash_since(model): the first
    version of that model whose files must carry a hash (None: never required).

    >>> read_native('fasttok bpe 1\\n{"a": 1}\\nend 0\\n', "t")
    ('bpe', 1, {'a': 1}, ['end 0'])
    """
    if not text.endswith("\n"):
        raise ModelFileError(f"{path}: truncated file (the last line is incomplete)")
    head = text[:text.index("\n")].split(" ")
    if len(head) != 3 or head[0] != HEADER or not _is_number(head[2]):
        raise ModelFileError(f"{path}: malformed header line {text[:text.index(chr(10))][:80]!r}")
    _, model, version = head
    try:
        text, hashed = check_hash(text, "file")
    except ModelFileError as e:
        raise ModelFileError(f"{path}: {e}") from None
    since = hash_since(model) if hash_since else None
    if not hashed and since is not None and int(version) >= since:
        raise ModelFileError(f"{path}: the last line is not 'end N sha256=...' (truncated or damaged file)")
    lines = text.split("\n")[:-1]
    if len(lines) < 2:
        raise ModelFileError(f"{path}: truncated file (no settings line)")
    settings = json_loads(lines[1], f"{path}: corrupt settings line")
    if not isinstance(settings, dict):
        raise ModelFileError(f"{path}: corrupt settings line (not a JSON object)")
    return model, int(version), settings, lines[2:]


def _is_number(text):
    """Whether `text` is a plain non-negative decimal integer (ASCII digits only, as files write them)."""
    return text.isascii() and text.isdigit() and len(text) < 10


def json_loads(text, message):
    """json.loads that raises ModelFileError(message + why) for anything it cannot parse, including
    nesting too deep for the parser and numbers too long to convert."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ModelFileError(f"{message} ({e.msg} at line {e.lineno})") from None
    except (RecursionError, ValueError) as e:
        raise ModelFileError(f"{message} ({type(e).__name__}: {str(e)[:80]})") from None


def with_end(records):
    """`records` and the `end N` record that counts them (so a truncated file is detected)."""
    return [*records, f"end {len(records)}"]


def without_end(records, *, required=True):
    """The records before the final `end N`; ModelFileError when it counts otherwise, or is missing
    and `required` (required=False: for a model's files from before it had the record).

    >>> without_end(["b 0 00", "end 1"])
    ['b 0 00']
    """
    last = records[-1].split(" ") if records else []
    if len(last) != 2 or last[0] != "end" or not _is_number(last[1]):
        if not required:
            return records
        raise ModelFileError("truncated file (no 'end' record)")
    body = records[:-1]
    if int(last[1]) != len(body):
        raise ModelFileError(f"truncated or corrupt file: 'end' says {last[1]} records, found {len(body)}")
    return body


def write_json(path, data):
    """Write a JSON document (a tokenizer.json) atomically, indented."""
    with atomic_write(path) as f:
        json.dump(data, f, ensure_ascii=False, indent=2)


def hf_added_tokens(special_tokens):
    """tokenizer.json's `added_tokens` for {special token: id}, in id order."""
    return [{"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True} for s, i in sorted(special_tokens.items(), key=lambda x: x[1])]


def check_settings(settings, spec):
    """`settings` checked against spec {key: (allowed types, required)}: ModelFileError naming an unknown
    key, a missing required one, or a value of another type (a JSON true is not an int here, nor 1 a bool).

    >>> check_settings({"a": True}, {"a": ((bool,), True), "b": ((str, type(None)), False)})
    {'a': True}
    """
    unknown = sorted(set(settings) - set(spec))
    if unknown:
        raise ModelFileError(f"unknown setting {unknown[0]!r} (this fasttok reads {', '.join(sorted(spec))})")
    for key, (kinds, required) in spec.items():
        if key not in settings:
            if required:
                raise ModelFileError(f"the setting {key!r} is missing")
            continue
        value = settings[key]
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            names = " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
            raise ModelFileError(f"the setting {key!r} is {str(value)[:40]!r}, not {names}")
    return settings


def check_id(value, what):
    """`value` as a token id: an int (not a bool) in 0..2**31-2; ModelFileError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31 - 1:
        raise ModelFileError(f"{what} is {str(value)[:40]!r}, not a token id (an integer 0..{2**31 - 2})")
    return value
