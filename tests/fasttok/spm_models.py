"""Hand-built sentencepiece `.model` files for the tests: any pieces, any flags, no trainer needed."""
from fasttok._protobuf import float_bits, write_message
from fasttok.sentencepiece import BYTE, CONTROL, UNKNOWN


def build(pieces, *, model_type=1, byte_fallback=False, add_dummy_prefix=True, remove_extra_whitespaces=True,
          escape_whitespaces=True, treat_whitespace_as_suffix=False):
    """The bytes of a .model: pieces [(text, score, type)], identity normalization."""
    fields = [(1, 2, write_message([(1, 2, t.encode("utf-8")), (2, 5, float_bits(s)), (3, 0, k)]))
              for t, s, k in pieces]
    trainer = [(3, 0, model_type)] + ([(24, 0, 1)] if treat_whitespace_as_suffix else []) \
        + ([(35, 0, 1)] if byte_fallback else [])
    fields.append((2, 2, write_message(trainer)))
    fields.append((3, 2, write_message([(1, 2, b"identity"), (3, 0, int(add_dummy_prefix)),
                                        (4, 0, int(remove_extra_whitespaces)), (5, 0, int(escape_whitespaces))])))
    return write_message(fields)


SPECIALS = [("<unk>", 0.0, UNKNOWN), ("<s>", 0.0, CONTROL), ("</s>", 0.0, CONTROL)]
BYTES = [(f"<0x{b:02X}>", 0.0, BYTE) for b in range(256)]
