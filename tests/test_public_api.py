"""The declared public API (docs/plugins/api.md): every name exists, is documented, and is on the page."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from livepipe import docgen

PAGE = Path(__file__).resolve().parent.parent / docgen.API_MD
NAMES = [(m, n) for m in docgen.PUBLIC_MODULES for n in importlib.import_module(m).__all__]


def test_every_public_module_declares_all():
    for modname in docgen.PUBLIC_MODULES:
        module = importlib.import_module(modname)
        assert module.__all__, f"{modname} declares no public names"
        assert module.__doc__, f"{modname} has no docstring"


@pytest.mark.parametrize(("modname", "name"), NAMES, ids=[f"{m}.{n}" for m, n in NAMES])
def test_public_name_exists_and_is_documented(modname, name):
    module = importlib.import_module(modname)
    assert hasattr(module, name), f"{modname}.__all__ lists {name!r}, which does not exist"
    assert docgen.name_doc(module, name).strip(), (
        f"{modname}.{name} is public but undocumented: give it a docstring (or a '#:' comment above it)"
    )


@pytest.mark.parametrize(("modname", "name"), NAMES, ids=[f"{m}.{n}" for m, n in NAMES])
def test_public_name_is_on_the_page(modname, name):
    text = PAGE.read_text(encoding="utf-8")
    section = text.split(f"## `{modname}`\n", 1)[1].split("\n## ", 1)[0]
    assert f"| `{name}` |" in section


def test_name_doc_reads_comments_above_constants():
    from livepipe import events

    assert "Version of the JSON form" in docgen.name_doc(events, "SCHEMA_VERSION")


#: Names that moved into a submodule when a module became a package (docs/changelog.md, issue 19): each
#: stays importable from its old path, as the same object as in its new home.
MOVED = {
    "livepipe.config": {
        "livepipe.config.parse": ["parse_config", "load_config", "SECTIONS", "TOP_LEVEL"],
        "livepipe.config.model": ["PipelineConfig", "ComponentSpec", "CredentialSpec", "ConfigText"],
        "livepipe.config.settings": ["GlobalConfig", "MetricsSettings", "SimulatorSettings"],
        "livepipe.config.issues": ["ConfigIssue", "ConfigError"],
        "livepipe.config.files": ["MAX_CONFIG_DEPTH", "tomllib"],
        "livepipe.config.locator": ["Locator"],
        "livepipe.config.merge": ["merge_tables"],
    },
    "livepipe.bilibili.commands": {"livepipe.bilibili.commands.common": ["MessageError", "body_id", "Handler"]},
    "livepipe.sim.messages": {
        "livepipe.sim.messages.chat": ["danmaku", "dm_interaction", "DanmakuTemplates"],
        "livepipe.sim.messages.mask": ["MASKED_CMDS", "mask", "needs_mask"],
    },
}


@pytest.mark.parametrize("old", sorted(MOVED))
def test_moved_names_keep_their_old_import_path(old):
    package = importlib.import_module(old)
    for new, names in MOVED[old].items():
        home = importlib.import_module(new)
        for name in names:
            assert getattr(package, name) is getattr(home, name), f"{old}.{name} is not {new}.{name}"


def test_the_changelog_lists_every_public_config_name():
    import livepipe.config

    text = (PAGE.parent.parent / "changelog.md").read_text(encoding="utf-8")
    section = text.split("**`livepipe.config`** is a package", 1)[1].split("\n- **", 1)[0]
    missing = [n for n in livepipe.config.__all__ if f"`{n}`" not in section]
    assert not missing, f"docs/changelog.md does not say where these moved: {missing}"
