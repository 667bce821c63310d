"""The fault matrix of issue 10: every fault, its documented outcome, nothing accepted lost (or every
loss counted), and recovery. ``docs/reliability.md`` is the prose form of :data:`MATRIX`.

Faults already proven elsewhere are indexed in :data:`MATRIX` by test node id; ``test_matrix_row``
checks each row's tests exist (so the index cannot rot) and that the documentation names them. The
faults with no test elsewhere are proven here:

* a sink raising (every ``on_error`` mode, counted, the pipeline keeps going or stops);
* a full disk for the ``file`` sink (``RLIMIT_FSIZE`` in a child process: unprivileged, no tmpfs);
* SIGTERM in the middle of a burst from the ``bilibili.danmaku`` source against the simulator;
* fuzzing of config loading (hypothesis);
* pathological TOML: nesting hundreds or thousands of levels deep (issue 16).
"""

from __future__ import annotations

import ast
import json
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livepipe import plugins
from livepipe.component import Emit, Sink, Source
from livepipe.config import TOP_LEVEL, ConfigError, load_config
from livepipe.events import Event, make_event
from livepipe.hookspecs import hookimpl
from livepipe.schema import SinkConfig, SourceConfig, field
from livepipe.testing import captured, parse_summary, run_pipeline

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
RELIABILITY = ROOT / "docs" / "reliability.md"
HERE = "tests/test_fault_matrix.py"

#: fault -> the tests that prove its documented outcome (``path::function``).
MATRIX: dict[str, list[str]] = {
    "WebSocket drop": [
        "tests/bilibili/test_source_soak.py::test_reconnects_every_time_and_delivers_exactly_once_in_order",
    ],
    "heartbeat stall": [
        "tests/bilibili/test_source_faults.py::test_heartbeat_stall_reconnects_and_counts",
        "tests/bilibili/test_source_faults.py::test_silence_trips_the_liveness_timeout",
    ],
    "auth failure": [
        "tests/bilibili/test_source_faults.py::test_auth_failure_fetches_a_fresh_token_and_recovers",
        "tests/bilibili/test_source_retry.py::"
        "test_auth_failing_60s_on_2_rooms_stays_within_12_token_fetches_and_recovers_within_5s",
    ],
    "-352 risk control": [
        "tests/bilibili/test_source_retry.py::test_minus_352_for_30s_then_receiving_within_10s_without_keyless",
        "tests/bilibili/test_source_retry.py::test_keyless_fallback_flows_at_once_then_returns_to_normal",
    ],
    "412 IP block": [
        "tests/bilibili/test_source_faults.py::test_ip_block_pauses_the_api_then_recovers",
    ],
    "malformed frame": [
        "tests/bilibili/test_source_faults.py::test_malformed_frame_is_counted_and_skipped_without_reconnecting",
    ],
    "NATS restart": [
        "tests/nats/test_nats_faults.py::test_jetstream_survives_a_server_crash_exactly_once",
        "tests/nats/test_nats_faults.py::test_core_losses_equal_the_loss_counter",
    ],
    "sink raising": [
        f"{HERE}::test_sink_raising_is_counted_per_on_error",
        "tests/test_runtime.py::test_on_error_dead_letter_carries_event_and_error",
    ],
    "full disk (file sink)": [
        f"{HERE}::test_file_sink_full_disk_keeps_whole_lines_counts_and_resumes",
        "tests/components/test_file_sink.py::test_disk_full_raises_naming_the_path_and_keeps_lines_whole",
    ],
    "SIGTERM mid-burst": [
        f"{HERE}::test_sigterm_mid_burst_delivers_everything_the_source_accepted",
        "tests/test_acceptance_core.py::test_sigterm_mid_run_loses_nothing_the_source_read",
        "tests/test_acceptance_core.py::test_second_signal_stops_at_once",
    ],
    "SIGTERM, sink cannot deliver": [
        "tests/test_fault_shutdown.py::test_sigterm_with_nats_down_ends_within_the_deadline",
        "tests/test_fault_shutdown.py::test_sigterm_with_a_file_sink_over_1000_rooms_ends_within_the_deadline",
        "tests/test_acceptance_core.py::test_second_signal_stops_at_once",
    ],
    "slow sink beside a fast one": [
        "tests/test_fault_shutdown.py::test_console_on_a_pipe_nobody_reads_costs_the_file_sink_nothing",
        "tests/test_runtime.py::test_a_full_block_buffer_never_delays_its_siblings",
    ],
    "persistent sink failure": [
        "tests/test_fault_shutdown.py::test_full_disk_logs_a_few_lines_and_stops_after_fail_after",
        "tests/test_runtime.py::test_persistent_failure_alerts_and_goes_on_then_resolves",
        "tests/test_runtime.py::test_persistent_failure_stops_the_pipeline",
    ],
    "sink failing permanently": [
        "tests/nats/test_nats_stream.py::test_a_refused_stream_fails_the_pipeline_with_the_fix",
        "tests/test_fault_shutdown.py::test_nats_refusing_credentials_fails_the_pipeline",
    ],
    "config reload": [
        "tests/test_reload.py::test_reload_adds_and_removes_a_room_while_ten_others_stream",
        "tests/test_reload.py::test_a_changed_sink_is_replaced_mid_stream_without_losing_or_repeating_an_event",
        "tests/test_reload.py::test_reload_refuses_what_it_cannot_apply_in_place",
    ],
    "poisoned replay line": [
        "tests/components/test_replay_poison.py::test_every_good_line_arrives_and_every_bad_one_is_counted_by_reason",
        "tests/components/test_replay_poison.py::test_schema_invalid_events_never_reach_a_sink",
        "tests/components/test_replay_poison.py::test_an_event_from_outside_is_rejected_or_has_the_schema_types",
    ],
    "replay pacing": [
        "tests/components/test_replay_poison.py::test_speed_n_delivers_n_times_the_recorded_rate",
    ],
    "bad JSON body on the WebSocket": [
        "tests/bilibili/test_source_faults.py::"
        "test_bodies_that_are_not_json_objects_are_counted_on_metrics_and_the_frame_kept",
    ],
    "pathological TOML": [
        f"{HERE}::test_deeply_nested_toml_is_a_config_error_naming_the_line",
        f"{HERE}::test_deep_table_headers_and_dotted_keys_are_config_errors",
        f"{HERE}::test_cli_reports_a_500_deep_array_without_a_traceback",
    ],
    "kill -9 during an action": [
        "tests/nats/test_action_journal.py::test_an_action_killed_between_acceptance_and_result_happens_once_after_redelivery",
    ],
    "fuzz: decode_frame": [
        "tests/bilibili/test_protocol_fuzz.py::test_random_bytes",
        "tests/bilibili/test_protocol_fuzz.py::test_compressed_bombs_bounded",
    ],
    "fuzz: parse_command": [
        "tests/bilibili/test_commands.py::test_fuzzed_shapes_only_produce_events",
        "tests/bilibili/test_protocol_fuzz.py::test_plain_command_bodies_never_escape",
    ],
    "fuzz: config loading": [
        f"{HERE}::test_fuzz_config_text_only_raises_config_error",
        f"{HERE}::test_fuzz_config_tables_never_leak_a_secret",
    ],
}


def _test_functions(path: Path) -> set[str]:
    """Names of the module-level ``test_*`` functions of a test file (parsed, not imported)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        n.name for n in tree.body
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name.startswith("test_")
    }  # fmt: skip


@pytest.mark.parametrize("fault", list(MATRIX))
def test_matrix_row(fault: str) -> None:
    """Each row names tests that exist, and docs/reliability.md lists the row with those tests."""
    doc = RELIABILITY.read_text(encoding="utf-8")
    rows = [line for line in doc.splitlines() if line.startswith(f"| {fault} |")]
    assert len(rows) == 1, f"docs/reliability.md has no (or several) matrix rows for {fault!r}"
    for node in MATRIX[fault]:
        path, func = node.split("::")
        assert func in _test_functions(ROOT / path), f"{node} does not exist"
        assert f"`{func}`" in rows[0], f"the {fault!r} row of docs/reliability.md does not name {func}"


# ---- a sink raising ---------------------------------------------------------------------------


class NumberSource(Source):
    """Emits ``count`` events numbered 0..count-1."""

    type_name = "fm.numbers"

    class Config(SourceConfig):
        """Config of fm.numbers."""

        count: int = field(10, description="how many")

    async def run(self, emit: Emit) -> None:
        """Emit the numbered events."""
        for i in range(self.config.count):
            await emit(make_event("danmaku", id=str(i), ts=1.0, room_id=1, data={"n": i}))


class FlakySink(Sink):
    """Raises on multiples of ``every``; records the rest in ``captured``."""

    type_name = "fm.flaky"

    class Config(SinkConfig):
        """Config of fm.flaky."""

        every: int = field(4, description="raise on multiples of this")

    async def write(self, event: Event, emit: Emit) -> None:
        """Record the event, or raise."""
        if event.data["n"] % self.config.every == 0:
            raise OSError(f"remote refused {event.data['n']}")
        captured[self.name].append(event)


class _Plugin:
    @hookimpl
    def livepipe_register_components(self, registry: Any) -> None:
        registry.register(NumberSource)
        registry.register(FlakySink)


@pytest.fixture
def fm_components() -> None:
    """Register this module's test components."""
    if plugins.manager().get_plugin("test_fault_matrix") is None:
        plugins.register_plugin(_Plugin(), "test_fault_matrix")


@pytest.mark.anyio
@pytest.mark.parametrize("on_error", ["drop", "dead_letter", "stop"])
async def test_sink_raising_is_counted_per_on_error(tmp_path: Path, fm_components: None, on_error: str) -> None:
    """A sink that raises: each failure counted; drop/dead_letter keep going, stop stops the pipeline."""
    toml = f"""
[sources.src]
type = "fm.numbers"
count = 20
[sinks.out]
type = "fm.flaky"
inputs = ["src"]
on_error = "{on_error}"
"""
    if on_error == "dead_letter":
        toml += '[sinks.dlq]\ntype = "testing.capture"\ninputs = ["out.dead_letter"]\n'
    if on_error == "stop":
        from livepipe.runtime.pipeline import PipelineError

        with pytest.raises(PipelineError, match="sink 'out' failed: OSError: remote refused 0"):
            await run_pipeline(toml, tmp_path)
        assert captured["dlq"] == []
        return
    p = await run_pipeline(toml, tmp_path)
    failed = [n for n in range(20) if n % 4 == 0]
    assert [e.data["n"] for e in captured["out"]] == [n for n in range(20) if n % 4]
    m = p.metrics
    assert m.value("component_errors_total", component_id="out", error_type="OSError") == len(failed)
    assert m.value("component_discarded_events_total", component_id="out", intentional="false") == len(failed)
    dl = captured["dlq"]
    if on_error == "dead_letter":
        assert [e.data["event"]["data"]["n"] for e in dl] == failed
        assert dl[0].data["error"] == "remote refused 0" and dl[0].data["component"] == "out"
    else:
        assert dl == []


# ---- full disk for the file sink ------------------------------------------------------------------

FULL_DISK_CHILD = r'''
"""Child: a file sink whose file may not grow past a limit (RLIMIT_FSIZE), then space returns."""
import json, resource, signal, sys
import anyio
from livepipe import plugins
from livepipe.component import Source
from livepipe.config import load_config
from livepipe.events import make_event
from livepipe.hookspecs import hookimpl
from livepipe.runner import run_config
from livepipe.schema import SourceConfig, field
from livepipe.testing import captured, install

HOLDER = {}

def event(batch, i):
    return make_event("danmaku", id=f"{batch}{i:04d}", ts=1.7e9, room_id=1, data={"text": "x" * 100})

class Burst(Source):
    type_name = "fm.burst"
    class Config(SourceConfig):
        before: int = field(30, description="events written while the disk is full")
        after: int = field(10, description="events written once space returns")
    async def run(self, emit):
        line = len(event("a", 0).to_json().encode()) + 1
        limit = 10 * line + line // 2  # ten lines fit; the eleventh is cut part-way
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
        for i in range(self.config.before):
            await emit(event("a", i))
        sink = HOLDER["p"].metrics
        with anyio.fail_after(20):
            while sink.value("component_received_events_total", component_id="out") < self.config.before:
                await anyio.sleep(0.005)
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))  # space returns
        for i in range(self.config.after):
            await emit(event("b", i))

class P:
    @hookimpl
    def livepipe_register_components(self, registry):
        registry.register(Burst)

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
install()
plugins.register_plugin(P(), "fm")
config = load_config([sys.argv[1]])
p = anyio.run(lambda: run_config(config, pipeline_ready=lambda p: HOLDER.__setitem__("p", p)), backend="asyncio")
m = p.metrics
print(json.dumps({
    "errors": m.value("component_errors_total", component_id="out"),
    "discarded": m.value("component_discarded_events_total", component_id="out", intentional="false"),
    "dead_letters": [[e.data["event"]["id"], e.data["error_type"], e.data["error"]] for e in captured["dlq"]],
}))
'''


@pytest.mark.parametrize("on_error", ["drop", "dead_letter"])
def test_file_sink_full_disk_keeps_whole_lines_counts_and_resumes(tmp_path: Path, on_error: str) -> None:
    """Disk full: whole lines only, nothing written before is lost, each failure counted, writing resumes."""
    (tmp_path / "child.py").write_text(FULL_DISK_CHILD, encoding="utf-8")
    (tmp_path / "p.toml").write_text(textwrap.dedent(f"""
        [sources.src]
        type = "fm.burst"
        before = 30
        after = 10
        [sinks.out]
        type = "file"
        inputs = ["src"]
        path = "out.jsonl"
        on_error = "{on_error}"
    """) + ('[sinks.dlq]\ntype = "testing.capture"\ninputs = ["out.dead_letter"]\n' if on_error == "dead_letter"
            else ""), encoding="utf-8")
    r = subprocess.run([sys.executable, "child.py", "p.toml"], cwd=tmp_path, capture_output=True, text=True,
                       timeout=60)  # fmt: skip
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout.splitlines()[-1])
    data = (tmp_path / "out.jsonl").read_bytes()
    assert data.endswith(b"\n")  # no partial line left behind by the cut-off writes
    ids = [json.loads(line)["id"] for line in data.splitlines()]
    # the ten lines that fit are intact, the twenty that did not are absent, and after space returned
    # every event was written again
    assert ids == [f"a{i:04d}" for i in range(10)] + [f"b{i:04d}" for i in range(10)]
    assert result["errors"] == 20 and result["discarded"] == 20
    if on_error == "dead_letter":
        assert [d[0] for d in result["dead_letters"]] == [f"a{i:04d}" for i in range(10, 30)]
        assert {d[1] for d in result["dead_letters"]} == {"FileSinkError"}
        assert "out.jsonl: File too large" in result["dead_letters"][0][2]
    else:
        assert result["dead_letters"] == []
        assert "file sink 'out': cannot write to" in r.stderr and "File too large" in r.stderr


# ---- SIGTERM mid-burst: bilibili.danmaku -> file -----------------------------------------------------


async def _wait_until(cond: Any, timeout: float, what: str) -> None:
    """Poll ``cond`` until true (a condition, not a delay); fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await anyio.sleep(0.01)


def _lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


@pytest.mark.anyio
async def test_sigterm_mid_burst_delivers_everything_the_source_accepted(tmp_path: Path) -> None:
    """``livepipe run`` gets SIGTERM while the simulator bursts danmaku: every event the source emitted
    is in the file, whole lines, in order, with no gap; exit status 0."""
    from livepipe.sim import run_simulator

    async with run_simulator(rooms=[1000], rate=0, population_size=10) as sim:
        (tmp_path / "p.toml").write_text(textwrap.dedent(f"""
            [sources.live]
            type = "bilibili.danmaku"
            room_ids = [1000]
            base_url = "{sim.base_url}"
            start_gap = 0.0
            backoff_initial = 0.05
            [sinks.out]
            type = "file"
            inputs = ["live"]
            path = "out.jsonl"
            buffer = 16
        """), encoding="utf-8")
        out = tmp_path / "out.jsonl"
        err_path = tmp_path / "stderr.txt"
        with err_path.open("wb") as err:
            proc = await anyio.open_process([sys.executable, "-m", "livepipe", "run", "p.toml", "--quiet"],
                                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=err)  # fmt: skip
        injected = 0
        try:
            await sim.wait_for_clients(1000, 1, timeout=30)

            async def burst() -> None:
                nonlocal injected
                while True:
                    for _ in range(50):
                        sim.inject_danmaku(1000, f"burst-{injected}")
                        injected += 1
                    sim.hub.flush()
                    await anyio.sleep(0.002)  # pace of the burst (about 20,000 messages/s), not synchronisation

            async with anyio.create_task_group() as tg:
                tg.start_soon(burst)
                await _wait_until(lambda: _lines(out) >= 2000, 30, "the burst to reach the file")
                proc.send_signal(signal.SIGTERM)
                sent_at_term = injected
                with anyio.fail_after(30):
                    await proc.wait()
                tg.cancel_scope.cancel()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    stderr = err_path.read_text(encoding="utf-8", errors="replace")
    assert proc.returncode == 0, stderr
    summary = parse_summary(stderr)
    assert not summary["forced"]
    emitted, received = summary["accepted"], summary["delivered"]["out"]
    dropped, errors = summary["lost"], summary["component_errors"] + summary["error_logs"]
    data = out.read_bytes()
    assert data.endswith(b"\n")
    events = [json.loads(line) for line in data.splitlines()]
    assert emitted == received == len(events) and dropped == 0 and errors == 0
    texts = [e["text"] for e in events if e["kind"] == "danmaku"]
    numbers = [int(t.removeprefix("burst-")) for t in texts]
    # everything the source accepted arrived: in order, no duplicates, no gap
    assert numbers == list(range(len(numbers)))
    assert len(numbers) >= 2000
    assert len(numbers) < injected and sent_at_term < injected  # it really was mid-burst


# ---- fuzzing config loading ---------------------------------------------------------------------------

SECRET = "Zq9-fuzz-secret-7Kx"
SECRET_ENV = "LIVEPIPE_FUZZ_SECRET"

_names = st.sampled_from([*TOP_LEVEL, "type", "inputs", "path", "room_ids", "credential", "rate", "rooms",
                          "buffer", "when_full", "on_error", "sessdata", "x", "a.b", "*"])  # fmt: skip
_types = st.sampled_from(["replay", "file", "console", "filter", "route", "throttle", "dedupe", "nats",
                          "bilibili.danmaku", "bilibili.send", "nope"])  # fmt: skip
_secret_ref = st.just({"env": SECRET_ENV})
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False),
    st.text(max_size=20), _types, _secret_ref, st.just({"file": "no-such-secret"}),
)  # fmt: skip
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_names | st.text(max_size=8), inner,
                                                                          max_size=4)),
    max_leaves=12,
)  # fmt: skip
_component = st.dictionaries(_names, _values, max_size=6) | st.fixed_dictionaries(
    {"type": _types}, optional={"inputs": st.lists(st.sampled_from(["a", "b", "a.x", "*"]), max_size=3),
                                "path": _values, "room_ids": _values, "credential": _values, "when_full": _values,
                                "on_error": _values, "buffer": _values, "rate": _values, "sessdata": _values})
_section = st.dictionaries(st.sampled_from(["a", "b", "c.d"]) | st.text(max_size=6), _component, max_size=3)
_tables = st.fixed_dictionaries({}, optional={
    "sources": _section, "processors": _section, "sinks": _section,
    "livepipe": st.dictionaries(_names, _values, max_size=4),
    "simulator": st.dictionaries(_names, _values, max_size=4),
    "credentials": st.dictionaries(st.sampled_from(["main", "alt"]), st.dictionaries(_names, _values, max_size=3)
                                   | _values, max_size=2),
    "tests": _values,
    "bogus": _values,
})  # fmt: skip


def _strip_none(v: Any) -> Any:
    """TOML has no null: drop None values (and lists that would mix them)."""
    if isinstance(v, dict):
        return {k: _strip_none(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [_strip_none(x) for x in v if x is not None]
    return v


def _load(tmp_path: Path, text: str) -> Any:
    p = tmp_path / "fuzz.toml"
    p.write_text(text, encoding="utf-8", errors="surrogatepass")
    return load_config([p])


_TOKENS = st.sampled_from([*'[]{}=."\'#\n ,1_-', "sources", "sinks", "processors", "type", "inputs", "a", "b",
                           '"file"', '"replay"', "path", "true", "1e999", "[[tests]]", '"""', "\\u0000"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.lists(_TOKENS, max_size=60).map("".join) | st.text(max_size=200))
def test_fuzz_config_text_only_raises_config_error(tmp_path: Path, text: str) -> None:
    """Any text as a config file: loading it returns a config or raises ConfigError, nothing else."""
    try:
        _load(tmp_path, text)
    except ConfigError as e:
        assert str(e)
    except UnicodeEncodeError:  # lone surrogates cannot be written as a file at all
        pass


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tables=_tables)
def test_fuzz_config_tables_never_leak_a_secret(tmp_path: Path, tables: dict[str, Any],
                                                monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """Random tables (secrets via ``{env = ...}`` anywhere): only ConfigError, and no message, no
    ``config show`` view and no repr of the loaded config carries the secret's value."""
    monkeypatch.setenv(SECRET_ENV, SECRET)
    try:
        text = tomli_w.dumps(_strip_none(tables))
    except (TypeError, ValueError):  # a shape TOML cannot express (mixed arrays in old TOML, ...)
        return
    try:
        config = _load(tmp_path, text)
    except ConfigError as e:
        assert SECRET not in str(e), str(e)
        for issue in e.issues:
            assert SECRET not in str(issue)
        return
    assert SECRET not in repr(config.display)
    assert SECRET not in repr(config.components)


@pytest.mark.parametrize("where", [
    '[simulator]\nrate = {env = "LIVEPIPE_FUZZ_SECRET"}\n',
    '[sources.a]\ntype = "replay"\npath = "x.jsonl"\nroom_id = {env = "LIVEPIPE_FUZZ_SECRET"}\n',
    '[sources.a]\ntype = "bilibili.danmaku"\nroom_ids = [{env = "LIVEPIPE_FUZZ_SECRET"}]\n',
    '[credentials]\nmain = {env = "LIVEPIPE_FUZZ_SECRET"}\n',  # was an AttributeError, not a ConfigError
])  # fmt: skip
def test_secret_in_a_wrongly_typed_key_is_not_echoed(tmp_path: Path, where: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """A secret given to a key of the wrong type is a ConfigError that does not show its value."""
    monkeypatch.setenv(SECRET_ENV, SECRET)
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, where)
    assert SECRET not in str(info.value)
    assert re.search(r"expected|valid|must be a table", str(info.value)), str(info.value)



# ---- pathological TOML ------------------------------------------------------------------------

#: (how, template): a value nested ``n`` levels deep, written as TOML in several ways.
_DEEP_SHAPES: dict[str, Any] = {
    "array": lambda n: "[" * n + "1" + "]" * n,
    "inline table": lambda n: "{a = " * n + "1" + "}" * n,
    "mixed": lambda n: "[{a = " * (n // 2) + "1" + "}]" * (n // 2),
    "env ref": lambda n: "{env = " * n + '"X"' + "}" * n,
}
_PLACES = [
    ("top level", "x = {value}\n"),
    ("livepipe table", "[livepipe]\nshutdown_timeout = {value}\n"),
    ("component key", '[sources.a]\ntype = "replay"\npath = {value}\n'),
    ("unknown key", '[sinks.b]\ntype = "file"\ninputs = ["a"]\npath = "o"\nextra = {value}\n'),
    ("processor inputs", '[processors.p]\ntype = "filter"\ninputs = {value}\n'),
]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=st.sampled_from(sorted(_DEEP_SHAPES)), place=st.sampled_from(_PLACES),
       depth=st.integers(34, 600) | st.sampled_from([500, 2_000, 20_000]), prefix=st.integers(0, 5))  # fmt: skip
def test_deeply_nested_toml_is_a_config_error_naming_the_line(tmp_path: Path, shape: str, place: tuple[str, str],
                                                              depth: int, prefix: int) -> None:  # fmt: skip
    """An array, inline table or ``{env = ...}`` nested 34 to 20,000 deep anywhere: a ConfigError naming
    the file, the line and the fix; never a RecursionError."""
    text = "# comment\n" * prefix + place[1].format(value=_DEEP_SHAPES[shape](depth))
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, text)
    msg = str(info.value)
    assert "nested more than 32 levels deep" in msg and "flatten the value" in msg, msg
    line = text.count("\n", 0, text.index(_DEEP_SHAPES[shape](depth)[:3])) + 1
    assert f"fuzz.toml:{line}:" in msg, (msg, line)


@pytest.mark.parametrize("text", [
    "[" + ".".join(["k"] * 5000) + "]\nz = 1\n",  # a table header 5,000 keys deep
    "livepipe." + ".".join(["k"] * 3000) + " = 1\n",  # a dotted key 3,000 deep
    '[sources.a]\ntype = "replay"\n' + ".".join(["p"] * 40) + " = 1\n",
])  # fmt: skip
def test_deep_table_headers_and_dotted_keys_are_config_errors(tmp_path: Path, text: str) -> None:
    """Depth by keys rather than brackets: the same clear error (it was a RecursionError in ``config show``)."""
    with pytest.raises(ConfigError, match=r"fuzz.toml:\d+: .*nested more than 32 levels deep.*\(at [a-z.]+"):
        _load(tmp_path, text)


def test_cli_reports_a_500_deep_array_without_a_traceback(tmp_path: Path) -> None:
    """``livepipe validate`` and ``livepipe run`` on a 500-deep array: exit 78, one line naming the place."""
    cfg = tmp_path / "deep.toml"
    cfg.write_text('[sources.a]\ntype = "replay"\npath = "x"\nroom_id = ' + "[" * 500 + "]" * 500 + "\n")
    for command in ("validate", "run"):
        r = subprocess.run([sys.executable, "-m", "livepipe", command, str(cfg)], capture_output=True, text=True,
                           timeout=60)  # fmt: skip
        assert r.returncode == 78, r.stderr
        assert "Traceback" not in r.stderr and "RecursionError" not in r.stderr
        assert f"{cfg.name}:4: tables, arrays or inline tables nested more than 32 levels deep" in r.stderr, r.stderr


def test_a_config_at_the_depth_limit_still_loads(tmp_path: Path) -> None:
    """The limit is not too tight: a real automod config's depth loads, and 32 levels are a plain type error."""
    text = '[sources.a]\ntype = "replay"\npath = "x"\nroom_id = ' + "[" * 29 + "1" + "]" * 29 + "\n"
    with pytest.raises(ConfigError, match="room_id") as info:
        _load(tmp_path, text)
    assert "nested more than" not in str(info.value)
