"""Split patterns carried between the `regex` module and HF tokenizers' Oniguruma with their meaning.

Oracle: HF's own engine, through `pre_tokenizers.Split(Regex(...))`, against the `regex` module.
HF keeps only non-empty matches, so the `regex` side drops empty ones too.
"""
import json
import random
import unicodedata

import pytest
import regex
from hypothesis import given, strategies as st

from fasttok.errors import FasttokError, ModelFileError
from fasttok.bpe import _hf_pre_tokenizer
from fasttok.pretokenize import PATTERNS, hf_pattern, pattern_from_hf, split

tokenizers = pytest.importorskip("tokenizers")

# Characters where the two engines part: Latin-1 superscripts and fractions, ZWNJ/ZWJ, digits of
# several scripts, newlines, quotes and the long s (case folding), class metacharacters.
TRICKY = "ab_Xé\u0301Ⓐ²³¹¼½¾\u200c\u200d0123١٢٣ \t\n\r'\"ſSs[]&-.!x"
TRICKY_TEXT = st.text(st.sampled_from(TRICKY), max_size=40)
TEXTS = ["0x0010 12345678 1 22 333 4444", "x²³ a\u200db ab_c  \n\n e\u0301 Ⓐ١٢٣", "a\na\n", "ab ab² a\u200dab",
         "Hello world's end\n  ", "'ſ 'S x1 x12 xx [&] aé9 \"q\" 'q'", "AbC abc\r\n\t", ""]

# Patterns in the `regex` module's syntax, each using a construct Oniguruma reads differently.
OURS = list(PATTERNS.values()) + [
    r"\d{1,3}+|.", r"\p{N}{2}+|.", r"(?:ab){2}+|.", r"x\d{2}?|.", r"\d{1,3}?|.",
    r"\w+|\W", r"[^\w\s]+|\w+|\s", r"[^\W\d]+|.", r"[\w&&]+|.", r"[\[\]]+|.", r"[]a]+|.",
    r"\b\w+\b|\s|.", r"\B.|.", r"^\w+|\w+$|.", r"a\Z|.", r"(?s).", r"(?i:ab)|.", r"(?i)[a-c]+|.",
    r"[[:alpha:]]+|.", r"(?P<q>['\"])\w*(?P=q)|.", r"(?<q>['\"])\w*\g<q>|.", r"(ab)+|.",
    r"\N{LATIN SMALL LETTER A}+|.", r"\u00e9|\U0001F600|.", r"(?#a comment)a|.",
]
# Patterns in Oniguruma's syntax, as tokenizer.json files hold them.
THEIRS = [
    r"\d{1,3}+", r"(?:ab){1}+|.", r"x\d{2}?|.", r"\w+|[^\w\s]+", r"[\w]+|.", r"[^\h\s]+|.", r"\bab|.",
    r"\Bb|.", r"^a|a$|.", r"a\Z|.", r"a\z|.", r"(?m).", r"\h+|.", r"(a|b)+|.", r"(?<n>x)y|.",
    r"(?i)s+|.", r"\x{41}|.", r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                             r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
]


def hf_split(onig, text):
    pre = tokenizers.pre_tokenizers.Split(tokenizers.Regex(onig), behavior="removed", invert=True)
    return [piece for piece, _ in pre.pre_tokenize_str(text)]


def regex_split(source, text):
    return [m.group() for m in regex.finditer(source, text) if m.group()]


@pytest.mark.parametrize("source", OURS)
def test_hf_pattern_keeps_the_meaning(source):
    onig = hf_pattern(source)
    for text in TEXTS:
        assert hf_split(onig, text) == regex_split(source, text), (onig, text)


@given(text=TRICKY_TEXT)
def test_hf_pattern_keeps_the_meaning_on_any_text(text):
    for source in OURS:
        assert hf_split(hf_pattern(source), text) == regex_split(source, text), source


@pytest.mark.parametrize("onig", THEIRS)
def test_pattern_from_hf_reads_hf_meaning(onig):
    source = pattern_from_hf(onig)
    for text in TEXTS + ["AAfx 0f"]:
        # findall, as fasttok splits: capturing groups were made non-capturing, so whole matches.
        assert [p for p in regex.findall(source, text) if p] == hf_split(onig, text), (source, text)


@given(text=TRICKY_TEXT)
def test_pattern_from_hf_reads_hf_meaning_on_any_text(text):
    for onig in THEIRS:
        assert [p for p in regex.findall(pattern_from_hf(onig), text) if p] == hf_split(onig, text), onig


def test_named_patterns_come_back_by_name():
    for source in PATTERNS.values():
        assert pattern_from_hf(hf_pattern(source)) == source
    # GPT-4's own string is not what we write, and HF reads its \p{N}{1,3}+ otherwise.
    assert pattern_from_hf(PATTERNS["gpt4"]) != PATTERNS["gpt4"]
    assert hf_split(PATTERNS["gpt4"], "12345678") == ["12345678"]
    assert hf_split(hf_pattern(PATTERNS["gpt4"]), "12345678") == ["123", "456", "78"]


def test_named_patterns_split_every_code_point_as_hf_does():
    # Each code point Python's unicodedata assigns in the BMP, and every 16th beyond it (long runs of
    # CJK ideographs alike), between neighbours that exercise the patterns' branches: the core
    # scanner's pieces equal those of the HF pre-tokenizer we export.
    cps = [c for c in range(1, 0x110000) if not 0xD800 <= c <= 0xDFFF and (c < 0x10000 or c % 16 == 0)
           and unicodedata.category(chr(c)) != "Cn"]
    rng = random.Random(14)
    around = ["a", "1", " ", "\n", "'", "-", "  ", "\r\n", "é", "²", "\u200d"]
    texts = ["".join(rng.choice(around) + chr(c) for c in cps[k:k + 5000]) for k in range(0, len(cps), 5000)]
    for name, source in PATTERNS.items():
        data = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [], "normalizer": None,
                "pre_tokenizer": _hf_pre_tokenizer(source, False), "post_processor": None, "decoder": None,
                "model": {"type": "WordLevel", "vocab": {"[UNK]": 0}, "unk_token": "[UNK]"}}
        hf = tokenizers.Tokenizer.from_str(json.dumps(data)).pre_tokenizer
        for text in texts:
            assert split(text, name) == [p for p, _ in hf.pre_tokenize_str(text)], name


@pytest.mark.parametrize("source", [r"(?x) a b", r"(?m)^a", r"a(?i)b", r"(?|a)", r"(?(1)a|b)", r"(?V1)a"])
def test_hf_pattern_refuses_what_it_cannot_carry(source):
    with pytest.raises(FasttokError, match="cannot|only carry"):
        hf_pattern(source)


@pytest.mark.parametrize("onig", [r"[a[b]]", r"[a&&b]", r"(a)\1", r"(?<n>a)\k<n>", r"(?<n>a)\g<n>",
                                  r"(?x) a", r"[\W]", r"\X", r"(?~abc)"])
def test_pattern_from_hf_refuses_what_it_cannot_carry(onig):
    with pytest.raises(ModelFileError, match="cannot be written"):
        pattern_from_hf(onig)
