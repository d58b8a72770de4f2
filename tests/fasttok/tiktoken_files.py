"""Turn a published `.tiktoken` rank file into OpenAI's GPT-2 file pair, for tests of `load_gpt2`.

A `.tiktoken` file is `<base64 token> <rank>` per line. The GPT-2 pair says the same thing another way:
`encoder.json` maps each token (bytes shown through GPT-2's byte-to-glyph table) to its id, and `vocab.bpe`
lists the merges in rank order, derived from the ranks by the library's `fasttok.bpe.tiktoken_merges`.
"""
import json

from fasttok._format import read_bytes
from fasttok.bpe import BYTE_TO_CHAR, read_tiktoken_ranks, tiktoken_merges


def read_tiktoken(path) -> dict[bytes, int]:
    return read_tiktoken_ranks(read_bytes(path))


def glyphs(token: bytes) -> str:
    return "".join(BYTE_TO_CHAR[b] for b in token)


def write_gpt2_files(ranks: dict[bytes, int], directory, *, eot: int):
    """Write encoder.json + vocab.bpe equivalent to `ranks` (plus `<|endoftext|>` = eot); return both paths."""
    ordered = sorted(ranks.items(), key=lambda kv: kv[1])
    encoder = {glyphs(token): rank for token, rank in ordered}
    encoder["<|endoftext|>"] = eot
    by_rank = {rank: token for token, rank in ordered}
    merges = [(by_rank[left], by_rank[right]) for left, right, _ in tiktoken_merges(ranks)]
    encoder_path, vocab_path = directory / "encoder.json", directory / "vocab.bpe"
    encoder_path.write_text(json.dumps(encoder, ensure_ascii=False), encoding="utf-8")
    vocab_path.write_text("#version: 0.2\n" + "".join(f"{glyphs(a)} {glyphs(b)}\n" for a, b in merges),
                          encoding="utf-8")
    return encoder_path, vocab_path
