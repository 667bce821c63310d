"""``pip install ./plugins/livepipe-automod`` makes ``automod`` appear in ``livepipe plugins``.

The package is installed with pip (without its dependencies, which the test environment has) into a
private directory put first on PYTHONPATH, so the listed plugin is the freshly installed one, not a
development install of this checkout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(target), str(PACKAGE)], check=True, capture_output=True, timeout=300)
    return target


def run(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("LIVEPIPE_LOAD_PLUGINS", None)
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=120,
                          cwd=site.parent)


def test_installed_package_is_listed_by_livepipe_plugins(site):
    r = run(site, "-m", "livepipe", "plugins", "--json")
    assert r.returncode == 0, r.stderr
    report = {p["name"]: p for p in json.loads(r.stdout)}
    automod = report["automod"]
    assert automod["error"] is None and automod["builtin"] is False
    (component,) = automod["components"]
    assert component["type"] == "automod" and component["role"] == "processor"
    keys = {c["name"] for c in component["config"]}
    assert {"rules", "rules_file", "dry_run", "admins", "exempt_guards"} <= keys


def test_the_listed_plugin_comes_from_the_pip_install(site):
    r = run(site, "-c", "import importlib.metadata as m, livepipe_automod as a; "
            "print(a.__file__); print(m.distribution('livepipe-automod').locate_file(''))")
    assert r.returncode == 0, r.stderr
    module, dist = r.stdout.splitlines()
    assert module.startswith(str(site)) and dist.startswith(str(site))
