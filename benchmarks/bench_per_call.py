"""Per-call wall time of GPT-2 `encode` on one short string, fasttok against tiktoken.

Most callers encode one string at a time, so the fixed cost of a call matters as much as the speed
per byte. tiktoken is built from fasttok's own GPT-2 files (`to_tiktoken_ranks()`), so no download
is needed and both encode with the same ranks; every id is checked equal first. Each figure is the
best of 7 `timeit` repeats (the machine is shared: the best run is the least disturbed one).

    python benchmarks/bench_per_call.py [--lines 2000]
"""
import argparse
import timeit

import _harness

import fasttok
from fasttok.pretokenize import GPT2_PATTERN


def best_us(fn, number):
    return min(timeit.repeat(fn, number=number, repeat=7)) / number * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=2000, help="corpus lines for the one-line-per-call row")
    args = parser.parse_args()
    import tiktoken
    gpt2 = _harness.refs_dir("gpt2")
    tok = fasttok.load_gpt2(gpt2 / "encoder.json", gpt2 / "vocab.bpe")
    enc = tiktoken.Encoding(name="gpt2", pat_str=GPT2_PATTERN, mergeable_ranks=tok.to_tiktoken_ranks(),
                            special_tokens={"<|endoftext|>": 50256})
    text = _harness.shared_corpus("tinyshakespeare.txt").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line][:args.lines]
    short = "Hello world"
    assert tok.encode(short) == enc.encode(short) and all(tok.encode(l) == enc.encode(l) for l in lines)

    def each_line(encode):
        def run():
            for line in lines:
                encode(line)
        return run

    rows = [
        ("encode('Hello world')", "call", best_us(lambda: tok.encode(short), 20000),
         best_us(lambda: enc.encode(short), 20000)),
        ("encode_ordinary('Hello world')", "call", best_us(lambda: tok.encode_ordinary(short), 20000),
         best_us(lambda: enc.encode_ordinary(short), 20000)),
        (f"encode, one line per call ({len(lines)} lines)", "line",
         best_us(each_line(tok.encode), 5) / len(lines), best_us(each_line(enc.encode), 5) / len(lines)),
    ]
    print("| op | unit | fasttok µs | tiktoken µs | speed-up (tiktoken / fasttok) |")
    print("|---|---|---:|---:|---:|")
    for name, unit, ours, theirs in rows:
        print(f"| {name} | {unit} | {ours:.2f} | {theirs:.2f} | {theirs / ours:.2f} |")


if __name__ == "__main__":
    main()
