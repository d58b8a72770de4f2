"""The `lm` dispatcher (lm.cli) across families: the console script pyproject.toml names works from any
directory, with --version and --help, and `python -m lm` too; one exit-status convention (0 ok, 1 a runtime or
data error, 2 a usage error, 130 Ctrl-C, each a single line on stderr); BLAS threads capped for rlhf only; output
paths checked before the long work; each family's command refusing another family's model."""
import dataclasses
import importlib
import importlib.util
import os
import subprocess
import sys

import pytest

import lm.__main__
from lm import cli
from lm.cli import main as lm_main
from lm.ngram import train_ngram
from lm.nn import BERTConfig, GPTConfig, T5Config
from lm.rlhf.demo import DemoConfig, bpe_config
from lm.rlhf.ppo import PPOConfig
from lm.train import TrainingConfig

from .cli_support import ROOT, TINY, TINY_RUN, fails_naming, word_text, write_corpus

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

TRAIN = "the cat sat on the mat\nthe dog sat on the cat\n"
COLOURS = ["red", "blue", "green", "sky", "sea"]


def _project():
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]


def _entry_point():
    module, _, attr = _project()["scripts"]["lm"].partition(":")
    return module, attr


def test_the_entry_point_prints_the_distributions_version(capsys):
    module, attr = _entry_point()
    main = getattr(importlib.import_module(module), attr)
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"lm {_project()['version']} (the {_project()['name']} distribution)\n"
    assert main(["--help"]) == 0 and "usage: lm" in capsys.readouterr().out
    assert main([]) == 2 and "usage: lm" in capsys.readouterr().err
    assert main(["nonsense"]) == 2
    for family in ("ngram", "gpt", "bert", "t5", "rlhf"):
        assert main([family, "--help"]) == 0 and f"usage: lm {family}" in capsys.readouterr().out


def _script(tmp_path):
    """The file pip writes for a console script, from the entry point pyproject.toml names."""
    module, attr = _entry_point()
    script = tmp_path / "bin" / "lm"
    script.parent.mkdir()
    script.write_text(f"import sys\nfrom {module} import {attr}\nif __name__ == '__main__':\n"
                      f"    sys.exit({attr}())\n", encoding="utf-8")
    return script


def test_the_console_script_runs_from_any_directory(tmp_path):
    script = _script(tmp_path)
    work = tmp_path / "elsewhere"
    work.mkdir()
    (work / "train.txt").write_text(TRAIN, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, str(script), "--version"], cwd=work, env=env, capture_output=True,
                         text=True)
    assert run.returncode == 0 and run.stdout.split()[:2] == ["lm", _project()["version"]], run.stderr
    run = subprocess.run([sys.executable, str(script), "ngram", "train", "--order", "2", "-o", "m.arpa", "train.txt"],
                         cwd=work, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert (work / "m.arpa").read_text(encoding="utf-8").startswith("\\data\\")
    run = subprocess.run([sys.executable, str(script), "gpt", "eval", "missing.npz", "train.txt"], cwd=work, env=env,
                         capture_output=True, text=True)
    assert run.returncode == 1 and run.stderr.startswith("lm gpt: error:")  # errors name the script


def test_python_dash_m_lm_version_from_another_directory(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "lm", "--version"], cwd=tmp_path, env=env, capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout == f"lm {_project()['version']} (the {_project()['name']} distribution)\n"


# ----------------------------------------------------------------------------- options from dataclasses

@dataclasses.dataclass
class _Base:
    width: int = 8                 # residual width
    name: str = "x"


@dataclasses.dataclass
class _Toy(_Base):
    size: int | None = None        # None means twice the width
    rate: float = dataclasses.field(default=0.5, metadata={"help": "a 50% chance", "min": 0})
    kind: str = dataclasses.field(default="a", metadata={"choices": ("a", "b")})
    flag: bool = True              # on by default
    name: str = "y"                # overridden: the subclass's comment and default
    extra: tuple = ()              # not a scalar: no option


def _toy_parser(**kwargs):
    parser = cli._Parser(prog="toy")
    cli.add_config_options(parser, _Toy, **kwargs)
    return parser


def test_every_scalar_field_is_an_option_with_the_fields_type_default_and_comment():
    parser = _toy_parser(skip={"kind"})
    args = parser.parse_args([])
    assert vars(args) == {"width": 8, "name": "y", "size": None, "rate": 0.5, "flag": True}
    assert cli.config_from(_Toy, args) == _Toy()
    args = parser.parse_args(["--width", "3", "--size", "7", "--rate", "0.25", "--no-flag", "--name", "z"])
    assert cli.config_from(_Toy, args) == _Toy(width=3, size=7, rate=0.25, flag=False, name="z")
    text = parser.format_help()
    assert "residual width (default 8)" in text and "None means twice the width\n" in text
    assert "a 50% chance (default 0.5)" in text and "on by default (default True)" in text
    assert "--extra" not in text and "--kind" not in text
    with pytest.raises(cli.UsageError, match="must be >= 0"):
        parser.parse_args(["--rate", "-1"])
    with pytest.raises(cli.UsageError, match="invalid choice"):
        _toy_parser().parse_args(["--kind", "c"])


def test_cli_defaults_prefixes_and_overrides():
    args = _toy_parser(defaults={"width": (4, "smaller here")}).parse_args([])
    assert args.width == 4
    assert "(default 4; smaller here)" in _toy_parser(defaults={"width": (4, "smaller here")}).format_help()
    parser = _toy_parser(prefix="toy_", shown=_Toy(width=5))
    args = parser.parse_args(["--toy-size", "2"])
    assert vars(args) == {"toy_size": 2}  # an override is absent unless given
    assert cli.config_overrides(args, _Toy, prefix="toy_") == {"size": 2}
    assert "(default 5)" in parser.format_help()


def test_a_field_without_a_default_is_a_required_option():
    @dataclasses.dataclass
    class Needs:
        count: int   # how many

    parser = cli._Parser(prog="needs")
    cli.add_config_options(parser, Needs)
    assert parser.parse_args(["--count", "3"]).count == 3
    with pytest.raises(cli.UsageError, match="required"):
        parser.parse_args([])


COMMON = {"gpt": ["gpt", "train"], "bert": ["bert", "train"], "t5": ["t5", "train"]}
CONFIGS = {"gpt": GPTConfig, "bert": BERTConfig, "t5": T5Config}


@pytest.mark.parametrize("family", sorted(CONFIGS))
def test_train_commands_have_every_config_field_and_its_default(family):
    args = cli.build_parser().parse_args([*COMMON[family], "--tokenizer", "t", "-o", "o.npz", "corpus.txt"])
    special = {name: value for name, (value, why) in cli.CLI_DEFAULTS.get(family, {}).items()}
    for cls in (CONFIGS[family], TrainingConfig):
        for f in dataclasses.fields(cls):
            if f.name in cli.DERIVED:
                assert not hasattr(args, f.name)
            else:
                assert getattr(args, f.name) == special.get(f.name, f.default), (family, f.name)
    names = {f.name for cls in (CONFIGS[family], TrainingConfig) for f in dataclasses.fields(cls)}
    assert set(special) <= names  # the table names real fields


def test_the_rlhf_demo_has_an_override_for_every_config_field(capsys):
    args = cli.build_parser().parse_args(["rlhf", "demo"])
    assert not any(hasattr(args, f.name) for f in dataclasses.fields(DemoConfig) if f.name != "tokenizer")
    assert lm_main(["rlhf", "demo", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())  # unwrapped
    for f in dataclasses.fields(DemoConfig):
        if f.name not in ("tokenizer", "ppo"):
            assert f"--{f.name.replace('_', '-')} {f.name.upper()}" in help_text
    for f in dataclasses.fields(PPOConfig):
        assert f"--ppo-{f.name.replace('_', '-')}" in help_text
    shown = bpe_config()  # the preset whose values the help shows
    assert f"tokens of corpus context before each response (default {shown.prompt_length})" in help_text


# ----------------------------------------------------------------------------- exit statuses

FAMILY_COMMANDS = {  # (a command line that runs, the option to give a bad value, a file argument to break)
    "ngram": (["ngram", "train", "-o", "{arpa}", "{corpus}"], "--order", "{corpus}"),
    "gpt": (["gpt", "train", "--tokenizer", "{tok}", "-o", "{out}", *TINY_RUN, "{corpus}"], "--steps", "{corpus}"),
    "bert": (["bert", "train", "--tokenizer", "{tok}", "-o", "{out}", *TINY_RUN, "{corpus}"], "--steps", "{corpus}"),
    "t5": (["t5", "train", "--tokenizer", "{tok}", "-o", "{out}", *TINY_RUN, "{corpus}"], "--steps", "{corpus}"),
    "rlhf": (["rlhf", "demo", "--quick", "--quiet", "--plot", "", "--tokenizer", "char", "--corpus", "{corpus}"],
             "--seed", "{corpus}"),
}


@pytest.fixture(scope="module")
def small_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("exit_statuses")
    text = word_text(COLOURS, n_lines=60, per_line=6)
    corpus, tok = write_corpus(d, text, vocab_size=270)
    return {"corpus": str(corpus), "tok": str(tok), "arpa": str(d / "out.arpa"), "out": str(d / "out.npz")}


def _argv(family, files, *, bad_option=False, missing_file=False):
    argv, option, file_argument = FAMILY_COMMANDS[family]
    argv = [files["corpus"] + ".missing" if missing_file and a == file_argument else a for a in argv]
    argv = [a.format(**files) for a in argv]
    if bad_option:
        argv.insert(2, f"{option}=not-a-number")
    return argv


def _one_error_line(capsys, family):
    out, err = capsys.readouterr()
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"lm {family}: "), err
    return err


@pytest.mark.parametrize("family", sorted(FAMILY_COMMANDS))
def test_a_bad_option_value_is_a_usage_error(family, small_files, capsys):
    assert lm_main(_argv(family, small_files, bad_option=True)) == cli.EXIT_USAGE == 2
    err = _one_error_line(capsys, family)
    assert "error: argument" in err and "not-a-number" in err and "--help" in err


@pytest.mark.parametrize("family", sorted(FAMILY_COMMANDS))
def test_a_missing_file_is_a_runtime_error(family, small_files, capsys):
    assert lm_main(_argv(family, small_files, missing_file=True)) == cli.EXIT_ERROR == 1
    err = _one_error_line(capsys, family)
    assert f"lm {family}: error: " in err and ".missing" in err


@pytest.mark.parametrize("family", sorted(FAMILY_COMMANDS))
def test_ctrl_c_is_one_line_and_status_130(family, small_files, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    # the first step every family's command takes after parsing: reading its text or its tokenizer
    monkeypatch.setattr(cli, "_read_sentences", interrupted)
    monkeypatch.setattr(cli, "load_tokenizer", interrupted)
    monkeypatch.setattr(cli, "run_demo", interrupted)
    assert lm_main(_argv(family, small_files)) == cli.EXIT_INTERRUPTED == 130
    assert _one_error_line(capsys, family) == f"lm {family}: interrupted\n"


def test_a_module_that_cannot_be_imported_is_one_line(monkeypatch, capsys):
    def broken(name):
        raise ImportError("fasttok's compiled core is missing")
    monkeypatch.setattr(lm.__main__.importlib, "import_module", broken)
    assert lm.__main__.main(["rlhf", "demo"]) == 1
    assert capsys.readouterr().err == "lm: cannot start `lm rlhf`: fasttok's compiled core is missing\n"


CAP_PROBE = """
import os, sys
from lm.__main__ import main
status = main(sys.argv[1:])
print(status, "numpy" in sys.modules, os.environ.get("OPENBLAS_NUM_THREADS"), os.environ.get("OMP_NUM_THREADS"))
"""


@pytest.mark.parametrize("family,capped", [("rlhf", "1"), ("gpt", None)])
def test_blas_threads_are_capped_before_numpy_for_rlhf_only(family, capped):
    env = {k: v for k, v in os.environ.items() if k not in lm.__main__.BLAS_THREAD_VARIABLES}
    env["PYTHONPATH"] = str(ROOT)
    run = subprocess.run([sys.executable, "-c", CAP_PROBE, family, "--help"], env=env, capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1].split() == ["0", "True", str(capped), str(capped)]


# ----------------------------------------------------------------------------- outputs are checked first

TINY_STEPS = [*TINY, "--steps", "2"]


def test_train_commands_refuse_unwritable_outputs_before_training(tmp_path, capsys, monkeypatch):
    corpus, tok = write_corpus(tmp_path, word_text(COLOURS, n_lines=60, per_line=6), vocab_size=270)
    a_directory = tmp_path / "out"
    a_directory.mkdir()
    cases = [
        (["gpt", "train", "--tokenizer", str(tok), "-o", str(a_directory), *TINY_STEPS, str(corpus)], 1),
        (["bert", "train", "--tokenizer", str(tok), "-o", str(tmp_path / "b.npz"), "--plot", str(a_directory),
          *TINY_STEPS, str(corpus)], 1),
        (["ngram", "train", "-o", str(a_directory), str(corpus)], 1),
    ]
    for argv, status in cases:
        assert lm_main(argv) == status, argv
        err = capsys.readouterr().err
        assert str(a_directory) in err and "directory" in err, err
        assert "train step" not in err and "training:" not in err and "parameters" not in err, err
        assert len(err.strip().splitlines()) == 1, err
    # --plot without matplotlib fails before training too, not after it
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else
                        find_spec(name, *a))
    err = fails_naming(capsys, ["gpt", "train", "--tokenizer", str(tok), "-o", str(tmp_path / "p.npz"), "--plot",
                                str(tmp_path / "p.png"), *TINY_STEPS, str(corpus)], "--plot", "matplotlib")
    assert "parameters" not in err and not (tmp_path / "p.npz").exists()
    monkeypatch.undo()
    # a missing directory for a checkpoint is created, as the checkpoint writer always did
    assert lm_main(["gpt", "train", "--tokenizer", str(tok), "-o", str(tmp_path / "new" / "g.npz"), *TINY_STEPS,
                    str(corpus)]) == 0
    assert (tmp_path / "new" / "g.npz").exists()


# ----------------------------------------------------------------------------- each family reads its own models

@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("families")
    text = word_text("one two three four five six seven eight nine ten".split(), n_lines=80, per_line=6)
    corpus, tok = write_corpus(d, text, vocab_size=270)
    paths = {}
    for family in ("gpt", "bert", "t5"):
        paths[family] = d / f"{family}.npz"
        assert lm_main([family, "train", "--tokenizer", str(tok), "-o", str(paths[family]), *TINY_RUN,
                        str(corpus)]) == 0
    paths["ngram"] = d / "ngram.npz"
    train_ngram([line.split() for line in text.splitlines()], order=2).save(paths["ngram"])
    return d, corpus, tok, paths


@pytest.mark.parametrize("other", ["bert", "t5"])
def test_gpt_sample_and_eval_refuse_other_families(models, capsys, other):
    d, corpus, tok, paths = models
    capsys.readouterr()
    fails_naming(capsys, ["gpt", "eval", str(paths[other]), str(corpus)], other, "gpt", str(paths[other]))
    fails_naming(capsys, ["gpt", "sample", str(paths[other]), "--prompt", "one"], other, "gpt")


@pytest.mark.parametrize("family,other", [("bert", "gpt"), ("t5", "bert"), ("gpt", "t5")])
def test_resume_refuses_another_familys_checkpoint(models, capsys, tmp_path, family, other):
    d, corpus, tok, paths = models
    target = tmp_path / "run.npz"
    target.write_bytes(paths[other].read_bytes())
    capsys.readouterr()
    fails_naming(capsys, [family, "train", "--tokenizer", str(tok), "-o", str(target), "--resume", *TINY_RUN,
                          str(corpus)], other, family)


def test_neural_and_ngram_files_are_told_apart(models, capsys):
    d, corpus, tok, paths = models
    capsys.readouterr()
    fails_naming(capsys, ["gpt", "eval", str(paths["ngram"]), str(corpus)], "n-gram", "lm ngram eval")
    fails_naming(capsys, ["ngram", "eval", str(paths["gpt"]), str(corpus)], "gpt checkpoint", "n-gram")
