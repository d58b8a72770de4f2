"""Reading and writing the tokenizer file formats."""
# ------------------------------------------------------------------------------------------------
# The native format: a header line, a settings line, then one record per line.
#
#   fasttok <model> <version>
#   {"byte_level": true, "pattern": "gpt2", "special_tokens": {...}, ...}     (JSON, one line)
#   b <id> <hex bytes>        a base token          (BPE)
#   m <left> <right> <new>    a merge, in rank order (BPE)
#
# Files diff cleanly line by line and serve directly as golden files in the tests.
# ------------------------------------------------------------------------------------------------
import json
import os
import re

import numpy as np

from fasttok._files import atomic_write, check_output_path
from fasttok.errors import FasttokError, ModelFileError
from fasttok.pretokenize import GPT2_PATTERN, WHITESPACE_PATTERN, hf_pattern, pattern_from_hf, pattern_source
from fasttok.tokenizer import CHAR_TO_BYTE, BPETokenizer
from fasttok.wordpiece import BERT_CONFIG_NAME, WordPieceTokenizer, load_bert_vocab, with_normalizer

FORMAT_VERSION = 1
_HEADER = "fasttok"
_MODEL_CLASSES = {"bpe": BPETokenizer, "wordpiece": WordPieceTokenizer}


def save(tok, path, *, format="native"):
    if format == "native":
        settings, records = tok._native()
        with atomic_write(path) as f:
            f.write(f"{_HEADER} {tok.model} {FORMAT_VERSION}\n")
            f.write(json.dumps(settings, ensure_ascii=False, sort_keys=True) + "\n")
            for r in records:
                f.write(r + "\n")
    elif format == "hf":
        data = tok._hf_json()
        with atomic_write(path) as f:
            json.dump(data, f, ensure_ascii=False, indent=2)
    elif format == "vocab.txt" and isinstance(tok, WordPieceTokenizer):
        _save_vocab_txt(tok, path)
    else:
        formats = "'native', 'hf'" + (" or 'vocab.txt'" if isinstance(tok, WordPieceTokenizer) else "")
        raise ValueError(f"unknown format {format!r} for a {tok.model} tokenizer; use {formats}")


def _save_vocab_txt(tok, path):
    """vocab.txt, and beside it the tokenizer_config.json that carries its settings, as HF saves them."""
    config_path = os.path.join(os.path.dirname(os.fspath(path)), BERT_CONFIG_NAME)
    if os.path.basename(os.fspath(path)) == BERT_CONFIG_NAME:
        raise ValueError(f"{path}: a vocab.txt cannot be named {BERT_CONFIG_NAME}, the name of its settings file")
    lines, config = tok._vocab_txt(), tok._tokenizer_config()
    for target in (path, config_path):
        check_output_path(target)
    with atomic_write(path) as f:
        for token in lines:
            f.write(token + "\n")
    with atomic_write(config_path) as f:
        f.write(json.dumps(config, ensure_ascii=False, indent=2, sort_keys=True) + "\n")


def load(path, *, lowercase=None, strip_accents=None):
    """Load a tokenizer: fasttok's native file, a Hugging Face tokenizer.json, or a BERT vocab.txt.

    A `.txt` file that is neither native nor JSON is read as a BERT WordPiece vocab.txt by
    fasttok.load_bert_vocab, with the settings of the tokenizer_config.json beside it if there is one.
    lowercase, strip_accents: None keeps the file's settings (a bare vocab.txt: BERT uncased);
    True/False override them for a WordPiece tokenizer (a BPE tokenizer has no such settings).
    """
    for name, value in (("lowercase", lowercase), ("strip_accents", strip_accents)):
        if value not in (None, True, False):
            raise TypeError(f"{name} must be None, True or False, got {value!r}")
    tok = _load_any(os.fspath(path), lowercase, strip_accents)
    if lowercase is None and strip_accents is None:
        return tok
    if not isinstance(tok, WordPieceTokenizer):
        raise FasttokError(f"{path}: lowercase and strip_accents are WordPiece settings; this is a "
                           f"{tok.model} tokenizer")
    return with_normalizer(tok, lowercase=lowercase, strip_accents=strip_accents)


def _load_any(path, lowercase, strip_accents):
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise ModelFileError(f"cannot read tokenizer file {path!r}: {e.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ModelFileError(f"{path}: not a tokenizer file (invalid UTF-8 at byte {e.start})") from None
    if text.startswith(_HEADER + " "):
        return _load_native(text, path)
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ModelFileError(f"{path}: truncated or corrupt JSON ({e.msg} at line {e.lineno})") from None
        if not isinstance(data, dict) or not isinstance(data.get("model"), dict):
            raise ModelFileError(f"{path}: JSON without a 'model' object is not a tokenizer.json")
        kind = data["model"].get("type")
        cls = _MODEL_CLASSES.get({"BPE": "bpe", "WordPiece": "wordpiece"}.get(kind))
        if cls is None:
            raise ModelFileError(f"{path}: tokenizer.json model type {kind!r} is not supported (BPE, WordPiece)")
        try:
            return cls._from_hf_json(data)
        except ModelFileError as e:
            raise ModelFileError(f"{path}: {e}") from None
        except (KeyError, TypeError, ValueError, IndexError) as e:
            raise ModelFileError(f"{path}: malformed tokenizer.json ({type(e).__name__}: {e})") from None
    if path.endswith(".txt"):
        return load_bert_vocab(path, lowercase=lowercase, strip_accents=strip_accents)
    raise ModelFileError(f"{path}: unknown tokenizer file format (expected a '{_HEADER} ...' "
                         f"header, a tokenizer.json or a vocab.txt)")


def _load_native(text, path):
    if not text.endswith("\n"):
        raise ModelFileError(f"{path}: truncated file (the last line is incomplete)")
    lines = text.split("\n")[:-1]
    head = lines[0].split()
    if len(head) != 3 or not head[2].isdigit():
        raise ModelFileError(f"{path}: malformed header line {lines[0]!r}")
    _, model, version = head
    if int(version) != FORMAT_VERSION:
        raise ModelFileError(f"{path}: format version {version} is not supported (this fasttok reads {FORMAT_VERSION})")
    cls = _MODEL_CLASSES.get(model)
    if cls is None:
        raise ModelFileError(f"{path}: unknown model {model!r} in header")
    if len(lines) < 2:
        raise ModelFileError(f"{path}: truncated file (no settings line)")
    try:
        settings = json.loads(lines[1])
    except json.JSONDecodeError:
        raise ModelFileError(f"{path}: corrupt settings line") from None
    if not isinstance(settings, dict):
        raise ModelFileError(f"{path}: corrupt settings line")
    try:
        return cls._from_native(settings, lines[2:])
    except ModelFileError as e:
        raise ModelFileError(f"{path}: {e}") from None
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise ModelFileError(f"{path}: corrupt record ({type(e).__name__}: {e})") from None


def parse_bpe_records(records, *, byte_level):
    """Native BPE records -> ({id: bytes|str}, (n, 3) int32 merges); checks the expected count."""
    base, merges = {}, []
    expected = None
    for k, line in enumerate(records):
        parts = line.split(" ")
        try:
            if parts[0] == "b" and len(parts) == 3:
                raw = bytes.fromhex(parts[2])
                base[int(parts[1])] = raw if byte_level else raw.decode("utf-8")
            elif parts[0] == "m" and len(parts) == 4:
                merges.append((int(parts[1]), int(parts[2]), int(parts[3])))
            elif parts[0] == "end" and len(parts) == 2:
                expected = int(parts[1])
            else:
                raise ValueError
        except ValueError:
            raise ModelFileError(f"corrupt record on line {k + 3}: {line[:60]!r}") from None
    if expected is None:
        raise ModelFileError("truncated file (no 'end' record)")
    if expected != len(base) + len(merges):
        raise ModelFileError(f"truncated or corrupt file: 'end' says {expected} records, found {len(base) + len(merges)}")
    return base, np.array(merges, dtype=np.int32).reshape(-1, 3)


# ------------------------------------------------------------------------------------------------
# Hugging Face tokenizer.json and OpenAI's GPT-2 files
# ------------------------------------------------------------------------------------------------

def _added_tokens(tok):
    return [{"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True} for s, i in sorted(tok.special_tokens.items(), key=lambda x: x[1])]


def _hf_pre_tokenizer(source, byte_level):
    """The HF pre-tokenizer that cuts text into the pieces `source` does."""
    if source is None:
        split = None
    elif source == WHITESPACE_PATTERN:
        split = {"type": "Whitespace"}  # the pattern is HF's Whitespace (same \w: UTS #18, tested)
    else:
        # Removed + invert keeps exactly the matches, i.e. regex.findall semantics.
        split = {"type": "Split", "pattern": {"Regex": hf_pattern(source)}, "behavior": "Removed", "invert": True}
    if not byte_level:
        return split
    to_bytes = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}
    if source == GPT2_PATTERN:
        return dict(to_bytes, use_regex=True)  # HF's ByteLevel regex is GPT-2's pattern
    return to_bytes if split is None else {"type": "Sequence", "pretokenizers": [split, to_bytes]}


def _char_level_decoder(prefix, suffix):
    """HF decoders that give BPETokenizer.decode's text for a character-level vocabulary.

    HF joins what the decoders leave with nothing (and, with no decoder at all, with spaces): a
    prefix-marked token glues to the one before and an unmarked one starts a word (WordPiece); a
    suffix ends a word with a space (BPEDecoder); the text is then one piece (Fuse) whose trailing
    spaces go, as decode drops them after a final suffix (Replace; HF's Strip decoder would panic
    on an empty text).
    """
    steps = []
    if prefix:
        steps.append({"type": "WordPiece", "prefix": prefix, "cleanup": False})
    if suffix:
        steps.append({"type": "BPEDecoder", "suffix": suffix})
    steps.append({"type": "Fuse"})
    if suffix:
        steps.append({"type": "Replace", "pattern": {"Regex": " +\\z"}, "content": ""})
    return steps[0] if len(steps) == 1 else {"type": "Sequence", "decoders": steps}


def bpe_to_hf_json(tok):
    # Special tokens are in the model's vocab too, as HF's trainers put them: the BPE model needs
    # its unk_token there.
    vocab = {t: i for i, t in enumerate(tok._id_to_token)}
    if len(vocab) != tok.vocab_size:
        raise ValueError("two tokens share one string; this vocabulary cannot be written as tokenizer.json")
    merges = [[tok._id_to_token[l], tok._id_to_token[r]] for l, r in tok.merges]
    if tok.byte_level:
        decoder = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}
    else:
        decoder = _char_level_decoder(tok.prefix, tok.suffix)
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": _added_tokens(tok),
        "normalizer": None, "pre_tokenizer": _hf_pre_tokenizer(pattern_source(tok.pattern), tok.byte_level),
        "post_processor": None, "decoder": decoder,
        "model": {"type": "BPE", "dropout": None, "unk_token": tok.unk_token,
                  "continuing_subword_prefix": tok.prefix or None, "end_of_word_suffix": tok.suffix or None,
                  "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": merges},
    }


def _find_pretokenizers(node):
    if not node:
        return []
    if node.get("type") == "Sequence":
        return [p for child in node.get("pretokenizers", []) for p in _find_pretokenizers(child)]
    return [node]


def bpe_from_hf_json(cls, data):
    model = data["model"]
    if model.get("byte_fallback") or model.get("dropout") or model.get("ignore_merges"):
        raise ModelFileError("BPE options byte_fallback, dropout and ignore_merges are not supported")
    pres = _find_pretokenizers(data.get("pre_tokenizer"))
    byte_level = any(p.get("type") == "ByteLevel" for p in pres)
    if byte_level and any(p.get("type") == "ByteLevel" and p.get("add_prefix_space") for p in pres):
        raise ModelFileError("ByteLevel add_prefix_space=True is not supported")
    if data.get("normalizer"):
        raise ModelFileError("tokenizer.json normalizers are not supported for BPE models")
    pattern = None
    for p in pres:
        if p.get("type") == "Split":
            if (p.get("behavior"), p.get("invert")) not in (("Removed", True), ("Isolated", False)):
                raise ModelFileError(f"Split behavior {p.get('behavior')!r} invert={p.get('invert')} is not supported")
            pattern = pattern_from_hf(p["pattern"]["Regex"]) if "Regex" in p["pattern"] \
                else re.escape(p["pattern"]["String"])
        elif p.get("type") == "ByteLevel" and p.get("use_regex", True):
            pattern = GPT2_PATTERN
        elif p.get("type") == "Whitespace":
            pattern = "whitespace"
        elif p.get("type") != "ByteLevel":
            raise ModelFileError(f"pre-tokenizer {p.get('type')!r} is not supported")
    merges = []
    for m in model["merges"]:
        left, right = m.split(" ") if isinstance(m, str) else m
        merges.append((left, right))
    special = {t["content"]: t["id"] for t in data.get("added_tokens", [])}
    vocab = {t: i for t, i in model["vocab"].items() if t not in special}
    return from_string_vocab(cls, vocab, merges, special_tokens=special, pattern=pattern, byte_level=byte_level,
                             continuing_subword_prefix=model.get("continuing_subword_prefix"),
                             end_of_word_suffix=model.get("end_of_word_suffix"), unk_token=model.get("unk_token"))


def from_string_vocab(cls, vocab, merges, *, special_tokens, pattern, byte_level, **options):
    """Build a BPETokenizer from {token string: id} and [(left, right)] merges in rank order.

    Byte-level token strings use GPT-2's byte-to-character map. Base tokens are those no merge makes.
    """
    rows = []
    made = set()
    for k, (left, right) in enumerate(merges):
        joined = left + (right[len(options["continuing_subword_prefix"]):]
                         if options.get("continuing_subword_prefix") and right.startswith(options["continuing_subword_prefix"])
                         else right)
        try:
            rows.append((vocab[left], vocab[right], vocab[joined]))
        except KeyError as e:
            raise ModelFileError(f"merge {k} ({left!r} {right!r}) uses a token missing from the vocabulary: {e}") from None
        made.add(vocab[joined])
    base = {}
    for token, i in vocab.items():
        if i in made:
            continue
        if byte_level:
            try:
                base[i] = bytes(CHAR_TO_BYTE[c] for c in token)
            except KeyError:
                raise ModelFileError(f"token {token!r} is not a byte-level token string") from None
        else:
            base[i] = token
    return cls(base=base, merges=np.array(rows, dtype=np.int32).reshape(-1, 3), special_tokens=special_tokens,
               pattern=pattern, byte_level=byte_level, **options)


def load_gpt2(encoder_json, vocab_bpe):
    """Load OpenAI's GPT-2 `encoder.json` + `vocab.bpe` (ids identical to tiktoken's "gpt2")."""
    try:
        with open(encoder_json, encoding="utf-8") as f:
            encoder = json.load(f)
        with open(vocab_bpe, encoding="utf-8") as f:
            lines = f.read().split("\n")
    except OSError as e:
        raise ModelFileError(f"cannot read GPT-2 files: {e}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ModelFileError(f"{encoder_json}: corrupt encoder.json ({e})") from None
    if not lines or not lines[0].startswith("#version"):
        raise ModelFileError(f"{vocab_bpe}: missing '#version' header line")
    merges = [tuple(line.split(" ")) for line in lines[1:] if line]
    if any(len(m) != 2 for m in merges):
        raise ModelFileError(f"{vocab_bpe}: a merge line does not have exactly two tokens")
    special = {t: i for t, i in encoder.items() if t.startswith("<|") and t.endswith("|>")}
    vocab = {t: i for t, i in encoder.items() if t not in special}
    return from_string_vocab(BPETokenizer, vocab, merges, special_tokens=special, pattern="gpt2", byte_level=True)
