"""`lm <family> <command> ...` (the console script) or `python -m lm ...`: each model family owns its
sub-CLI in `lm/cli_<family>.py`, imported only when that family is asked for (the rlhf CLI caps BLAS
threads before numpy is first imported)."""
import importlib
import importlib.metadata
import sys

FAMILIES = ("ngram", "gpt", "bert", "t5", "rlhf")
DISTRIBUTION = "fasttok"  # lm ships inside the fasttok distribution (one pyproject.toml)
USAGE = f"usage: lm [--version] {{{','.join(FAMILIES)}}} ...   (or: python -m lm ...)"


def version() -> str:
    """The version of the installed distribution; from a source tree that is not installed, the
    package's own `fasttok.__version__`."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return importlib.import_module(DISTRIBUTION).__version__


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--version"]:
        print(f"lm {version()} (the {DISTRIBUTION} distribution)")
        return 0
    if argv[:1] in (["-h"], ["--help"]):
        print(USAGE)
        print(f"each family has its own --help, e.g. lm {FAMILIES[0]} --help")
        return 0
    if not argv or argv[0] not in FAMILIES:
        print(USAGE, file=sys.stderr)
        return 2
    try:
        module = importlib.import_module(f"lm.cli_{argv[0]}")
    except ModuleNotFoundError as exc:
        if exc.name != f"lm.cli_{argv[0]}":  # a dependency of it is missing, not the command itself
            print(f"lm: cannot start `lm {argv[0]}`: {exc}", file=sys.stderr)
        else:
            print(f"lm: the {argv[0]!r} command is not available in this build", file=sys.stderr)
        return 2
    except ImportError as exc:  # e.g. fasttok's compiled core is not built: one line, not a traceback
        print(f"lm: cannot start `lm {argv[0]}`: {exc}", file=sys.stderr)
        return 2
    return module.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
