"""Declares the compiled core of fasttok; everything else lives in pyproject.toml."""
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup

# Every fasttok/_*.pyx is one extension module, so adding a kernel never touches this file.
extensions = [
    Extension(
        f"fasttok.{path.stem}",
        [str(path)],
        language="c++",
        extra_compile_args=["-O3", "-std=c++17"],
    )
    for path in sorted(Path("fasttok").glob("_*.pyx"))
]

setup(ext_modules=cythonize(extensions, language_level=3))
