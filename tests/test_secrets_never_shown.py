"""A marker secret planted everywhere a secret can go never comes out of livepipe.

The places are enumerated from the registry's schemas (every ``Secret`` and ``Url`` option of every
component type shipped with livepipe or an installed plugin package, so a new component is covered
by itself) and from the credential schema (every field, the cookie file's contents), plus the
userinfo of every URL. Then ``config show``, ``validate`` (with errors provoked), reprs, a short
``run`` at DEBUG against the simulator and a real nats-server that requires the marker password,
its /metrics page, its status line and every event it produced (status events, action results and
alerts, the audit log) are searched for the marker.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import tomli_w

from livepipe import plugins
from livepipe.bilibili import actions as act
from livepipe.bilibili.credential import Credential
from livepipe.config import load_config
from livepipe.events import make_event
from livepipe.schema import declared_paths, secret_fields, url_fields
from livepipe.sim import run_simulator
from livepipe.testing import NatsServer

ROOM = 1000
MARK = f"mk{secrets.token_hex(8)}"

#: values for keys that a component requires (only the secret-bearing types need entries here)
FILL: dict[str, Any] = {"inputs": ["src"], "credential": "main", "room_ids": [ROOM], "body": "{{ kind }}",
                        "urls": ["json://127.0.0.1:9/hook"],
                        "entries": [{"every": 60, "news": "x"}]}  # roomctl's schedule
#: keys a secret needs beside it to be accepted
COMPANIONS: dict[str, dict[str, Any]] = {"password": {"user": "alice"}}
#: secrets that must have a shape: the marker goes where the secret part of the value is
SHAPES: dict[str, Any] = {"proxy": lambda marker: f"http://alice:{marker}@127.0.0.1:9",  # the password of a dead proxy
                          "headers": lambda marker: {"Authorization": f"Bearer {marker}"},  # http sink
                          # notify sink: an Apprise URL whose path is a token (a dead local receiver)
                          "urls": lambda marker: f"json://127.0.0.1:9/hook/{marker}"}
#: keys a type needs together (non-secret stand-ins; the planted option overrides its own)
TYPE_FILL: dict[str, dict[str, Any]] = {
    "bilibili.open": {"app_id": 1, "access_key_id": "key-id", "access_key_secret": "stand-in", "codes": ["c0"]},
}


def _shipped(reg: Any) -> bool:
    """A component of livepipe itself or of an installed plugin package (not a test's)."""
    return reg.cls.__module__.split(".")[0] in {"livepipe"} or reg.cls.__module__.startswith("livepipe_")


def secret_bearing_types() -> list[tuple[str, str, Any]]:
    """(role, type, class) of every shipped component type with a Secret or Url option."""
    out = []
    for name, reg in plugins.registry().items():
        if _shipped(reg) and (secret_fields(reg.cls.Config) or url_fields(reg.cls.Config)):
            out.append((reg.role, name, reg.cls))
    return out


def _url(type_name: str, servers: dict[str, str], secret: str | None) -> str:
    base = servers["nats"] if type_name == "nats" else servers["http"]
    if type_name == "sql":  # a PostgreSQL database nobody serves: the sink keeps its rows and says so
        base = "postgresql://" + servers["http"].split("://", 1)[1].rstrip("/") + "/livepipe"
    if secret is None:
        return base
    scheme, rest = base.split("://", 1)
    return f"{scheme}://alice:{secret}@{rest}"


def _table(role: str, type_name: str, cls: Any, servers: dict[str, str], plant: str | None) -> dict[str, Any]:
    """A valid table for ``type_name`` with the marker planted in option ``plant`` (None: no marker)."""
    model = cls.Config
    table: dict[str, Any] = {"type": type_name}
    for key, info in model.model_fields.items():
        if key != "type" and info.is_required() and key not in url_fields(model):
            assert key in FILL, f"{type_name}: add a value for its required key {key!r} to FILL"
            table[key] = FILL[key]
    urls = url_fields(model)
    for key in urls:
        value = _url(type_name, servers, f"{MARK}-{type_name}-{key}" if key == plant else None)
        table[key] = [value] if "list" in str(model.model_fields[key].annotation) else value
    table.update(TYPE_FILL.get(type_name, {}))
    if plant is not None and plant not in urls:
        value = SHAPES.get(plant, str)(f"{MARK}-{type_name}-{plant}")
        table[plant] = [value] if "list" in str(model.model_fields[plant].annotation) else value
        table.update(COMPANIONS.get(plant, {}))
    if role != "source":
        table.setdefault("inputs", ["src"])
    if "audit_log" in model.model_fields:
        table["audit_log"] = f"audit-{type_name}.jsonl"
    if "room_id" in model.model_fields and role == "sink":
        table["room_id"] = ROOM
    if "max_attempts" in model.model_fields:
        table["max_attempts"] = 1  # report each action's outcome at once, within the short run
    return table


def build_config(tmp: Path, servers: dict[str, str]) -> tuple[dict[str, Any], int]:
    """The whole pipeline: one component per planted option; returns the tables and how many markers."""
    cookie_file = tmp / "cookies.json"
    cookie_file.write_text(json.dumps({"SESSDATA": f"{MARK}-cookie-sessdata", "bili_jct": f"{MARK}-cookie-jct",
                                       "DedeUserID": "424242", "refresh_token": f"{MARK}-cookie-refresh"}))
    cookie_file.chmod(0o600)
    (tmp / "replay.jsonl").write_text("\n".join(json.dumps(e.to_dict()) for e in [
        make_event("danmaku", room_id=ROOM, uid=7, uname="viewer", text="hello", ts=1.0),
        act.ban(7, 1, room_id=ROOM, reason="test"),
        act.send("hi", room_id=ROOM),
        act.room_update(ROOM, title="new title"),
    ]) + "\n")
    from livepipe.bilibili.credential import BilibiliCredentialConfig

    cred: dict[str, Any] = {"cookie_file": "cookies.json", "dedeuserid": 424242}
    for key in secret_fields(BilibiliCredentialConfig):
        value = f"{MARK}-credential-{key}"
        cred[key] = [value] if "list" in str(BilibiliCredentialConfig.model_fields[key].annotation) else value
    for key in set(BilibiliCredentialConfig.model_fields) - secret_fields(BilibiliCredentialConfig) - set(cred):
        cred[key] = f"not-secret-{key}"
    planted = len(secret_fields(BilibiliCredentialConfig)) + 3
    tables: dict[str, Any] = {
        "livepipe": {"shutdown_timeout": 3.0, "status_interval": 0.5, "log_level": "debug",
                     "metrics": {"listen": "127.0.0.1:0"}},
        "credentials": {"main": cred},
        "sources": {"src": {"type": "replay", "path": "replay.jsonl"}},
        "processors": {},
        "sinks": {"everything": {"type": "file", "inputs": ["*"], "path": "everything.jsonl"}},
    }
    # the credential in use by a source too (its cookie refresh and login checks log)
    tables["sources"]["src_logged_in"] = {"type": "bilibili.danmaku", "room_ids": [ROOM], "credential": "main",
                                          "base_url": servers["http"]}
    for role, type_name, cls in secret_bearing_types():
        for plant in sorted(secret_fields(cls.Config) | url_fields(cls.Config)):
            cid = f"{role}_{type_name}_{plant}".replace(".", "_")
            tables[f"{role}s"][cid] = _table(role, type_name, cls, servers, plant)
            planted += 1
    return tables, planted


def _write(tmp: Path, tables: dict[str, Any], name: str = "p.toml") -> Path:
    path = tmp / name
    path.write_text(tomli_w.dumps(tables), encoding="utf-8")
    return path


def _livepipe(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "livepipe", *args], cwd=tmp, capture_output=True, text=True,
                          timeout=120)


def test_every_shipped_secret_option_is_enumerated():
    types = {(r, t) for r, t, _ in secret_bearing_types()}
    # the ones we know of today; a new one is picked up without editing this list
    assert {("sink", "nats"), ("source", "nats"), ("source", "bilibili.danmaku"), ("sink", "bilibili.ban"),
            ("sink", "bilibili.send"), ("sink", "bilibili.room")} <= types
    # the planting below covers top-level options; a secret in a nested table must be planted too
    for name, reg in plugins.registry().items():
        if _shipped(reg):
            secret, urls = declared_paths(reg.cls.Config)
            nested = {p for p in secret | urls if "." in p}
            assert not nested, f"{name} has nested secret options {nested}: plant a marker in them below"


def test_marker_never_appears_in_config_show_validate_or_reprs(tmp_path):
    servers = {"nats": "nats://127.0.0.1:4222", "http": "http://127.0.0.1:9"}
    tables, planted = build_config(tmp_path, servers)
    path = _write(tmp_path, tables)
    assert MARK in path.read_text()
    assert planted >= 20

    shown = _livepipe(tmp_path, "config", "show", "p.toml")
    assert shown.returncode == 0, shown.stderr
    assert MARK not in shown.stdout + shown.stderr
    assert "alice:<redacted>@127.0.0.1:4222" in shown.stdout  # the URL is still recognisable
    assert shown.stdout.count("<redacted>") >= planted - 3  # (the cookie file's contents are not in the config)

    # validate, with errors provoked: wrong types next to secrets, URLs given as plain strings, unknown keys
    broken = json.loads(json.dumps(tables))
    for section in ("sources", "sinks"):
        for table in broken[section].values():
            if "servers" in table:
                table["servers"] = table["servers"][0]  # a string where a list belongs: the value is quoted back
            if table["type"].startswith("bilibili."):
                table["base_url"] = [table["base_url"]]
    broken["credentials"]["main"]["sesdata"] = f"{MARK}-misspelt"
    broken["credentials"]["main"]["SESSDATA"] = f"{MARK}-case"
    _write(tmp_path, broken)
    checked = _livepipe(tmp_path, "validate", "p.toml")
    assert checked.returncode == 78
    assert "did you mean 'sessdata'" in checked.stderr and "key 'servers'" in checked.stderr
    assert MARK not in checked.stdout + checked.stderr
    # and the preflight checks: the cookie file open to others
    (tmp_path / "cookies.json").chmod(0o644)
    _write(tmp_path, tables)
    checked = _livepipe(tmp_path, "validate", "p.toml")
    assert checked.returncode == 78 and "chmod 600" in checked.stderr
    assert MARK not in checked.stdout + checked.stderr
    (tmp_path / "cookies.json").chmod(0o600)

    cfg = load_config([path])
    texts = [repr(cfg), str(cfg.display), repr(cfg.credentials)]
    for spec in cfg.components.values():
        texts += [repr(spec), repr(spec.config), str(spec.config)]
    cred = Credential.from_table("main", cfg.credentials["main"], tmp_path)
    texts += [repr(cred), str(cred)]
    for t in texts:
        assert MARK not in t, t[:2000]


@pytest.mark.anyio
@pytest.mark.parametrize("workers", [1, 2])
async def test_marker_never_appears_in_a_debug_run_its_metrics_or_its_events(tmp_path, workers):
    """With ``workers = 2`` too: the parent's merged /metrics (both formats) and merged summary."""
    with NatsServer(tmp_path / "nats", jetstream=False, args=["--user", "alice", "--pass",
                                                             f"{MARK}-sink_nats_servers"]) as nats:
        async with run_simulator(rooms=[ROOM, ROOM + 1], rate=20.0) as sim:
            servers = {"nats": nats.url, "http": sim.base_url}
            tables, _ = build_config(tmp_path, servers)
            # the nats server knows one password: every nats component that has it connects
            password = f"{MARK}-sink_nats_servers"
            for section in ("sources", "sinks"):
                for cid in [c for c, t in tables[section].items() if t["type"] == "nats" and
                            ("token" in t or "nkey_seed" in t)]:
                    # credentials this server cannot accept are a permanent failure, which stops the run
                    # at once; their markers are checked by config show, validate and the reprs above
                    del tables[section][cid]
                for table in tables[section].values():
                    if table["type"] == "nats":
                        if table["servers"][0].count("@"):
                            table["servers"] = [_url("nats", servers, password)]
                        if "password" in table:
                            table["password"] = password
                        table["subject"] = "livepipe.marker.>" if section == "sources" else "livepipe.marker.x"
            if workers > 1:  # a room for each worker; the other sources run in worker 0
                tables["sources"]["src_logged_in"]["room_ids"] = [ROOM, ROOM + 1]
            _write(tmp_path, tables)
            proc = await anyio.open_process([sys.executable, "-m", "livepipe", "run", "--duration", "8",
                                             "--log-level", "debug", "p.toml", "--workers", str(workers)],
                                            cwd=tmp_path)  # fmt: skip
            stderr: list[str] = []
            metrics_pages: list[str] = []
            async with anyio.create_task_group() as tg:

                async def read_stdout() -> None:
                    assert proc.stdout is not None
                    async for chunk in proc.stdout:
                        stderr.append(chunk.decode("utf-8", "replace"))

                tg.start_soon(read_stdout)
                assert proc.stderr is not None
                buffer = ""
                async for chunk in proc.stderr:
                    buffer += chunk.decode("utf-8", "replace")
                    status_lines = buffer.count("livepipe: accepted ")
                    served = "metrics of 2 workers on " if workers > 1 else "metrics on "
                    if not metrics_pages and served + "http://" in buffer and status_lines >= 2 * workers:
                        url = buffer.split(served, 1)[1].split()[0]
                        async with httpx.AsyncClient(timeout=30) as client:
                            metrics_pages.append((await client.get(url)).text)
                            metrics_pages.append((await client.get(url, headers={
                                "Accept": "application/openmetrics-text; version=1.0.0"})).text)
                stderr.append(buffer)
                await proc.wait()
    log = "".join(stderr)
    assert metrics_pages, log[-3000:]
    events = "".join(p.read_text("utf-8") for p in tmp_path.glob("everything*.jsonl"))
    audits = "".join(p.read_text("utf-8") for p in tmp_path.glob("audit-*.jsonl"))
    # the run really used the planted secrets: the marker password let the nats components in
    assert "connected to NATS at nats://alice:<redacted>@127.0.0.1" in log
    assert '"kind":"source.connected"' in events.replace(" ", "")
    assert "action.result" in events, log[-5000:]
    assert "component_received_events_total" in metrics_pages[0] and metrics_pages[1].endswith("# EOF\n")
    if workers > 1:
        assert 'component_received_events_total{worker="1",' in metrics_pages[0], metrics_pages[0]
        assert "(2 workers)" in log and "  workers    0: exit" in log, log[-3000:]
    assert "DEBUG" in log
    for name, text in (("log", log), ("metrics", metrics_pages[0]), ("openmetrics", metrics_pages[1]),
                       ("events", events), ("audit", audits)):
        assert MARK not in text, f"{name}: " + text[max(0, text.find(MARK) - 500):text.find(MARK) + 200]
