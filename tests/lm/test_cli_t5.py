"""`lm t5 train`: span-corruption pre-training end to end, and --target-size's default derived from the noise
density."""
from lm import checkpoint as ckpt
from lm.cli import main as lm_main

from .cli_support import train_small


def test_t5_train(king_files, capsys):
    out, result = train_small("t5", king_files, capsys, steps=3)
    assert result["val_loss"] > 0
    model, meta = ckpt.load(out)
    assert meta["family"] == "t5" and model.config.vocab_size > 300
    assert model.config.target_size == int(16 * 0.15 * 1.5) + 8  # --target-size 0: from --noise-density
    assert lm_main(["gpt", "eval", str(out), str(king_files[1])]) == 1  # another family's command refuses it
