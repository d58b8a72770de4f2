"""Files go in through `files=` (or as pathlib.Path): a bare str is text, and a str that names an
existing file is refused rather than trained on as six characters. Paths are checked before counting."""
import pathlib

import pytest
from pydoc_data.topics import topics

import fasttok

TEXT = "".join(topics[k] for k in sorted(topics))[:40_000]


def trainers():
    return [
        ("train_bpe", lambda corpus=None, **kw: fasttok.train_bpe(corpus, vocab_size=300, **kw)),
        ("train_wordpiece", lambda corpus=None, **kw: fasttok.train_wordpiece(corpus, vocab_size=200, **kw)),
        ("count_words", lambda corpus=None, **kw: fasttok.count_words(corpus, **kw)),
    ]


@pytest.fixture
def corpus_dir(tmp_path, monkeypatch):
    (tmp_path / "fr.txt").write_text(TEXT[:20_000], encoding="utf-8")
    (tmp_path / "en.txt").write_text(TEXT[20_000:], encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # relative names, as a user types them
    return tmp_path


@pytest.mark.parametrize("name, train", trainers())
def test_files_keyword_reads_the_files(corpus_dir, name, train):
    expected = train([TEXT[:20_000], TEXT[20_000:]])
    assert train(files=["fr.txt", "en.txt"]) == expected
    assert train(files=[pathlib.Path("fr.txt"), corpus_dir / "en.txt"]) == expected
    assert train([pathlib.Path("fr.txt"), pathlib.Path("en.txt")]) == expected
    assert train([TEXT[:20_000]], files="en.txt") == expected  # texts first, then the files
    assert train(files="fr.txt") == train(pathlib.Path("fr.txt")) == train([TEXT[:20_000]])


@pytest.mark.parametrize("name, train", trainers())
def test_a_bare_str_naming_a_file_is_refused_with_the_way_to_pass_it(corpus_dir, name, train):
    with pytest.raises(fasttok.CorpusError, match=r"names an existing file") as info:
        train("fr.txt")
    assert "files=['fr.txt']" in str(info.value) and "pathlib.Path('fr.txt')" in str(info.value)


@pytest.mark.parametrize("name, train", trainers())
def test_a_str_is_still_text(corpus_dir, name, train):
    assert train(TEXT[:20_000]) == train([TEXT[:20_000]]) == train(files="fr.txt")  # fr.txt holds that text


def test_only_a_bare_str_is_checked_against_the_file_system(corpus_dir):
    # A list of str is a list of texts, file names or not; a str that names no file is text.
    assert fasttok.count_words(["fr.txt"]).to_dict() == {"fr": 1, ".": 1, "txt": 1}
    assert fasttok.count_words("fr.txt, no such file").to_dict() == {
        "fr": 1, ".": 1, "txt": 1, ",": 1, " no": 1, " such": 1, " file": 1}


@pytest.mark.parametrize("name, train", trainers())
def test_paths_are_checked_before_any_counting(corpus_dir, name, train):
    consumed = []

    def texts():  # the corpus is streamed: it must not be touched before the paths are known good
        consumed.append(True)
        yield TEXT

    for files, message in ([["fr.txt", "missing.txt"], "missing.txt': No such file"],
                           [[corpus_dir], "it is a directory"]):
        with pytest.raises(fasttok.CorpusError, match=message):
            train(texts(), files=files)
        with pytest.raises(fasttok.CorpusError, match=message):
            train([TEXT, *map(pathlib.Path, files)])
    assert consumed == []


@pytest.mark.parametrize("name, train", trainers())
def test_bad_arguments(name, train):
    with pytest.raises(TypeError, match="no corpus"):
        train()
    with pytest.raises(TypeError, match="files must be"):
        train(files=b"fr.txt")
    with pytest.raises(TypeError, match="files must be"):
        train(files=[3])
