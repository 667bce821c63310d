"""One exception tree: every exception class livepipe and its bundled plugins define derives from
LivepipeError, and livepipe/errors.py's drawing of the tree names every one of them."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import livepipe_assistant
import livepipe_automod
import livepipe_roomctl
import pytest

import livepipe
from livepipe import errors
from livepipe.errors import LivepipeError

PRIVATE_OK = {"_Pause"}  # internal control flow, never seen outside its module


def _exception_classes() -> list[type[BaseException]]:
    found = []
    for package in (livepipe, livepipe_automod, livepipe_roomctl, livepipe_assistant):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if info.name.endswith(".__main__"):
                continue  # runs the CLI when imported
            module = importlib.import_module(info.name)
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if cls.__module__ == module.__name__ and issubclass(cls, BaseException):
                    found.append(cls)
    return found


CLASSES = _exception_classes()


def test_the_walk_finds_the_known_classes():
    names = {c.__name__ for c in CLASSES}
    assert {"ConfigError", "ApiError", "ProtocolError", "ConnectionEnded", "RuleError"} <= names


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: f"{c.__module__}.{c.__name__}")
def test_every_exception_derives_from_livepipe_error(cls):
    if cls.__name__ in PRIVATE_OK or (cls.__name__.startswith("_") and cls.__module__.startswith("livepipe")):
        return
    assert issubclass(cls, LivepipeError), f"{cls.__module__}.{cls.__name__} must derive from a livepipe.errors class"


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: f"{c.__module__}.{c.__name__}")
def test_the_tree_in_the_docstring_names_every_class(cls):
    if cls.__name__.startswith("_"):
        return
    assert cls.__name__ in errors.__doc__, f"add {cls.__name__} to the tree in livepipe/errors.py"


def test_old_bases_are_kept_for_existing_except_clauses():
    from livepipe.bilibili.credential import CredentialError
    from livepipe.bilibili.protocol import ProtocolError
    from livepipe.components.file import FileSinkError

    assert issubclass(ProtocolError, ValueError)
    assert issubclass(CredentialError, ValueError)
    assert issubclass(FileSinkError, OSError)
