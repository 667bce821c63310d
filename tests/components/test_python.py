"""The ``python`` processor and sink: sync and async functions, what they may return, reloading when the
file changes (and keeping the old function when the new file is broken), errors to the dead-letter output
with the traceback, rate-limited logs, and the checks ``validate`` makes."""

from __future__ import annotations

import itertools
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import anyio
import pytest

from livepipe.component import Emit, Source
from livepipe.config import ConfigError
from livepipe.events import make_event
from livepipe.schema import SourceConfig, field
from livepipe.testing import captured, load_toml, register, run_pipeline, running_pipeline, wait_until

pytestmark = pytest.mark.anyio

_names = itertools.count()


class Ticker(Source):
    """Emits danmaku ``n=0,1,2,...`` every ``every`` seconds until stopped (a stand-in for a live room)."""

    type_name = "t.ticker"

    class Config(SourceConfig):
        every: float = field(0.005, description="seconds between events")

    async def run(self, emit: Emit) -> None:
        for n in itertools.count():
            await emit(make_event("danmaku", uid=n, text=f"m{n}", data={"n": n}))
            await anyio.sleep(self.config.every)


register(Ticker, plugin="test_python")


def _write(path: Path, code: str) -> None:
    path.write_text(textwrap.dedent(code), encoding="utf-8")


EVENTS = '''
[sources.src]
type = "testing.events"
events = [
  { kind = "danmaku", uid = 1, text = "hello", data = { n = 1 } },
  { kind = "gift", uid = 2, data = { gift_name = "flower", num = 3, price = 100 } },
  { kind = "danmaku", uid = 3, text = "bye", data = { n = 3 } },
]
'''

HANDLERS = '''
import anyio
from livepipe import make_event

def upper(ev):
    if ev.kind == "danmaku":
        return ev.replace(text=ev.danmaku.text.upper())

async def upper_async(ev):
    await anyio.sleep(0)
    if ev.kind == "danmaku":
        return ev.replace(text=ev.danmaku.text.upper())

def twice_list(ev):
    return [ev, ev.replace(id=ev.id + "-2")]

def twice_generator(ev):
    yield ev
    yield ev.replace(id=ev.id + "-2")

async def twice_async_generator(ev):
    yield ev
    yield ev.replace(id=ev.id + "-2")

def gifts_as_text(ev):
    if ev.kind == "gift":
        g = ev.gift
        return make_event("note", text=f"{ev.uid} gave {g.num} x {g.name} ({g.price})")

def returns_a_string(ev):
    return "not an event"

def returns_a_list_with_junk(ev):
    return [ev, 42]
'''


def _pipeline(function: str, extra: str = "", module: str = "handlers.py") -> str:
    return EVENTS + f'''
[processors.py]
type = "python"
inputs = ["src"]
module = "{module}"
function = "{function}"
{extra}
[sinks.out]
type = "testing.capture"
inputs = ["py"]
'''


@pytest.mark.parametrize("function", ["upper", "upper_async"])
async def test_sync_and_async_functions_transform_events(tmp_path, function):
    _write(tmp_path / "handlers.py", HANDLERS)
    p = await run_pipeline(_pipeline(function), tmp_path)
    assert [e.text for e in captured["out"]] == ["HELLO", "BYE"]
    assert p.metrics.value("component_discarded_events_total", component_id="py", intentional="true") == 1


@pytest.mark.parametrize("function", ["twice_list", "twice_generator", "twice_async_generator"])
async def test_a_function_may_return_several_events(tmp_path, function):
    _write(tmp_path / "handlers.py", HANDLERS)
    await run_pipeline(_pipeline(function), tmp_path)
    ids = [e.id for e in captured["out"]]
    assert len(ids) == 6 and ids[1] == ids[0] + "-2" and ids[5] == ids[4] + "-2"


async def test_a_function_may_make_new_events(tmp_path):
    _write(tmp_path / "handlers.py", HANDLERS)
    await run_pipeline(_pipeline("gifts_as_text"), tmp_path)
    assert [(e.kind, e.text) for e in captured["out"]] == [("note", "2 gave 3 x flower (100)")]


@pytest.mark.parametrize("function,message", [
    ("returns_a_string", "returns_a_string returned a str; return an Event, a list of Events, or None"),
    ("returns_a_list_with_junk", "returns_a_list_with_junk returned a int among its events"),
])
async def test_returning_something_else_is_an_error_per_event(tmp_path, function, message):
    _write(tmp_path / "handlers.py", HANDLERS)
    toml = _pipeline(function, 'on_error = "dead_letter"') + '[sinks.dlq]\ntype = "testing.capture"\n' \
                                                              'inputs = ["py.dead_letter"]\n'
    await run_pipeline(toml, tmp_path)
    assert captured["out"] == []
    assert [d.dead_letter.error_type for d in captured["dlq"]] == ["TypeError"] * 3
    assert message in captured["dlq"][0].dead_letter.error


async def test_errors_go_to_the_dead_letter_output_with_the_traceback(tmp_path):
    _write(tmp_path / "handlers.py", '''
        def lookup(ev):
            table = {"hello": 1}
            return ev.replace(data={"n": table[ev.text]})
    ''')
    toml = _pipeline("lookup", 'on_error = "dead_letter"') + '[sinks.dlq]\ntype = "testing.capture"\n' \
                                                             'inputs = ["py.dead_letter"]\n'
    p = await run_pipeline(toml, tmp_path)
    assert [e.data for e in captured["out"]] == [{"n": 1}]
    dls = [e.dead_letter for e in captured["dlq"]]
    assert [(d.component, d.component_type, d.error_type) for d in dls] == [("py", "python", "KeyError")] * 2
    assert [d.event["text"] for d in dls] == [None, "bye"]
    tb = dls[1].traceback
    assert tb.startswith("Traceback (most recent call last):")
    assert f'File "{tmp_path / "handlers.py"}", line 4, in lookup' in tb
    assert "return ev.replace(data={\"n\": table[ev.text]})" in tb
    assert tb.rstrip().endswith("KeyError: 'bye'")
    assert p.metrics.value("component_errors_total", component_id="py", error_type="KeyError") == 2


async def test_repeated_errors_are_rate_limited_in_the_log(tmp_path, caplog):
    _write(tmp_path / "handlers.py", '''
        def broken(ev):
            return 1 / 0
    ''')
    toml = '''
[sources.src]
type = "testing.events"
events = [{ kind = "danmaku", text = "x" }]
repeat = 500
[processors.py]
type = "python"
inputs = ["src"]
module = "handlers.py"
function = "broken"
[sinks.out]
type = "testing.capture"
inputs = ["py"]
'''
    with caplog.at_level(logging.INFO, logger="livepipe"):
        p = await run_pipeline(toml, tmp_path)
    assert p.metrics.value("component_errors_total", component_id="py", error_type="ZeroDivisionError") == 500
    records = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("livepipe")]
    # the handler's traceback once, the runtime's "dropped" once: not 1000 lines
    assert len(records) == 2, [r.getMessage() for r in records]
    tb = next(r for r in records if r.exc_info)
    assert "broken raised ZeroDivisionError" in tb.getMessage()


async def test_a_sink_function_gets_every_event(tmp_path):
    _write(tmp_path / "handlers.py", '''
        from livepipe.testing import captured

        async def deliver(ev):
            captured["delivered"].append(ev.text)
    ''')
    toml = EVENTS + '''
[sinks.py]
type = "python"
inputs = ["src"]
module = "handlers.py"
function = "deliver"
'''
    await run_pipeline(toml, tmp_path)
    assert captured["delivered"] == ["hello", None, "bye"]


async def test_an_importable_module_by_dotted_name(tmp_path):
    pkg = f"lp_pkg_{next(_names)}"
    (tmp_path / pkg).mkdir()
    (tmp_path / pkg / "__init__.py").write_text("", encoding="utf-8")
    _write(tmp_path / pkg / "hooks.py", HANDLERS)
    await run_pipeline(_pipeline("upper", module=f"{pkg}.hooks"), tmp_path)
    assert [e.text for e in captured["out"]] == ["HELLO", "BYE"]


# ---- reloading ------------------------------------------------------------------------------------


def _ticker_pipeline(module: str = "handlers.py") -> str:
    return f'''
[sources.src]
type = "t.ticker"
[processors.py]
type = "python"
inputs = ["src"]
module = "{module}"
function = "tag"
reload_interval = 0.05
[sinks.out]
type = "testing.capture"
inputs = ["py"]
'''


def _tags() -> list[str]:
    return [e.text for e in captured["out"]]


@pytest.mark.parametrize("dotted", [False, True], ids=["file", "dotted-module"])
async def test_the_module_is_reloaded_when_the_file_changes(tmp_path, caplog, dotted):
    if dotted:
        pkg = f"lp_reload_{next(_names)}"
        (tmp_path / pkg).mkdir()
        (tmp_path / pkg / "__init__.py").write_text("", encoding="utf-8")
        path, module = tmp_path / pkg / "hooks.py", f"{pkg}.hooks"
    else:
        path, module = tmp_path / "handlers.py", "handlers.py"
    _write(path, '''
        def tag(ev):
            return ev.replace(text="v1")
    ''')
    with caplog.at_level(logging.INFO, logger="livepipe"):
        async with running_pipeline(_ticker_pipeline(module), tmp_path) as p:
            await wait_until(lambda: "v1" in _tags(), what="the first version's output")
            _write(path, '''
                def tag(ev):
                    return ev.replace(text="v2 " + ev.text)
            ''')
            await wait_until(lambda: any(t.startswith("v2 ") for t in _tags()), what="the edited version's output")

            # a broken edit: the old function keeps running; one error, with file and line
            errors_before = len([r for r in caplog.records if r.levelno >= logging.ERROR])
            _write(path, '''
                def tag(ev):
                    return ev.replace(text="v3"
            ''')
            await wait_until(lambda: p.metrics.value("component_errors_total", component_id="py",
                                                     error_type="reload") == 1, what="the failed reload")
            seen = len(_tags())
            await wait_until(lambda: len(_tags()) >= seen + 50, what="50 more events after the failed reload")
            assert all(t.startswith("v2 ") for t in _tags()[seen:])
            errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR][errors_before:]
            assert len(errors) == 1, errors  # checked many times since, reported once
            assert f"{path}:3: reload failed, still running the previous tag: SyntaxError" in errors[0]
            assert p.metrics.value("component_errors_total", component_id="py", error_type="reload") == 1

            # fixed: the new version runs
            _write(path, '''
                def tag(ev):
                    return ev.replace(text="v4")
            ''')
            await wait_until(lambda: "v4" in _tags(), what="the fixed version's output")
            p.request_shutdown()
    order = [t.split()[0] for t in _tags()]
    # versions only ever move forward: no event ran an older function after a newer one
    assert order == sorted(order, key=lambda v: int(v[1:]))
    assert "v3" not in order


async def test_a_reload_that_drops_the_function_keeps_the_old_one(tmp_path, caplog):
    path = tmp_path / "handlers.py"
    _write(path, '''
        def tag(ev):
            return ev.replace(text="v1")
    ''')
    async with running_pipeline(_ticker_pipeline(), tmp_path) as p:
        await wait_until(lambda: "v1" in _tags())
        _write(path, '''
            def renamed(ev):
                return ev.replace(text="v2")
        ''')
        await wait_until(lambda: p.metrics.value("component_errors_total", component_id="py",
                                                 error_type="reload") == 1)
        seen = len(_tags())
        await wait_until(lambda: len(_tags()) >= seen + 20)
        p.request_shutdown()
    assert set(_tags()) == {"v1"}
    assert any("has no function 'tag' (functions it defines: renamed)" in r.getMessage() for r in caplog.records)


async def test_with_reload_off_edits_are_ignored(tmp_path):
    path = tmp_path / "handlers.py"
    _write(path, '''
        def tag(ev):
            return ev.replace(text="v1")
    ''')
    toml = _ticker_pipeline().replace("reload_interval = 0.05", "reload_interval = 0.05\nreload = false")
    async with running_pipeline(toml, tmp_path) as p:
        await wait_until(lambda: "v1" in _tags())
        _write(path, '''
            def tag(ev):
                return ev.replace(text="v2, a longer text")
        ''')
        seen = len(_tags())
        await wait_until(lambda: len(_tags()) >= seen + 100)
        p.request_shutdown()
    assert set(_tags()) == {"v1"}


# ---- validate ---------------------------------------------------------------------------------------


def _problem(tmp_path: Path, toml: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_toml(toml, tmp_path)
    return str(info.value)


def test_validate_reports_a_missing_file(tmp_path):
    msg = _problem(tmp_path, _pipeline("on_event", module="nope.py"))
    assert "processors.py: rejected its configuration: UserCodeError: module 'nope.py': no file " in msg
    assert str(tmp_path / "nope.py") in msg
    assert "pipeline.toml:" in msg


def test_validate_reports_a_syntax_error_with_file_and_line(tmp_path):
    _write(tmp_path / "broken.py", '''
        def on_event(ev):
            return ev.replace(text=
    ''')
    msg = _problem(tmp_path, _pipeline("on_event", module="broken.py"))
    assert f"cannot import 'broken.py': {tmp_path / 'broken.py'}:3: SyntaxError" in msg


def test_validate_reports_every_broken_component_at_once(tmp_path):
    _write(tmp_path / "handlers.py", HANDLERS)
    toml = _pipeline("missing_one") + '''
[sinks.deliver]
type = "python"
inputs = ["src"]
module = "other.py"
'''
    with pytest.raises(ConfigError) as info:
        load_toml(toml, tmp_path)
    issues = [str(i) for i in info.value.issues]
    assert len(issues) == 2, issues
    assert "processors.py: rejected its configuration: UserCodeError: handlers.py has no function 'missing_one'" \
        in issues[0]
    assert "sinks.deliver: rejected its configuration: UserCodeError: module 'other.py': no file" in issues[1]


def test_validate_reports_an_error_raised_on_import_with_its_line(tmp_path):
    _write(tmp_path / "raises.py", '''
        import os

        TOKEN = os.environ["LIVEPIPE_TEST_NOT_SET_ANYWHERE"]
    ''')
    msg = _problem(tmp_path, _pipeline("on_event", module="raises.py"))
    assert f"{tmp_path / 'raises.py'}:4: KeyError" in msg


def test_validate_names_the_missing_function_and_lists_the_ones_there(tmp_path):
    _write(tmp_path / "handlers.py", HANDLERS)
    msg = _problem(tmp_path, _pipeline("on_evnt"))
    assert "handlers.py has no function 'on_evnt' (functions it defines: gifts_as_text, returns_a_list_with_junk," \
        in msg
    assert 'set function = "NAME"' in msg


def test_validate_rejects_a_function_with_the_wrong_signature(tmp_path):
    _write(tmp_path / "handlers.py", '''
        def two(ev, extra):
            return ev
        NOT_A_FUNCTION = 3
    ''')
    assert "two must take one argument (the event), its signature is two(ev, extra)" in _problem(
        tmp_path, _pipeline("two"))
    assert "'NOT_A_FUNCTION' in handlers.py is a int, not a function" in _problem(
        tmp_path, _pipeline("NOT_A_FUNCTION"))


def test_validate_reports_a_module_that_is_not_importable(tmp_path):
    msg = _problem(tmp_path, _pipeline("on_event", module="no_such_pkg_lp.mod"))
    assert "module 'no_such_pkg_lp.mod' is not importable" in msg and 'give a file path such as "handlers.py"' in msg


def test_livepipe_validate_on_the_command_line(tmp_path):
    _write(tmp_path / "handlers.py", HANDLERS)
    (tmp_path / "in.jsonl").write_text("")  # validate checks that the replay file exists
    cfg = tmp_path / "pipeline.toml"
    cfg.write_text('''
[sources.src]
type = "replay"
path = "in.jsonl"
[processors.py]
type = "python"
inputs = ["src"]
module = "handlers.py"
function = "upper"
[sinks.out]
type = "console"
inputs = ["py"]
''', encoding="utf-8")
    env = {**os.environ, "LIVEPIPE_LOAD_PLUGINS": ""}
    ok = subprocess.run([sys.executable, "-m", "livepipe", "validate", str(cfg)], capture_output=True, text=True,
                        env=env, timeout=120)
    assert ok.returncode == 0, ok.stderr
    cfg.write_text(cfg.read_text(encoding="utf-8").replace('"upper"', '"uper"'), encoding="utf-8")
    bad = subprocess.run([sys.executable, "-m", "livepipe", "validate", str(cfg)], capture_output=True, text=True,
                         env=env, timeout=120)
    assert bad.returncode == 78
    assert f"{cfg}:5: processors.py: rejected its configuration" in bad.stderr
    assert "handlers.py has no function 'uper'" in bad.stderr


def test_a_module_changed_between_validate_and_run_is_read_again(tmp_path):
    _write(tmp_path / "handlers.py", '''
        def tag(ev):
            return ev.replace(text="old")
    ''')
    config = load_toml(_pipeline("tag"), tmp_path)  # reads the module (validate does this)
    _write(tmp_path / "handlers.py", '''
        def tag(ev):
            return ev.replace(text="new version")
    ''')
    anyio.run(run_pipeline, config)
    assert {e.text for e in captured["out"]} == {"new version"}


def test_a_module_that_exits_on_import_is_reported_not_obeyed(tmp_path):
    _write(tmp_path / "script.py", '''
        import sys

        def on_event(ev):
            return ev

        sys.exit("run me with python, not from livepipe")
    ''')
    msg = _problem(tmp_path, _pipeline("on_event", module="script.py"))
    assert f"{tmp_path / 'script.py'}:7: SystemExit: run me with python, not from livepipe" in msg


async def test_a_file_named_like_a_standard_module_does_not_shadow_it(tmp_path):
    _write(tmp_path / "json.py", '''
        def on_event(ev):
            return ev.replace(text="mine")
    ''')
    await run_pipeline(_pipeline("on_event", module="json.py"), tmp_path)
    import json

    assert {e.text for e in captured["out"]} == {"mine"}
    assert json.dumps([1]) == "[1]" and "json" in sys.modules and sys.modules["json"] is json
    assert not hasattr(json, "on_event")


async def test_the_main_guard_of_a_script_does_not_run(tmp_path):
    _write(tmp_path / "handlers.py", '''
        def on_event(ev):
            return ev

        if __name__ == "__main__":
            raise SystemExit("the guard ran")
    ''')
    await run_pipeline(_pipeline("on_event"), tmp_path)
    assert len(captured["out"]) == 3
