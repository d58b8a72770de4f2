"""One way to run a hostile case: a fresh Python child under an address-space limit (RLIMIT_AS) and a
time limit, so that a regression fails its test instead of exhausting the machine or stalling the
suite. Used by the hostile-input tests of both packages.

    result = run_code('''
        import fasttok
        print(fasttok.load(path).vocab_size)
        ''', memory_mb=400, timeout=30)
    assert result.returncode == 0, result.stderr
"""
import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MEMORY_MB = 2048  # address space of a child: numpy + fasttok/lm need ~0.5 GiB; a forged allocation far more


def limit_memory(memory_mb=MEMORY_MB):
    """A preexec_fn that caps the child's address space at memory_mb MiB."""
    def limit():
        n_bytes = memory_mb << 20
        resource.setrlimit(resource.RLIMIT_AS, (n_bytes, n_bytes))
    return limit


def child_env(**extra) -> dict:
    """This environment, with one BLAS thread and the clone importable from the child."""
    return {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])), **extra}


def run_python(argv, *, memory_mb=MEMORY_MB, timeout=60, env=None, **popen) -> subprocess.CompletedProcess:
    """`python *argv` from the repository root, its output captured as text, under the two limits."""
    popen.setdefault("cwd", REPO)
    return subprocess.run([sys.executable, *map(str, argv)], env=child_env(**(env or {})), capture_output=True,
                          text=True, timeout=timeout, preexec_fn=limit_memory(memory_mb), **popen)


def run_code(code, *args, **kwargs) -> subprocess.CompletedProcess:
    """`python -c code *args` (code dedented) under the limits of run_python."""
    return run_python(["-c", textwrap.dedent(code), *args], **kwargs)
