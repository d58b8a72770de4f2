"""Mutation fuzzing of every fasttok loader: `python -m tests.fasttok.fuzz_loaders DIR N SEED`.

Run by tests/fasttok/test_untrusted_files.py in a subprocess with an address-space limit and a timeout,
so that a loader that allocates without bound fails the test instead of taking the machine down.

For each format, a small real file is written by fasttok itself into DIR, then mutated N times (byte
flips, truncations, deletions, duplicated spans, inserted bytes, and for JSON files changes of one value's
type or value, or a deleted key). Each mutant is loaded and must give

- a typed error: a FasttokError (or an OSError for a missing file), nothing else; or
- for the hashed native formats (BPE, WordPiece, WordCounts): a model equal to the original (==, and the
  same ids on a sample text); a file that changed cannot load as another model;
- for the formats without a hash (tokenizer.json, vocab.txt + tokenizer_config.json, encoder.json +
  vocab.bpe), where a changed token is a different valid model: a model that works, i.e. encodes the
  sample (or says why not with a FasttokError) and decodes it, and whose own native records read back
  equal.

Prints one line per format, `format cases errors equal different`, and exits 1 with the first failure.
"""
import json
import os
import pickle
import random
import sys
import traceback
from pathlib import Path

import fasttok
from fasttok.bpe import load_gpt2
from fasttok.counts import WordCounts
from fasttok.errors import FasttokError
from fasttok.wordpiece import load_bert_vocab
from tests.fasttok.tiktoken_files import write_gpt2_files

CORPUS = ["low lower lowest newer wider new news café naïve", "The cat sat on the mat; the rat sat flat!",
          "abracadabra 12345 cadabra 日本語 x²", "it's IT'S don't\tTabs  and\nlines"] * 5
SAMPLE = "The lowest newer café, abracadabra 123 日本 rat's mat\n!"


def build(directory):
    """{format: (loader(path) -> model, path of the file to mutate, the original model)}."""
    d = directory
    bpe = fasttok.train_bpe(CORPUS, vocab_size=300, special_tokens=["<|endoftext|>"])
    chars = fasttok.train_bpe(CORPUS, vocab_size=110, byte_level=False, pattern="whitespace",
                              continuing_subword_prefix="##", unk_token="[UNK]")
    wp = fasttok.train_wordpiece(CORPUS, vocab_size=120, min_frequency=1)
    counts = fasttok.count_words(CORPUS)
    bpe.save(os.path.join(d, "bpe.txt"))
    chars.save(os.path.join(d, "chars.json"), format="tokenizer.json")
    wp.save(os.path.join(d, "wp.txt"))
    counts.save(os.path.join(d, "counts.txt"))
    bpe.save(os.path.join(d, "bpe.json"), format="tokenizer.json")
    wp.save(os.path.join(d, "wp.json"), format="tokenizer.json")
    os.mkdir(os.path.join(d, "bert"))
    wp.save(os.path.join(d, "bert", "vocab.txt"), format="vocab.txt")
    plain = fasttok.train_bpe(CORPUS, vocab_size=300)  # GPT-2 files: <|endoftext|> follows the merges
    ranks = plain.to_tiktoken_ranks()
    encoder, vocab = write_gpt2_files(ranks, Path(d), eot=len(ranks))
    gpt2 = load_gpt2(encoder, vocab)
    return {
        "native-bpe": (fasttok.load, os.path.join(d, "bpe.txt"), bpe, True),
        "native-wordpiece": (fasttok.load, os.path.join(d, "wp.txt"), wp, True),
        "word-counts": (WordCounts.load, os.path.join(d, "counts.txt"), counts, True),
        "tokenizer.json-bpe": (fasttok.load, os.path.join(d, "bpe.json"), bpe, False),
        "tokenizer.json-bpe-chars": (fasttok.load, os.path.join(d, "chars.json"), chars, False),
        "tokenizer.json-wordpiece": (fasttok.load, os.path.join(d, "wp.json"), wp, False),
        "vocab.txt": (load_bert_vocab, os.path.join(d, "bert", "vocab.txt"), wp, False),
        "tokenizer_config.json": (lambda p: load_bert_vocab(os.path.join(os.path.dirname(p), "vocab.txt")),
                                  os.path.join(d, "bert", "tokenizer_config.json"), wp, False),
        "encoder.json": (lambda p: load_gpt2(p, vocab), str(encoder), gpt2, False),
        "vocab.bpe": (lambda p: load_gpt2(encoder, p), str(vocab), gpt2, False),
    }


# -- mutations -----------------------------------------------------------------------------------

ODD_VALUES = [None, True, False, 0, -1, 1, 2**31, 2**63, 10**30, 1.5, "", "x", "[UNK]", "é", [], [1], {},
              {"a": 1}, [[[[[]]]]], "no", "true"]


def mutate_bytes(data, rng):
    n = len(data)
    kind = rng.randrange(6)
    i = rng.randrange(n)
    if kind == 0:  # flip one byte
        return data[:i] + bytes([data[i] ^ (1 << rng.randrange(8))]) + data[i + 1:]
    if kind == 1:  # set one byte
        return data[:i] + bytes([rng.choice(b" \n\"{}:,0123456789-e\\\xff\xc3")]) + data[i + 1:]
    if kind == 2:  # truncate
        return data[:i]
    if kind == 3:  # delete a span
        return data[:i] + data[i + rng.randrange(1, 40):]
    if kind == 4:  # duplicate a span
        j = min(n, i + rng.randrange(1, 60))
        return data[:j] + data[i:j] + data[j:]
    return data[:i] + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 4))) + data[i:]


def _nodes(value, path=()):
    yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _nodes(v, path + (k,))
    elif isinstance(value, list):
        for k, v in enumerate(value[:50]):
            yield from _nodes(v, path + (k,))


def mutate_json(data, rng):
    doc = json.loads(data)
    nodes = [p for p, _ in _nodes(doc) if p]
    path = rng.choice(nodes)
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    kind = rng.randrange(4)
    if kind == 0 and isinstance(parent, dict):
        del parent[key]
    elif kind == 1 and isinstance(parent, dict) and isinstance(key, str) and key:
        parent[key + "x"] = parent.pop(key)  # a renamed (unknown) key
    elif kind == 2 and isinstance(parent[key], int) and not isinstance(parent[key], bool):
        parent[key] = parent[key] + rng.choice([-1, 1, 256, -10**6])
    else:
        parent[key] = rng.choice(ODD_VALUES)
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


# -- the oracle ----------------------------------------------------------------------------------

def _same(model, original):
    if isinstance(original, WordCounts):
        return model == original
    return model == original and model.encode(SAMPLE, allowed_special="all") == original.encode(
        SAMPLE, allowed_special="all")


def _works(model):
    if isinstance(model, WordCounts):
        model.to_dict()
        return
    try:
        ids = model.encode(SAMPLE, allowed_special="all")
    except FasttokError:  # a typed error (e.g. a character-level vocabulary that lost its unk_token)
        ids = None
    if ids is not None:
        model.decode(ids)
    again = pickle.loads(pickle.dumps(model))  # through its native settings and records
    assert again == model, "the model's own native records read back as another model"
    assert ids is None or again.encode(SAMPLE, allowed_special="all") == ids


def run(directory, n, seed):
    formats = build(directory)
    ok = True
    for name, (loader, path, original, hashed) in formats.items():
        pristine = open(path, "rb").read()
        if hashed:
            assert _same(loader(path), original), f"{name}: the unmutated file does not load as the original"
        original = loader(path)  # what the file holds (tokenizer.json has no place for `info`)
        rng = random.Random(f"{seed}-{name}")
        tally = {"error": 0, "equal": 0, "different": 0}
        for case in range(n):
            is_json = path.endswith(".json")
            data = mutate_json(pristine, rng) if is_json and rng.random() < 0.5 else mutate_bytes(pristine, rng)
            with open(path, "wb") as f:
                f.write(data)
            try:
                model = loader(path)
            except (FasttokError, OSError):
                tally["error"] += 1
                continue
            except BaseException:
                print(f"FAIL {name} case {case}: an untyped error\n{traceback.format_exc()}"
                      f"mutant: {data[:3000]!r}", flush=True)
                ok = False
                break
            try:
                if _same(model, original):
                    tally["equal"] += 1
                elif hashed:
                    raise AssertionError("a hashed file that changed loaded as another model")
                else:
                    _works(model)
                    tally["different"] += 1
            except BaseException:
                print(f"FAIL {name} case {case}: {traceback.format_exc()}mutant: {data[:3000]!r}", flush=True)
                ok = False
                break
        with open(path, "wb") as f:
            f.write(pristine)
        print(name, n, tally["error"], tally["equal"], tally["different"], flush=True)
    return ok


if __name__ == "__main__":
    sys.exit(0 if run(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])) else 1)
