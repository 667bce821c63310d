"""Ready to publish: one version (livepipe/__init__.py), full metadata, plugin pins that admit this livepipe.

Building and installing the wheels is done by ``.ci/check-dist`` (run by ``.ci/run``): it needs a fresh
venv and a minute, so it is not a unit test; this file checks what that script relies on.
"""

from __future__ import annotations

import importlib.metadata as md
import re
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import livepipe

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {
    "livepipe": (ROOT, "livepipe"),
    "livepipe-automod": (ROOT / "plugins" / "livepipe-automod", "livepipe_automod"),
    "livepipe-roomctl": (ROOT / "plugins" / "livepipe-roomctl", "livepipe_roomctl"),
    "livepipe-assistant": (ROOT / "plugins" / "livepipe-assistant", "livepipe_assistant"),
}


def _project(root: Path) -> dict:
    return tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))


def _source_version(root: Path, module: str) -> str:
    text = (root / module / "__init__.py").read_text(encoding="utf-8")
    (version,) = re.findall(r'(?m)^__version__ = "([^"]+)"$', text)
    return version


@pytest.mark.parametrize("dist", sorted(PACKAGES))
def test_the_version_is_written_once_in_the_package(dist):
    root, module = PACKAGES[dist]
    doc = _project(root)
    assert "version" not in doc["project"], f"{dist}: pyproject.toml repeats the version; keep it in __init__.py"
    assert "version" in doc["project"]["dynamic"]
    assert doc["tool"]["setuptools"]["dynamic"]["version"] == {"attr": f"{module}.__version__"}
    assert md.version(dist) == _source_version(root, module), f"{dist}: reinstall (pip install -e) after a bump"


@pytest.mark.parametrize("dist", sorted(PACKAGES))
def test_metadata_is_complete_for_an_index(dist):
    root, _ = PACKAGES[dist]
    project = _project(root)["project"]
    assert project["license"] == "MIT" and (root / "LICENSE").is_file()
    assert project["license-files"] == ["LICENSE"]
    assert project["authors"] and project["keywords"] and project["readme"] == "README.md"
    assert (root / "README.md").is_file()
    assert set(project["urls"]) >= {"Homepage", "Source", "Issues", "Documentation"}
    classifiers = project["classifiers"]
    assert "Programming Language :: Python :: 3 :: Only" in classifiers
    # every Python the classifiers name is allowed by requires-python, and the oldest allowed is named
    low = project["requires-python"].removeprefix(">=")
    named = [c.rsplit(" ", 1)[-1] for c in classifiers if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)]
    assert low in named and all(tuple(map(int, v.split("."))) >= tuple(map(int, low.split("."))) for v in named)
    # the build backend is new enough for the SPDX license string (PEP 639)
    assert _project(root)["build-system"]["requires"] == ["setuptools>=77"]


@pytest.mark.parametrize("dist", ["livepipe-automod", "livepipe-roomctl", "livepipe-assistant"])
def test_plugin_pins_admit_this_livepipe(dist):
    root, _ = PACKAGES[dist]
    reqs = [Requirement(r) for r in _project(root)["project"]["dependencies"]]
    (pin,) = [r for r in reqs if r.name == "livepipe"]
    here = livepipe.__version__
    assert pin.specifier.contains(here), f"{dist} requires {pin}, this checkout is {here}"


def test_ci_builds_and_installs_the_wheels():
    run = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert ".ci/check-dist" in run
    check = (ROOT / ".ci" / "check-dist").read_text(encoding="utf-8")
    for pkg in (".", "plugins/livepipe-automod", "plugins/livepipe-roomctl", "plugins/livepipe-assistant"):
        assert pkg in check
    assert "-m build" in check and 'venv/bin/pip" install' in check and '"plugins", "--json"' in check
    assert "build" in [Requirement(r).name for r in _project(ROOT)["project"]["optional-dependencies"]["test"]]


def test_the_overlay_page_is_package_data():
    """Every file of the overlay page matches a package-data glob, so the wheel carries it (.ci/check-dist
    checks the installed wheel serves them)."""
    import fnmatch

    globs = _project(ROOT)["tool"]["setuptools"]["package-data"]["livepipe"]
    files = [p.relative_to(ROOT / "livepipe").as_posix()
             for p in (ROOT / "livepipe" / "components" / "overlay_static").iterdir()]
    assert {"components/overlay_static/index.html", "components/overlay_static/overlay.js"} <= set(files)
    for f in files:
        assert any(fnmatch.fnmatch(f, g) for g in globs), f"livepipe/{f} is not in [tool.setuptools.package-data]"
    assert "static_files()" in (ROOT / ".ci" / "check-dist").read_text(encoding="utf-8")


@pytest.mark.parametrize("dist", sorted(PACKAGES))
def test_the_long_description_has_no_links_that_break_on_an_index(dist):
    """The README is the package's page on an index, where links relative to the repository lead nowhere."""
    root, _ = PACKAGES[dist]
    text = (root / "README.md").read_text(encoding="utf-8")
    relative = re.findall(r"\]\((?!https?://|#)([^)]+)\)", text)
    assert not relative, f"{dist}: README links relative to the repository: {relative}"
