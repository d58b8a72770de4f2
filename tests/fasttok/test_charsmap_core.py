"""The core normalizer (fasttok/_charsmap.pyx) against its twin (fasttok/_reference/sentencepiece.py).

Real character maps (nmt_nfkc, nmt_nfkc_cf) are compared in tests/fasttok/test_sentencepiece.py, where
sentencepiece makes them; here the maps are random and often hostile (indices past the array, offsets
past the blob, no NUL), and the texts random bytes, invalid UTF-8 included.
"""
import numpy as np
from hypothesis import given, strategies as st

from fasttok import _charsmap
from fasttok._reference.sentencepiece import normalize

FLAGS = st.fixed_dictionaries({k: st.booleans() for k in (
    "add_dummy_prefix", "remove_extra_whitespaces", "escape_whitespaces", "treat_whitespace_as_suffix")})
SMALL_BYTES = st.binary(max_size=12).map(lambda b: bytes(x % 8 + 0x20 for x in b))   # mostly " !\"#$%&'"
TEXT = st.one_of(st.binary(max_size=40), SMALL_BYTES,
                 st.text(alphabet=" \tab\u2581é東😀", max_size=20).map(lambda t: t.encode("utf-8")))


def _core(units, replacements, symbols, flags):
    return _charsmap.CharsMapNormalizer(np.asarray(units, dtype=np.uint32), replacements, list(symbols), **flags)


def _leaf_map(rules):
    """A tiny valid double array for single-byte keys: rules {byte: offset into replacements}.

    The root (unit 0) has offset 256, so byte b's node is 256 ^ b; that node has a leaf (bit 8), label
    b and offset 512, so its leaf unit is (256 ^ b) ^ 512, holding the value with bit 31 set."""
    units = [0] * 1024
    units[0] = 256 << 10
    for b, value in rules.items():
        node = 256 ^ b
        units[node] = (512 << 10) | (1 << 8) | b
        units[node ^ 512] = 0x80000000 | value
    return units


@given(text=TEXT, flags=FLAGS,
       units=st.lists(st.integers(0, 2 ** 32 - 1), max_size=40),
       replacements=st.binary(max_size=30),
       symbols=st.sets(st.sampled_from([b"ab", b"a", b" a", b"\xe2\x96\x81", b"\x00"]), max_size=3))
def test_random_maps_agree_with_the_reference(text, flags, units, replacements, symbols):
    expected = normalize(text, units=units, replacements=replacements, symbols=symbols, **flags)
    assert _core(units, replacements, symbols, flags).normalize(text) == expected


@given(text=TEXT, flags=FLAGS,
       rules=st.dictionaries(st.sampled_from(b" ab\t!\x00"), st.integers(0, 12), max_size=4))
def test_valid_single_byte_maps_agree_with_the_reference(text, flags, rules):
    units = _leaf_map(rules)
    replacements = b" \x00x y\x00\x00  z\x00ab"
    expected = normalize(text, units=units, replacements=replacements, symbols=(), **flags)
    assert _core(units, replacements, (), flags).normalize(text) == expected


def test_a_rule_replaces_and_spaces_collapse():
    units = _leaf_map({ord("\t"): 0, ord("x"): 2})     # tab -> " ", x -> "" (deleted)
    replacements = b" \x00\x00"
    flags = dict(add_dummy_prefix=True, remove_extra_whitespaces=True, escape_whitespaces=True,
                 treat_whitespace_as_suffix=False)
    assert _core(units, replacements, (), flags).normalize(b"\ta\t\txb ") == "▁a▁b".encode("utf-8")
    assert normalize(b"\ta\t\txb ", units=units, replacements=replacements, symbols=(), **flags) \
        == "▁a▁b".encode("utf-8")


def test_normalize_many_matches_one_at_a_time():
    flags = dict(add_dummy_prefix=True, remove_extra_whitespaces=True, escape_whitespaces=True,
                 treat_whitespace_as_suffix=False)
    core = _core([], b"", (), flags)
    texts = [b"a b", b"", b"  ", b"x  y "]
    offsets = np.cumsum([0] + [len(t) for t in texts]).astype(np.int64)
    joined, ends = core.normalize_many(np.frombuffer(b"".join(texts), dtype=np.uint8), offsets)
    ends = ends.tolist()
    assert [joined[a:b] for a, b in zip(ends, ends[1:])] == [core.normalize(t) for t in texts]
