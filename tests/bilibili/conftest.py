import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "bilibili"
ROOM = 30000003


def load_fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text("utf-8"))


@pytest.fixture
def fixture():
    return load_fixture


def compiled_module():
    """``livepipe.bilibili._cdecode``, or a skip when it is not built (a failure under ``LIVEPIPE_CI=1``)."""
    import importlib
    import os

    try:
        return importlib.import_module("livepipe.bilibili._cdecode")
    except ImportError as e:
        if os.environ.get("LIVEPIPE_CI") == "1":
            pytest.fail(f"the compiled decoder is not built ({e}); CI builds it (pip install -e .)")
        pytest.skip(f"the compiled decoder is not built: {e}")


@pytest.fixture(params=["compiled", "pure"])
def decoder_impl(request, monkeypatch):
    """Run a test with ``decode_events`` on the compiled decoder, then on the pure-Python one.

    With ``LIVEPIPE_PURE_PYTHON=1`` (the second test run of ``.ci/run``) only the pure one runs.
    """
    import os

    import livepipe.bilibili as bili

    if request.param == "compiled":
        if os.environ.get("LIVEPIPE_PURE_PYTHON") == "1":
            pytest.skip("LIVEPIPE_PURE_PYTHON=1: the pure-Python decoder only")
        module = compiled_module()
        _setup(module)
        monkeypatch.setattr(bili, "_decode_events", module.decode_events)
    else:
        monkeypatch.setattr(bili, "_decode_events", bili._decode_events_pure)
    return request.param


def _setup(module) -> None:
    """Hand the compiled module its Python objects (``livepipe.bilibili`` does it on import when it is active)."""
    import livepipe.bilibili as bili
    from livepipe.bilibili import fast, protocol
    from livepipe.events import Event, LazyRaw

    module.setup(
        event=Event, lazy_raw=LazyRaw, decode_emots=fast.decode_emots, decode_emoticon=fast.decode_emoticon,
        json_loads=bili._loads, protocol_error=protocol.ProtocolError, decompress=protocol._decompress,
        popularity_event=bili.popularity_event, slow=bili._decode_body,
    )  # fmt: skip
