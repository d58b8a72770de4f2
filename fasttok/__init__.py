"""fasttok: fast, exact subword tokenizer training."""
