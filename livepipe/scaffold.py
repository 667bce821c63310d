"""``livepipe plugin new NAME``: generate a plugin package that installs and passes its tests at once."""

from __future__ import annotations

import re
from pathlib import Path

from livepipe import __version__

_NAME = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*\Z")


def names(name: str) -> tuple[str, str, str]:
    """``name`` -> (distribution ``livepipe-name``, module ``livepipe_name``, type prefix ``name``)."""
    raw = name.strip().lower()
    if raw.startswith("livepipe-") or raw.startswith("livepipe_"):
        raw = raw[len("livepipe-"):]
    if not _NAME.match(raw):
        raise ValueError(f"plugin name {name!r}: use lower-case letters, digits and dashes, e.g. 'word-count'")
    dist = f"livepipe-{raw.replace('_', '-')}"
    module = dist.replace("-", "_")
    prefix = raw.replace("-", "_")
    return dist, module, prefix


def files(name: str) -> dict[str, str]:
    """Relative path -> content of every file of the new package."""
    dist, module, prefix = names(name)
    type_name = f"{prefix}.tag"
    cls = "".join(p.capitalize() for p in prefix.split("_")) + "Tag"
    return {
        "pyproject.toml": f'''[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "0.1.0"
description = "A livepipe plugin: {prefix}"
readme = "README.md"
requires-python = ">=3.10"
dependencies = ["livepipe>={__version__}"]

[project.optional-dependencies]
test = ["pytest>=8"]

# livepipe finds the plugin through this entry point
[project.entry-points.livepipe]
{prefix} = "{module}"

[tool.setuptools.packages.find]
include = ["{module}*"]

[tool.pytest.ini_options]
testpaths = ["tests"]
''',
        f"{module}/__init__.py": f'''"""{dist}: a livepipe plugin.

Registers its component types with livepipe through the ``livepipe_register_components`` hook.
"""

from livepipe import hookimpl

from {module}.processor import {cls}


@hookimpl
def livepipe_register_components(registry):
    """Register this plugin's component types."""
    registry.register({cls})
''',
        f"{module}/processor.py": f'''"""The ``{type_name}`` processor: tags events whose text contains a word."""

from __future__ import annotations

from livepipe.component import Emit, Processor
from livepipe.events import Event
from livepipe.schema import ProcessorConfig, field


class {cls}Config(ProcessorConfig):
    """Config of ``{type_name}``: every key needs a description (it feeds the docs and `livepipe plugins`)."""

    words: list[str] = field(description="words to look for (case-insensitive)")
    tag: str = field("tagged", description="value written to data.tag on matching events")


class {cls}(Processor):
    """Tags events whose text contains one of ``words``; matching events also go to the ``matched`` output."""

    type_name = "{type_name}"
    Config = {cls}Config
    outputs = ("matched",)

    def __init__(self, config: {cls}Config, context) -> None:
        super().__init__(config, context)
        self._words = [w.casefold() for w in config.words]
        self._hits = self.metrics.counter("{prefix}_tagged_events_total", "events tagged")

    async def process(self, event: Event, emit: Emit) -> None:
        """Pass every event on; tag (and copy to ``matched``) the ones that contain a word."""
        text = (event.text or "").casefold()
        if any(w in text for w in self._words):
            event = event.replace(data={{**event.data, "tag": self.config.tag}})
            self._hits.inc()
            await emit(event, "matched")
        await emit(event)
''',
        "tests/test_processor.py": f'''"""Tests of {type_name}, run in-process with livepipe.testing."""

from livepipe.testing import captured, run_pipeline_sync

PIPELINE = """
[sources.chat]
type = "testing.events"
events = [
  {{ kind = "danmaku", uid = 1, text = "Hello there" }},
  {{ kind = "danmaku", uid = 2, text = "nothing to see" }},
]

[processors.tagger]
type = "{type_name}"
inputs = ["chat"]
words = ["hello"]

[sinks.all]
type = "testing.capture"
inputs = ["tagger"]

[sinks.matched]
type = "testing.capture"
inputs = ["tagger.matched"]
"""


def test_tags_matching_events(tmp_path):
    run_pipeline_sync(PIPELINE, tmp_path)
    assert [e.data.get("tag") for e in captured["all"]] == ["tagged", None]
    assert [e.uid for e in captured["matched"]] == [1]


def test_listed_by_livepipe():
    from livepipe import plugins

    assert plugins.registry().get("{type_name}") is not None
''',
        "README.md": f'''# {dist}

A [livepipe](https://github.com/) plugin providing the `{type_name}` processor.

```bash
pip install -e '.[test]'
livepipe plugins          # lists {prefix} and its component types
pytest                    # runs the tests in tests/
```

```toml
[processors.tagger]
type = "{type_name}"
inputs = ["room"]
words = ["hello"]
```

Outputs: the default output (every event, matching ones tagged) and `tagger.matched`.
''',
        ".gitignore": "__pycache__/\n*.egg-info/\nbuild/\ndist/\n.venv/\n",
    }


def create(name: str, directory: Path) -> Path:
    """Write the package into ``directory/<dist>``; refuses to overwrite an existing folder."""
    dist, _, _ = names(name)
    root = directory / dist
    if root.exists():
        raise FileExistsError(f"{root} already exists; choose another name or remove it")
    for rel, text in files(name).items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return root
