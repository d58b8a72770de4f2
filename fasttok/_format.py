"""The framing every tokenizer file shares: fasttok's native files, and Hugging Face's tokenizer.json.

A native file is a header line, a settings line, then one record per line:

    fasttok <model> <version>             (each model numbers its own versions)
    {"byte_level": true, "pattern": "gpt2", "special_tokens": {...}, ...}     (JSON, one line)
    <record>
    ...

What a record says belongs to the model (fasttok/bpe.py, fasttok/wordpiece.py); the last record is
`end N`, the number of records before it, so that a truncated file is an error. Files diff cleanly
line by line and serve directly as golden files in the tests.
"""
import json
import os

from fasttok._files import atomic_write
from fasttok.errors import ModelFileError

__all__ = ["HEADER", "read_text", "write_native", "read_native", "is_native", "with_end", "without_end",
           "write_json", "hf_added_tokens"]

HEADER = "fasttok"


def read_text(path, what="tokenizer file"):
    """The text of a UTF-8 model file; ModelFileError naming `path` when it cannot be read or decoded."""
    try:
        with open(os.fspath(path), "rb") as f:
            raw = f.read()
    except OSError as e:
        raise ModelFileError(f"cannot read {what} {os.fspath(path)!r}: {e.strerror}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ModelFileError(f"{path}: not a {what} (invalid UTF-8 at byte offset {e.start})") from None


def write_native(path, model, version, settings, records):
    """Write a native file atomically: the header of `model` `version`, `settings` as one JSON line,
    the records."""
    with atomic_write(path) as f:
        f.write(f"{HEADER} {model} {version}\n")
        f.write(json.dumps(settings, ensure_ascii=False, sort_keys=True) + "\n")
        for r in records:
            f.write(r + "\n")


def is_native(text):
    """Whether `text` starts as a native file does."""
    return text.startswith(HEADER + " ")


def read_native(text, path):
    """(model, version, settings, records) of a native file's text; ModelFileError naming `path` if the
    framing is bad (which versions a model reads is the model's business).

    >>> read_native('fasttok bpe 1\\n{"a": 1}\\nend 0\\n', "t")
    ('bpe', 1, {'a': 1}, ['end 0'])
    """
    if not text.endswith("\n"):
        raise ModelFileError(f"{path}: truncated file (the last line is incomplete)")
    lines = text.split("\n")[:-1]
    head = lines[0].split()
    if len(head) != 3 or head[0] != HEADER or not head[2].isdigit():
        raise ModelFileError(f"{path}: malformed header line {lines[0]!r}")
    _, model, version = head
    if len(lines) < 2:
        raise ModelFileError(f"{path}: truncated file (no settings line)")
    try:
        settings = json.loads(lines[1])
    except json.JSONDecodeError:
        raise ModelFileError(f"{path}: corrupt settings line") from None
    if not isinstance(settings, dict):
        raise ModelFileError(f"{path}: corrupt settings line")
    return model, int(version), settings, lines[2:]


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
    if len(last) != 2 or last[0] != "end" or not last[1].isdigit():
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
