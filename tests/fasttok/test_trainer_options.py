"""Both trainers check their options by one set of rules (fasttok.tokenizer.TrainerOptions): the same
mistake raises the same exception type from train_bpe and train_wordpiece, both record an early stop
in `tok.info` and warn, and old keyword names still work for one release, with a DeprecationWarning."""
import warnings

import pytest

import fasttok
import fasttok.dask

CORPUS = ["low lower lowest newer wider new news"] * 5


def train(model, **options):
    options.setdefault("vocab_size", 400)
    if model == "bpe":
        return fasttok.train_bpe(CORPUS, byte_level=False, **options)
    return fasttok.train_wordpiece(CORPUS, **options)


BAD_OPTIONS = [
    pytest.param({"vocab_size": 0}, ValueError, "vocab_size must be at least 1", id="vocab_size 0"),
    pytest.param({"vocab_size": 2**40}, ValueError, "vocab_size", id="vocab_size too large"),
    pytest.param({"vocab_size": 3.5}, TypeError, "vocab_size must be an int", id="vocab_size float"),
    pytest.param({"vocab_size": True}, TypeError, "vocab_size must be an int", id="vocab_size bool"),
    pytest.param({"vocab_size": 3}, ValueError, "below the", id="vocab_size below the fixed tokens"),
    pytest.param({"min_frequency": 0}, ValueError, "min_frequency must be at least 1", id="min_frequency 0"),
    pytest.param({"min_frequency": "2"}, TypeError, "min_frequency must be an int", id="min_frequency str"),
    pytest.param({"max_token_length": 0}, ValueError, "max_token_length", id="max_token_length 0"),
    pytest.param({"special_tokens": "[UNK]"}, TypeError, "sequence of strings", id="special_tokens str"),
    pytest.param({"special_tokens": ["<s>", "<s>"]}, ValueError, "duplicate", id="duplicate special"),
    pytest.param({"special_tokens": [""]}, ValueError, "non-empty", id="empty special"),
    pytest.param({"unk_token": 5}, TypeError, "unk_token", id="unk_token int"),
    pytest.param({"continuing_subword_prefix": 5}, TypeError, "continuing_subword_prefix", id="prefix int"),
    pytest.param({"progress": "yes"}, TypeError, "progress must be callable", id="progress"),
]


@pytest.mark.parametrize("options, error, message", BAD_OPTIONS)
@pytest.mark.parametrize("model", ["bpe", "wordpiece"])
def test_the_same_mistake_raises_the_same_error(model, options, error, message):
    with pytest.raises(error, match=message) as info:
        train(model, **options)
    assert type(info.value) is error


@pytest.mark.parametrize("model", ["bpe", "wordpiece"])
def test_an_empty_corpus_is_a_corpus_error(model):
    trainer = fasttok.train_bpe if model == "bpe" else fasttok.train_wordpiece
    with pytest.raises(fasttok.CorpusError):
        trainer([""], vocab_size=300)


@pytest.mark.filterwarnings("ignore::fasttok.TrainingWarning")
@pytest.mark.parametrize("model", ["bpe", "wordpiece"])
def test_unk_token_joins_the_special_tokens(model):
    tok = train(model, special_tokens=["[PAD]"], unk_token="[UNK]")
    assert set(tok.special_tokens) == {"[PAD]", "[UNK]"}


@pytest.mark.parametrize("model", ["bpe", "wordpiece"])
def test_an_early_stop_is_recorded_and_warned(model):
    with pytest.warns(fasttok.TrainingWarning, match="ran out of pairs") as caught:
        tok = train(model, vocab_size=1000, min_frequency=1)
    assert caught[0].filename == __file__  # the warning points at the caller of the trainer
    assert tok.info["stopped_early"] and tok.info["requested_vocab_size"] == 1000
    assert tok.vocab_size < 1000 and tok.info["n_merges"] > 0


@pytest.mark.parametrize("model", ["bpe", "wordpiece"])
def test_a_full_training_records_no_early_stop(model):
    with pytest.warns(fasttok.TrainingWarning):
        largest = train(model, vocab_size=1000, min_frequency=1).vocab_size
    with warnings.catch_warnings():
        warnings.simplefilter("error", fasttok.TrainingWarning)
        tok = train(model, vocab_size=largest - 3, min_frequency=1)
    assert tok.vocab_size == largest - 3 and tok.info["stopped_early"] is False


def test_num_workers_is_the_old_name_of_num_threads(tmp_path):
    with pytest.warns(DeprecationWarning, match="num_workers is renamed num_threads"):
        old = fasttok.count_words(CORPUS, num_workers=2)
    assert old == fasttok.count_words(CORPUS, num_threads=2)
    with pytest.warns(DeprecationWarning, match="num_workers is renamed num_threads"):
        tok = fasttok.train_bpe(CORPUS, vocab_size=270, num_workers=2)
    assert tok == fasttok.train_bpe(CORPUS, vocab_size=270, num_threads=2)
    with pytest.raises(ValueError, match="num_threads must be at least 1"):
        fasttok.count_words(CORPUS, num_threads=0)


def test_prefix_and_suffix_are_the_old_names_of_the_markers():
    tok = fasttok.train_bpe(CORPUS, vocab_size=25, byte_level=False, pattern="whitespace",
                            continuing_subword_prefix="##", end_of_word_suffix="</w>")
    assert (tok.continuing_subword_prefix, tok.end_of_word_suffix) == ("##", "</w>")
    with pytest.warns(DeprecationWarning, match="renamed continuing_subword_prefix"):
        assert tok.prefix == "##"
    with pytest.warns(DeprecationWarning, match="renamed end_of_word_suffix"):
        assert tok.suffix == "</w>"
    plain = fasttok.train_bpe(CORPUS, vocab_size=270)
    assert plain.continuing_subword_prefix is None and plain.end_of_word_suffix is None


def test_dask_count_words_is_the_old_name_of_count_words_dask():
    with pytest.warns(DeprecationWarning, match="renamed fasttok.dask.count_words_dask"):
        assert fasttok.dask.count_words is fasttok.dask.count_words_dask


@pytest.mark.filterwarnings("ignore::fasttok.TrainingWarning")
@pytest.mark.parametrize("model", ["bpe", "wordpiece"])
def test_format_names(model, tmp_path):
    tok = train(model, vocab_size=25, min_frequency=1)
    tok.save(tmp_path / "a.json", format="tokenizer.json")
    tok.save(tmp_path / "b.json", format="hf")  # the older name of the same format
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert fasttok.load(tmp_path / "a.json") == fasttok.load(tmp_path / "b.json")
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        tok.save(tmp_path / "c", format="xml")


def test_wordpiece_counts_and_vocabulary_do_not_depend_on_num_threads(monkeypatch):
    from fasttok.wordpiece import count_bert_words
    from tests.texts import docs_text
    monkeypatch.setattr("fasttok.wordpiece.BLOCK_SIZE", 20_000)  # many batches, so the threads share them
    texts = docs_text()[:300_000].split("\n")
    one = count_bert_words(texts)
    assert dict(count_bert_words(texts, num_threads=3).items()) == dict(one.items())
    assert fasttok.train_wordpiece(texts, vocab_size=800, num_threads=3) == fasttok.train_wordpiece(texts, vocab_size=800)
