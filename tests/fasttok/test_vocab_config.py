"""A WordPiece vocab.txt keeps its settings in tokenizer_config.json beside it, as HF saves them.

HF transformers is not installed, so its side is checked two ways: the config's field names and
values are those transformers' BertTokenizer reads, and HF `tokenizers`' BertWordPieceTokenizer
built from the same vocab.txt with those settings gives identical ids.
"""
import json
import subprocess
import sys

import pytest
from pydoc_data.topics import topics

import fasttok
from fasttok.errors import FasttokError, ModelFileError

tokenizers = pytest.importorskip("tokenizers")

CASED = ["Hello World, THIS is Cased Text.", "Größe ÜBER Æsir naïve café", "MixedCase iPhone eBay McDonald",
         "日本語 Text [SEP] and [MASK]"] + [line for text in list(topics.values())[:6] for line in text.splitlines()[:20]]


@pytest.fixture(scope="module")
def cased():
    return fasttok.train_wordpiece(" ".join(topics.values())[:200_000] + " ".join(CASED[:4]) * 5,
                                   vocab_size=600, lowercase=False)


@pytest.fixture()
def saved(cased, tmp_path):
    cased.save(tmp_path / "vocab.txt", format="vocab.txt")
    return tmp_path / "vocab.txt"


def _config(vocab_path):
    return json.loads((vocab_path.parent / "tokenizer_config.json").read_text(encoding="utf-8"))


def test_cased_vocab_txt_reloads_cased(cased, saved):
    for again in (fasttok.load(saved), fasttok.load_bert_vocab(saved)):
        assert again.lowercase is False and again == cased
        assert again.encode_batch(CASED) == cased.encode_batch(CASED)
    # the text really is cased: the uncased reading of the same vocabulary differs
    assert fasttok.load(saved, lowercase=True).encode_batch(CASED) != cased.encode_batch(CASED)


def test_config_has_bert_tokenizer_fields(saved):
    config = _config(saved)
    assert config["tokenizer_class"] == "BertTokenizer"
    assert config["do_lower_case"] is False and config["strip_accents"] is None
    assert config["tokenize_chinese_chars"] is True and config["do_basic_tokenize"] is True
    assert config["never_split"] is None
    assert {k: config[k] for k in ("unk_token", "sep_token", "pad_token", "cls_token", "mask_token")} == {
        "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
        "mask_token": "[MASK]"}
    vocab = saved.read_text(encoding="utf-8").splitlines()
    assert {int(i): t["content"] for i, t in config["added_tokens_decoder"].items()} == {
        vocab.index(t): t for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")}
    assert all(t["special"] for t in config["added_tokens_decoder"].values())
    assert config["model_max_length"] == int(1e30)  # transformers' "no limit"


@pytest.mark.parametrize("lowercase, strip_accents", [(False, None), (True, None), (True, False), (False, True)])
def test_hf_tokenizers_reads_the_same_settings(tmp_path, lowercase, strip_accents):
    tok = fasttok.train_wordpiece(" ".join(topics.values())[:100_000] + " ".join(CASED[:4]) * 5,
                                  vocab_size=500, lowercase=lowercase, strip_accents=strip_accents)
    tok.save(tmp_path / "vocab.txt", format="vocab.txt")
    config = _config(tmp_path / "vocab.txt")
    theirs = tokenizers.BertWordPieceTokenizer(
        str(tmp_path / "vocab.txt"), lowercase=config["do_lower_case"], strip_accents=config["strip_accents"],
        handle_chinese_chars=config["tokenize_chinese_chars"], unk_token=config["unk_token"],
        sep_token=config["sep_token"], cls_token=config["cls_token"], pad_token=config["pad_token"],
        mask_token=config["mask_token"])
    again = fasttok.load(tmp_path / "vocab.txt")
    assert again.encode_batch(CASED) == [e.ids for e in theirs.encode_batch(CASED, add_special_tokens=False)]
    assert again == tok


def test_bare_vocab_txt_is_bert_uncased_unless_told(cased, saved):
    (saved.parent / "tokenizer_config.json").unlink()
    bare = fasttok.load(saved)
    assert bare.lowercase is True and bare.strip_accents is None
    theirs = tokenizers.BertWordPieceTokenizer(str(saved), lowercase=False)
    told = fasttok.load(saved, lowercase=False)
    assert told.encode_batch(CASED) == [e.ids for e in theirs.encode_batch(CASED, add_special_tokens=False)]
    assert fasttok.load_bert_vocab(saved, lowercase=False) == told == cased


def test_explicit_settings_win_over_the_config(saved):
    config_says_cased = fasttok.load_bert_vocab(saved, lowercase=True, strip_accents=False)
    assert (config_says_cased.lowercase, config_says_cased.strip_accents) == (True, False)
    assert fasttok.load(saved, strip_accents=True).strip_accents is True
    assert fasttok.load(saved, strip_accents=True).lowercase is False  # the rest still from the config


def test_load_overrides_native_and_json_wordpiece_too(cased, tmp_path):
    cased.save(tmp_path / "t.wp")
    cased.save(tmp_path / "t.json", format="hf")
    for path in (tmp_path / "t.wp", tmp_path / "t.json"):
        assert fasttok.load(path) == cased
        assert fasttok.load(path, lowercase=True).lowercase is True


def test_bad_settings_arguments(saved, tmp_path):
    with pytest.raises(TypeError, match="lowercase must be None, True or False"):
        fasttok.load(saved, lowercase="yes")
    bpe = fasttok.train_bpe("low lower lowest " * 20, vocab_size=260)
    bpe.save(tmp_path / "b.fasttok")
    with pytest.raises(FasttokError, match="WordPiece settings"):
        fasttok.load(tmp_path / "b.fasttok", lowercase=False)


def test_reads_configs_as_hf_writes_them(cased, saved):
    # bert-base-cased's own config is just this; the rest takes BertTokenizer's defaults.
    (saved.parent / "tokenizer_config.json").write_text('{"do_lower_case": false, "model_max_length": 512}')
    assert fasttok.load(saved) == cased
    # Older transformers wrote special tokens as AddedToken objects.
    config = _config(saved) | {"unk_token": {"__type": "AddedToken", "content": "[UNK]", "lstrip": False}}
    (saved.parent / "tokenizer_config.json").write_text(json.dumps(config))
    assert fasttok.load(saved) == cased


def test_tokens_added_beyond_the_vocab_file(saved):
    n = len(saved.read_text(encoding="utf-8").splitlines())
    config = _config(saved)
    config["added_tokens_decoder"][str(n)] = {"content": "<extra>", "special": True}
    (saved.parent / "tokenizer_config.json").write_text(json.dumps(config))
    tok = fasttok.load(saved)
    assert tok.vocab_size == n + 1 and tok.encode("a <extra> b")[1] == n


@pytest.mark.parametrize("config, message", [
    ("{not json", "corrupt tokenizer config"),
    ('["a list"]', "JSON object"),
    ('{"tokenize_chinese_chars": false}', "tokenize_chinese_chars=False is not supported"),
    ('{"do_lower_case": "no"}', "do_lower_case is 'no'"),
    ('{"unk_token": null}', "no unk_token"),
    ('{"never_split": ["hello"]}', "never_split"),
    ('{"added_tokens_decoder": {"0": {"content": "nope", "special": true}}}', "has id 0"),
])
def test_bad_config_names_the_file_and_the_problem(saved, config, message):
    (saved.parent / "tokenizer_config.json").write_text(config)
    with pytest.raises(ModelFileError, match=message) as e:
        fasttok.load(saved)
    assert "tokenizer_config.json" in str(e.value)


def test_custom_special_tokens_and_prefix_round_trip(tmp_path):
    tok = fasttok.train_wordpiece(" ".join(topics.values())[:50_000], vocab_size=300, lowercase=False,
                                  special_tokens=["<pad>", "<unk>", "<s>"], unk_token="<unk>",
                                  continuing_subword_prefix="@@")
    tok.save(tmp_path / "vocab.txt", format="vocab.txt")
    config = _config(tmp_path / "vocab.txt")
    assert config["unk_token"] == "<unk>" and config["sep_token"] is None
    assert config["additional_special_tokens"] == ["<pad>", "<s>"] and config["wordpieces_prefix"] == "@@"
    assert fasttok.load(tmp_path / "vocab.txt") == tok


def test_cli_writes_and_reads_the_config(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(CASED * 10), encoding="utf-8")
    out = tmp_path / "vocab.txt"
    train = [sys.executable, "-m", "fasttok", "train", "--model", "wordpiece", "--vocab-size", "300",
             "--format", "vocab.txt", "-o", str(out), str(corpus)]
    subprocess.run(train, check=True, capture_output=True)
    assert (tmp_path / "tokenizer_config.json").is_file()
    ids = subprocess.run([sys.executable, "-m", "fasttok", "encode", "-t", str(out)], input="Hello World\n",
                         check=True, capture_output=True, text=True).stdout.split()
    assert [int(i) for i in ids] == fasttok.load(out).encode("Hello World")
