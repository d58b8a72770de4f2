"""`lm bert train`: masked-LM pre-training end to end; a WordPiece tokenizer's own [PAD] and [MASK] ids are used,
and its special tokens are never masked."""
import numpy as np

import fasttok
from lm import checkpoint as ckpt
from lm.cli import main as lm_main
from lm.data import mlm_batches, special_ids
from lm.functional import IGNORE_INDEX

from .cli_support import MOON, TINY_RUN, train_small, word_text


def test_bert_train(king_files, capsys):
    out, result = train_small("bert", king_files, capsys, steps=3)
    assert result["val_loss"] > 0
    model, meta = ckpt.load(out)
    assert meta["family"] == "bert" and model.config.vocab_size > 300
    # sampling a bert checkpoint with the gpt command
    assert lm_main(["gpt", "sample", str(out), "--prompt", "the"]) == 1


def test_bert_uses_the_wordpiece_tokenizers_own_pad_and_mask(tmp_path, capsys):
    text = word_text(MOON, n_lines=120, per_line=7)
    corpus = tmp_path / "train.txt"
    corpus.write_text(text, encoding="utf-8")
    tok = fasttok.train_wordpiece([text], vocab_size=60, min_frequency=1)
    tok_path = tmp_path / "wp.fasttok"
    tok.save(str(tok_path))
    out = tmp_path / "bert.npz"
    assert lm_main(["bert", "train", "--tokenizer", str(tok_path), "-o", str(out), *TINY_RUN, str(corpus)]) == 0
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
