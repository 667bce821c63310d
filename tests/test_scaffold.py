"""`livepipe plugin new`: the generated package installs with pip, passes its tests, is listed."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def test_generated_plugin_installs_passes_its_tests_and_is_listed(tmp_path):
    r = subprocess.run([sys.executable, "-m", "livepipe", "plugin", "new", "word-count", "--dir", str(tmp_path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    pkg = tmp_path / "livepipe-word-count"
    assert (pkg / "pyproject.toml").exists() and (pkg / "tests" / "test_processor.py").exists()
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(pkg)],
                   check=True, capture_output=True, timeout=300)
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("LIVEPIPE_LOAD_PLUGINS", None)
    t = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(pkg / "tests")],
                       cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert t.returncode == 0, t.stdout + t.stderr
    assert "2 passed" in t.stdout
    p = subprocess.run([sys.executable, "-m", "livepipe", "plugins", "--json"], capture_output=True, text=True,
                       env=env, timeout=60)
    report = {x["name"]: x for x in json.loads(p.stdout)}
    assert report["word_count"]["version"] == "0.1.0"
    assert [c["type"] for c in report["word_count"]["components"]] == ["word_count.tag"]


def test_bad_name_and_existing_folder_are_refused(tmp_path):
    r = subprocess.run([sys.executable, "-m", "livepipe", "plugin", "new", "Bad Name!", "--dir", str(tmp_path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "use lower-case letters" in r.stderr
    (tmp_path / "livepipe-dup").mkdir()
    r = subprocess.run([sys.executable, "-m", "livepipe", "plugin", "new", "dup", "--dir", str(tmp_path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "already exists" in r.stderr
