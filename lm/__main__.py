"""`python -m lm <family> <command> ...`: each model family owns its sub-CLI in `lm/cli_<family>.py`."""
import importlib
import sys

FAMILIES = ("ngram", "gpt", "bert", "t5", "rlhf")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] not in FAMILIES:
        print(f"usage: python -m lm {{{','.join(FAMILIES)}}} ...", file=sys.stderr)
        return 2
    try:
        module = importlib.import_module(f"lm.cli_{argv[0]}")
    except ModuleNotFoundError:
        print(f"lm: the {argv[0]!r} command is not available in this build", file=sys.stderr)
        return 2
    return module.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
