"""Slow, obviously-correct twins of the fast paths: the test oracles, and the textbook versions.

`bpe` and `wordpiece` use the same verbs for the same steps: `merge_word` (one merge, left to right),
`learn_merges` (the whole trainer, recounting everything at every step) and `encode_word` (one word to
ids); pairs are counted by `bpe.count_pairs` (every adjacent position) and `wordpiece.word_pairs` (the
merges a left-to-right pass makes, the twin of `_wordpiece._py_word_pairs`).
"""
