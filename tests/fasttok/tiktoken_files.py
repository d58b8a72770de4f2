"""Turn a published `.tiktoken` rank file into OpenAI's GPT-2 file pair, for tests of `load_gpt2`.

A `.tiktoken` file is `<base64 token> <rank>` per line. The GPT-2 pair says the same thing another way:
`encoder.json` maps each token (bytes shown through GPT-2's byte-to-glyph table) to its id, and `vocab.bpe`
lists the merges in rank order. The merge that makes a token of rank r is found by running BPE on its bytes
with the ranks below r only: what is left is exactly two parts, the merge's left and right sides.
"""
import base64
import json

from fasttok.bpe import BYTE_TO_CHAR


def read_tiktoken(path) -> dict[bytes, int]:
    ranks = {}
    for line in open(path, "rb").read().splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def merge_of(token: bytes, rank: int, ranks: dict[bytes, int]) -> tuple[bytes, bytes]:
    parts = [token[i:i + 1] for i in range(len(token))]
    while len(parts) > 2:
        best = min(((ranks.get(parts[i] + parts[i + 1], rank), i) for i in range(len(parts) - 1)))
        if best[0] >= rank:
            raise ValueError(f"token {token!r} (rank {rank}) is not reachable by merges of lower rank")
        i = best[1]
        parts[i:i + 2] = [parts[i] + parts[i + 1]]
    return parts[0], parts[1]


def glyphs(token: bytes) -> str:
    return "".join(BYTE_TO_CHAR[b] for b in token)


def write_gpt2_files(ranks: dict[bytes, int], directory, *, eot: int):
    """Write encoder.json + vocab.bpe equivalent to `ranks` (plus `<|endoftext|>` = eot); return both paths."""
    ordered = sorted(ranks.items(), key=lambda kv: kv[1])
    encoder = {glyphs(token): rank for token, rank in ordered}
    encoder["<|endoftext|>"] = eot
    merges = [merge_of(token, rank, ranks) for token, rank in ordered if len(token) > 1]
    encoder_path, vocab_path = directory / "encoder.json", directory / "vocab.bpe"
    encoder_path.write_text(json.dumps(encoder, ensure_ascii=False), encoding="utf-8")
    vocab_path.write_text("#version: 0.2\n" + "".join(f"{glyphs(a)} {glyphs(b)}\n" for a, b in merges),
                          encoding="utf-8")
    return encoder_path, vocab_path
