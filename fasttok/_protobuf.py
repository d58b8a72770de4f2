"""A small protobuf wire-format reader and writer: just enough for sentencepiece `.model` files.

A message is read into a list of `Field(number, wire, value)` in file order: `value` is an int for
varint (wire 0), fixed64 (wire 1) and fixed32 (wire 5) fields, and `bytes` for length-delimited ones
(wire 2). Nothing is interpreted here: the caller knows which bytes are a nested message, a string or
a packed array, and parses nested messages with another `read_message` call, so the depth of
recursion is the depth of the caller's schema, never the depth an input asks for. Fields the caller
does not know stay in the list, so a message read and written back is byte-identical whenever the
input was written canonically (shortest varints), as protobuf's own serialisers write it.

Every read is bounds-checked: a truncated or corrupt message raises `ModelFileError` naming the
problem and the byte offset. Nothing is allocated beyond slices of the input, so a hostile length
prefix costs nothing.

>>> data = write_message([Field(1, VARINT, 150), Field(2, LEN, b"hi")])
>>> data.hex()
'08960112026869'
>>> read_message(data)
[Field(number=1, wire=0, value=150), Field(number=2, wire=2, value=b'hi')]
"""
import struct
from typing import NamedTuple

from fasttok.errors import ModelFileError

__all__ = ["Field", "VARINT", "FIXED64", "LEN", "FIXED32", "read_message", "write_message",
           "encode_varint", "as_int32", "as_bool", "as_float", "float_bits"]

VARINT, FIXED64, LEN, FIXED32 = 0, 1, 2, 5
_MAX_FIELD_NUMBER = (1 << 29) - 1


class Field(NamedTuple):
    number: int
    wire: int
    value: int | bytes


def _read_varint(data, pos, end, what):
    """(value, next position) of the varint at data[pos]: at most 10 bytes, inside data[:end]."""
    result, shift = 0, 0
    start = pos
    while True:
        if pos >= end:
            raise ModelFileError(f"truncated varint ({what}) at byte {start}")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            break
        shift += 7
        if shift >= 70:
            raise ModelFileError(f"varint longer than 10 bytes ({what}) at byte {start}")
    if result >= 1 << 64:
        raise ModelFileError(f"varint does not fit in 64 bits ({what}) at byte {start}")
    return result, pos


def read_message(data, *, offset=0):
    """The fields of one message, in order. `offset` is where `data` starts in the file (for errors)."""
    data = memoryview(data).cast("B") if not isinstance(data, bytes) else data
    fields = []
    pos, end = 0, len(data)
    while pos < end:
        start = pos
        key, pos = _read_varint(data, pos, end, "field key")
        number, wire = key >> 3, key & 7
        if not 1 <= number <= _MAX_FIELD_NUMBER:
            raise ModelFileError(f"invalid field number {number} at byte {offset + start}")
        if wire == VARINT:
            value, pos = _read_varint(data, pos, end, f"field {number}")
        elif wire == LEN:
            length, pos = _read_varint(data, pos, end, f"length of field {number}")
            if length > end - pos:
                raise ModelFileError(f"field {number} at byte {offset + start} claims {length} bytes but only "
                                     f"{end - pos} remain: the file is truncated or corrupt")
            value = bytes(data[pos:pos + length])
            pos += length
        elif wire in (FIXED32, FIXED64):
            size = 4 if wire == FIXED32 else 8
            if size > end - pos:
                raise ModelFileError(f"truncated fixed{size * 8} field {number} at byte {offset + start}")
            value = int.from_bytes(data[pos:pos + size], "little")
            pos += size
        else:  # 3 and 4 are the deprecated groups; 6 and 7 do not exist
            raise ModelFileError(f"unsupported wire type {wire} (field {number}) at byte {offset + start}")
        fields.append(Field(number, wire, value))
    return fields


def encode_varint(value):
    """The shortest varint of a 64-bit value; negative values as their two's complement (10 bytes)."""
    if value < 0:
        value += 1 << 64
    if not 0 <= value < 1 << 64:
        raise ValueError(f"{value} does not fit in a 64-bit varint")
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def write_message(fields):
    """The bytes of a message made of `fields` (Field tuples, or (number, wire, value) triples)."""
    out = []
    for number, wire, value in fields:
        out.append(encode_varint((number << 3) | wire))
        if wire == VARINT:
            out.append(encode_varint(value))
        elif wire == LEN:
            out.append(encode_varint(len(value)))
            out.append(bytes(value))
        elif wire == FIXED32:
            out.append(int(value).to_bytes(4, "little"))
        elif wire == FIXED64:
            out.append(int(value).to_bytes(8, "little"))
        else:
            raise ValueError(f"unsupported wire type {wire}")
    return b"".join(out)


# -- scalar views -----------------------------------------------------------------------------------

def as_int32(value):
    """A varint as protobuf's int32: the low 32 bits, signed (negative ids are written as 10 bytes)."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def as_bool(value):
    return value != 0


def as_float(bits):
    """A fixed32 field as the float32 it holds (returned as the Python float of equal value)."""
    return struct.unpack("<f", struct.pack("<I", bits))[0]


def float_bits(value):
    """The fixed32 bits of a float rounded to float32."""
    return struct.unpack("<I", struct.pack("<f", value))[0]
