"""The optional C extension of the danmaku decoder (everything else is in pyproject.toml).

``livepipe.bilibili._cdecode`` is compiled when a C compiler and the Python headers are there
(``pip install -e .``, ``python -m build``). If it cannot be built, the install goes on without it,
with a warning, and livepipe uses the pure-Python decoder (the same events; see docs/install.md).
"""

from __future__ import annotations

import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    """``build_ext`` that warns instead of failing when the extension cannot be compiled."""

    def run(self) -> None:
        """Build, or warn and go on without the extension."""
        try:
            super().run()
        except Exception as e:  # noqa: BLE001 - no compiler, no headers, ...: the pure-Python path stays
            self._warn(e)

    def build_extension(self, ext: Extension) -> None:
        """Build one extension, or warn and go on without it."""
        try:
            super().build_extension(ext)
        except Exception as e:  # noqa: BLE001
            self._warn(e)

    @staticmethod
    def _warn(e: Exception) -> None:
        print(
            f"WARNING: livepipe's C decoder (livepipe.bilibili._cdecode) could not be compiled ({e}); "
            "livepipe works without it, with the slower pure-Python decoder "
            "(`livepipe --version` shows which decoder is active).",
            file=sys.stderr,
        )


setup(
    ext_modules=[
        Extension("livepipe.bilibili._cdecode", ["livepipe/bilibili/_cdecode.c"]),
    ],
    cmdclass={"build_ext": OptionalBuildExt},
)
