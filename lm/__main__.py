"""`python -m lm ...` and the `lm` console script: cap BLAS threads for `lm rlhf`, then run `lm.cli.main`.

The cap only works if it is set before numpy is first imported, and `lm.cli` imports numpy (through
`lm.nn`, `lm.data`, ...). So this module imports nothing of the project at its top: `main` sets the cap
first, then imports `lm.cli` through the one `importlib.import_module` call below. That is also why
pyproject.toml's console script is `lm.__main__:main`, not `lm.cli:main` (which works too, uncapped).
"""
import importlib
import os
import sys

BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
EXIT_ERROR = 1  # lm.cli.EXIT_ERROR, which cannot be imported here when lm.cli itself fails to import


def cap_blas_threads():
    """One BLAS thread unless the user chose otherwise, for the RLHF demo: its matrices are tiny (width 64),
    and on a busy 2-core machine OpenBLAS's worker threads made a 128x64 @ 64x192 product 100x slower, not
    faster. Without effect once numpy is imported (e.g. when `lm.__main__.main` is called from a test)."""
    if "numpy" not in sys.modules:
        for var in BLAS_THREAD_VARIABLES:
            os.environ.setdefault(var, "1")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["rlhf"]:
        cap_blas_threads()
    try:
        # imported here, after the cap above, not at the top: see the module docstring
        cli = importlib.import_module("lm.cli")
    except ImportError as exc:  # e.g. a dependency is missing: one line, not a traceback
        command = f"lm {argv[0]}" if argv and not argv[0].startswith("-") else "lm"
        print(f"lm: cannot start `{command}`: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main())
