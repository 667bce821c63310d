"""URL passwords: declared by the ``Url`` type, redacted in config show, errors, reprs and every log line."""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from livepipe import plugins
from livepipe.component import Emit, Sink
from livepipe.config import ConfigError, load_config
from livepipe.events import Event
from livepipe.hookspecs import hookimpl
from livepipe.runtime.logs import UrlPasswordFilter, redact_text
from livepipe.schema import Secret, SinkConfig, Url, declared_paths, field, redact_url, url_fields
from livepipe.testing import install

PW = "pa55-w0rd-xyz"

#: (url, what it is shown as)
URLS = [
    (f"nats://alice:{PW}@host:4222", "nats://alice:<redacted>@host:4222"),
    (f"tls://alice:{PW}@host", "tls://alice:<redacted>@host"),
    (f"http://bob:{PW}@127.0.0.1:8080/path?q=1", "http://bob:<redacted>@127.0.0.1:8080/path?q=1"),
    (f"nats://{PW}@host:4222", "nats://<redacted>@host:4222"),  # a NATS token as the whole userinfo
    (f"nats://alice:{PW}/with/slash@host", "nats://alice:<redacted>@host"),  # unescaped '/' in a password
    (f"nats://alice:{PW}?x@host", "nats://alice:<redacted>@host"),
    (f"nats://alice:{PW}#x@host", "nats://alice:<redacted>@host"),
    (f"nats://alice:{PW}@x@host", "nats://alice:<redacted>@host"),  # '@' in the password
    (f"alice:{PW}@host:4222", "alice:<redacted>@host:4222"),  # no scheme
    ("nats://host:4222", "nats://host:4222"),
    ("https://api.live.bilibili.com", "https://api.live.bilibili.com"),
    ("", ""),
]


@pytest.mark.parametrize("url,shown", URLS)
def test_redact_url(url, shown):
    assert redact_url(url) == shown
    assert PW not in redact_url(url)


@pytest.mark.parametrize("url,shown", [(u, s) for u, s in URLS if "://" in u])
def test_log_lines_lose_url_passwords(url, shown):
    for text in (f"connecting to {url} now", f"servers: ['{url}', 'nats://other:4222']", f"({url})"):
        assert PW not in redact_text(text)


def test_log_filter_covers_args_and_tracebacks():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(UrlPasswordFilter())
    log = logging.getLogger("test.urlfilter")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("cannot reach %s", f"nats://alice:{PW}@h:4222")
        try:
            raise ConnectionError(f"refused by http://u:{PW}@h/")
        except ConnectionError:
            log.exception("request failed")
    finally:
        log.removeHandler(handler)
    out = stream.getvalue()
    assert PW not in out
    assert "nats://alice:<redacted>@h:4222" in out and "http://u:<redacted>@h/" in out
    assert "ConnectionError" in out  # the traceback is still there


class HookSink(Sink):
    """A plugin sink with URL options."""

    type_name = "t.hook"

    class Config(SinkConfig):
        endpoint: Url = field(description="where to post")
        mirrors: list[Url] = field(default_factory=list, description="other endpoints")
        backup: Url | None = field(None, description="fallback endpoint")
        retries: int = field(1, description="attempts")

    async def write(self, event: Event, emit: Emit) -> None:
        pass


class _P:
    @hookimpl
    def livepipe_register_components(self, registry: Any) -> None:
        registry.register(HookSink)


@pytest.fixture(autouse=True)
def _setup() -> None:
    install()
    if plugins.manager().get_plugin("test_url_redaction") is None:
        plugins.register_plugin(_P(), "test_url_redaction")


PIPELINE = f"""
[sources.src]
type = "testing.events"

[sinks.hook]
type = "t.hook"
inputs = ["src"]
endpoint = "https://bot:{PW}@hooks.example/x"
mirrors = ["https://m1:{PW}@a.example", "https://b.example"]
backup = "https://{PW}@c.example"
"""


def test_url_fields_are_found_in_every_form():
    assert url_fields(HookSink.Config) == {"endpoint", "mirrors", "backup"}


def test_plugin_url_options_are_redacted_in_display_and_repr(tmp_path):
    p = tmp_path / "p.toml"
    p.write_text(PIPELINE, encoding="utf-8")
    cfg = load_config([p])
    shown = cfg.display["sinks"]["hook"]
    assert shown["endpoint"] == "https://bot:<redacted>@hooks.example/x"
    assert shown["mirrors"] == ["https://m1:<redacted>@a.example", "https://b.example"]
    assert shown["backup"] == "https://<redacted>@c.example"
    conf = cfg.components["hook"].config
    assert conf.endpoint == f"https://bot:{PW}@hooks.example/x"  # the component gets the real value
    for text in (repr(conf), str(conf), repr(cfg), repr(cfg.components["hook"])):
        assert PW not in text, text


def test_a_url_quoted_back_in_an_error_is_redacted(tmp_path):
    p = tmp_path / "p.toml"
    broken = PIPELINE.replace(f'mirrors = ["https://m1:{PW}@a.example", "https://b.example"]',
                              f'mirrors = "https://m1:{PW}@a.example"\nretries = "x"')
    assert broken != PIPELINE
    p.write_text(broken, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_config([p])
    text = str(e.value)
    assert "key 'mirrors'" in text and "key 'retries'" in text
    assert PW not in text
    assert "m1:<redacted>@a.example" in text  # still says which value was wrong


class Target(BaseModel):
    """A nested table with a secret and a URL."""

    model_config = ConfigDict(extra="forbid")
    url: Url = field(description="where")
    token: Secret | None = field(None, description="its token")


class FanoutSink(Sink):
    """A plugin sink whose secrets sit in nested tables."""

    type_name = "t.fanout"

    class Config(SinkConfig):
        primary: Target = field(description="the main target")
        targets: dict[str, Target] = field(default_factory=dict, description="more targets by name")
        extra: list[Target] = field(default_factory=list, description="more targets")

    async def write(self, event: Event, emit: Emit) -> None:
        pass


def test_declared_paths_reach_nested_tables():
    secret, urls = declared_paths(FanoutSink.Config)
    assert secret == {"primary.token", "targets.*.token", "extra.*.token"}
    assert urls == {"primary.url", "targets.*.url", "extra.*.url"}


def test_nested_secrets_and_urls_are_redacted_in_config_show(tmp_path):
    if plugins.manager().get_plugin("test_url_redaction_nested") is None:

        class _N:
            @hookimpl
            def livepipe_register_components(self, registry: Any) -> None:
                registry.register(FanoutSink)

        plugins.register_plugin(_N(), "test_url_redaction_nested")
    p = tmp_path / "p.toml"
    p.write_text(f"""
[sources.src]
type = "testing.events"

[sinks.fan]
type = "t.fanout"
inputs = ["src"]
primary = {{ url = "https://a:{PW}@one.example", token = "{PW}-1" }}
extra = [{{ url = "https://b:{PW}@two.example", token = "{PW}-2" }}]
[sinks.fan.targets.backup]
url = "https://c:{PW}@three.example"
token = "{PW}-3"
""", encoding="utf-8")
    cfg = load_config([p])
    fan = cfg.display["sinks"]["fan"]
    assert PW not in str(cfg.display)
    assert fan["primary"] == {"url": "https://a:<redacted>@one.example", "token": "<redacted>"}
    assert fan["targets"]["backup"]["url"] == "https://c:<redacted>@three.example"
    assert fan["extra"][0]["token"] == "<redacted>"
    assert cfg.components["fan"].config.targets["backup"].token.get_secret_value() == f"{PW}-3"
