"""lm: language models on top of fasttok tokens, in pure Python + numpy."""
