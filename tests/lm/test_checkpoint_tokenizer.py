"""A checkpoint embeds its tokenizer file, so a moved checkpoint samples and evaluates on its own; the BERT
trainer uses a WordPiece tokenizer's own [PAD] and [MASK] ids."""
import hashlib
import json
import shutil

import numpy as np
import pytest

import fasttok
from lm import checkpoint as ckpt
from lm.__main__ import main as lm_main
from lm.data import mlm_batches, special_ids
from lm.functional import IGNORE_INDEX

TINY = ["--block-size", "8", "--batch-size", "2", "--n-layer", "1", "--n-head", "2", "--d-model", "8",
        "--warmup", "1", "--eval-every", "2", "--steps", "2"]
WORDS = "the moon rises over a quiet sea and the ships sail home at dawn".split()


def _text(seed=0, n=80):
    rng = np.random.default_rng(seed)
    return "\n".join(" ".join(rng.choice(WORDS, 7)) for _ in range(n))


def _sample_and_eval(capsys, checkpoint, corpus, *extra):
    assert lm_main(["gpt", "sample", str(checkpoint), "--prompt", "the moon", "-n", "6", "--seed", "3", *extra]) == 0
    sample = capsys.readouterr().out
    assert lm_main(["gpt", "eval", str(checkpoint), str(corpus), *extra]) == 0
    return sample, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("kind", ["bpe", "wordpiece vocab.txt"])
def test_a_moved_checkpoint_samples_and_evaluates_without_its_tokenizer_file(tmp_path, capsys, kind):
    text = _text()
    src = tmp_path / "src"
    src.mkdir()
    corpus = tmp_path / "train.txt"
    corpus.write_text(text, encoding="utf-8")
    if kind == "bpe":
        tok_path = src / "tok.fasttok"
        fasttok.train_bpe([text], vocab_size=280).save(str(tok_path))
    else:  # fasttok.load reads a .txt as a vocab.txt: the embedded copy must keep the name
        tok_path = src / "vocab.txt"
        fasttok.train_wordpiece([text], vocab_size=60, min_frequency=1).save(str(tok_path), format="vocab.txt")
    out = src / "gpt.npz"
    assert lm_main(["gpt", "train", "--tokenizer", str(tok_path), "-o", str(out), *TINY, str(corpus)]) == 0
    capsys.readouterr()
    before = _sample_and_eval(capsys, out, corpus)

    meta = ckpt.read_meta(out)
    data = tok_path.read_bytes()
    assert meta["tokenizer"] == {"name": tok_path.name, "sha256": hashlib.sha256(data).hexdigest()}
    with np.load(out) as npz:
        assert npz["tokenizer"].dtype == np.uint8 and npz["tokenizer"].tobytes() == data

    moved = tmp_path / "elsewhere" / "gpt.npz"
    moved.parent.mkdir()
    shutil.move(out, moved)
    shutil.rmtree(src)  # the tokenizer file and its directory are gone
    assert _sample_and_eval(capsys, moved, corpus) == before


def test_tokenizer_override_must_be_the_embedded_file(tmp_path, capsys):
    text = _text()
    corpus = tmp_path / "train.txt"
    corpus.write_text(text, encoding="utf-8")
    tok_path, other = tmp_path / "tok.fasttok", tmp_path / "other.fasttok"
    fasttok.train_bpe([text], vocab_size=280).save(str(tok_path))
    fasttok.train_bpe([text], vocab_size=281).save(str(other))
    out = tmp_path / "gpt.npz"
    assert lm_main(["gpt", "train", "--tokenizer", str(tok_path), "-o", str(out), *TINY, str(corpus)]) == 0
    capsys.readouterr()
    before = _sample_and_eval(capsys, out, corpus)
    copy = tmp_path / "copy" / "renamed.fasttok"
    copy.parent.mkdir()
    shutil.copy(tok_path, copy)
    assert _sample_and_eval(capsys, out, corpus, "--tokenizer", str(copy)) == before  # the same bytes: fine
    assert lm_main(["gpt", "eval", str(out), str(corpus), "--tokenizer", str(other)]) == 2
    err = capsys.readouterr().err
    assert "other.fasttok" in err and "tok.fasttok" in err and "not the tokenizer" in err
    assert len(err.strip().splitlines()) == 1


def _train_with_bpe(tmp_path):
    """A tiny GPT trained through the CLI on a fresh BPE tokenizer: (tokenizer, checkpoint, corpus) paths."""
    text = _text()
    corpus = tmp_path / "train.txt"
    corpus.write_text(text, encoding="utf-8")
    tok_path = tmp_path / "tok.fasttok"
    fasttok.train_bpe([text], vocab_size=280).save(str(tok_path))
    out = tmp_path / "gpt.npz"
    assert lm_main(["gpt", "train", "--tokenizer", str(tok_path), "-o", str(out), *TINY, str(corpus)]) == 0
    return tok_path, out, corpus


def test_a_damaged_embedded_tokenizer_is_reported(tmp_path, capsys):
    tok_path, out, corpus = _train_with_bpe(tmp_path)
    with np.load(out) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["tokenizer"] = arrays["tokenizer"].copy()
    arrays["tokenizer"][-2] ^= 1
    np.savez(out, **arrays)
    capsys.readouterr()
    assert lm_main(["gpt", "sample", str(out), "--prompt", "the"]) == 2
    assert "damaged" in capsys.readouterr().err


def test_a_checkpoint_without_an_embedded_tokenizer_still_uses_its_recorded_path(tmp_path, capsys):
    tok_path, out, corpus = _train_with_bpe(tmp_path)
    model, meta = ckpt.load(out)
    old = tmp_path / "old.npz"
    ckpt.save(old, model, extra={"tokenizer": str(tok_path)})  # the layout before tokenizers were embedded
    capsys.readouterr()
    assert _sample_and_eval(capsys, old, corpus) == _sample_and_eval(capsys, out, corpus)
    tok_path.unlink()
    assert lm_main(["gpt", "sample", str(old), "--prompt", "the"]) == 2
    assert "cannot load tokenizer" in capsys.readouterr().err


def test_bert_uses_the_wordpiece_tokenizers_own_pad_and_mask(tmp_path, capsys):
    text = _text(n=120)
    corpus = tmp_path / "train.txt"
    corpus.write_text(text, encoding="utf-8")
    tok = fasttok.train_wordpiece([text], vocab_size=60, min_frequency=1)
    tok_path = tmp_path / "wp.fasttok"
    tok.save(str(tok_path))
    out = tmp_path / "bert.npz"
    assert lm_main(["bert", "train", "--tokenizer", str(tok_path), "-o", str(out), *TINY, str(corpus)]) == 0
    model, meta = ckpt.load(out)
    assert meta["extra"]["pad"] == tok.special_tokens["[PAD]"]
    assert meta["extra"]["mask"] == tok.special_tokens["[MASK]"]
    assert model.config.vocab_size == tok.vocab_size  # nothing appended after the vocabulary
    # a BPE tokenizer without those tokens still gets them appended
    assert special_ids(300, tokenizer_specials={}).pad == 300


def test_mlm_batches_never_mask_the_tokenizers_special_tokens():
    specials = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4}
    sp = special_ids(20, tokenizer_specials=specials)
    assert (sp.pad, sp.mask, sp.reserved, sp.vocab_size) == (0, 4, (1, 2, 3), 20)
    rng = np.random.default_rng(0)
    stream = np.tile(np.arange(1, 20), 50)  # holds [UNK], [CLS], [SEP] and [MASK] among ordinary ids
    inputs, labels = next(mlm_batches(stream, batch_size=64, block_size=19, specials=sp, rng=rng,
                                      mask_prob=0.9))
    window_ids = np.where(labels != IGNORE_INDEX, labels, -1)
    assert not np.isin(window_ids, [0, 1, 2, 3, 4]).any()  # never chosen for the loss
    replaced = (labels != IGNORE_INDEX) & (inputs != labels) & (inputs != sp.mask)
    assert replaced.any() and not np.isin(inputs[replaced], [0, 1, 2, 3, 4]).any()
    assert inputs.max() < 20
