"""Bundles libq4repack.so into the package at build time (the metadata is in pyproject.toml).

The library is taken from $Q4REPACK_LIBRARY, else from the source tree's build/release (what
scripts/main.sh builds). Without either the package is built without it and finds the library at
import time instead (docs/PYTHON.md, "Finding the library").
"""

import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
SONAME = "libq4repack.so.0"


def library_to_bundle():
    explicit = os.environ.get("Q4REPACK_LIBRARY")
    if explicit:
        if not os.path.isfile(explicit):
            raise SystemExit("Q4REPACK_LIBRARY=%s is not a file" % explicit)
        return explicit
    built = os.path.join(HERE, "..", "build", "release", SONAME)
    return built if os.path.isfile(built) else None


class BuildPyWithLibrary(build_py):
    def run(self):
        super().run()
        lib = library_to_bundle()
        if lib is None:
            print("q4repack: no library to bundle (build it first, or set Q4REPACK_LIBRARY); "
                  "the package will look for it at import time")
            return
        target = os.path.join(self.build_lib, "q4repack", SONAME)
        print("q4repack: bundling %s" % os.path.realpath(lib))
        shutil.copyfile(os.path.realpath(lib), target)


class PlatformDistribution(Distribution):
    """A bundled shared library makes the wheel platform-specific."""

    def has_ext_modules(self):
        return library_to_bundle() is not None


setup(cmdclass={"build_py": BuildPyWithLibrary}, distclass=PlatformDistribution)
