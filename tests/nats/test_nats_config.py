"""nats components: config validation, subject safety, secrets kept out of output."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from livepipe.components.nats_common import NatsConnection, redact_url
from livepipe.components.nats_sink import NatsSinkConfig, safe_kind, safe_token, template_tokens
from livepipe.components.nats_source import NatsSourceConfig


def test_tokens_are_made_safe():
    assert safe_token("a b.c*d>e") == "a_b_c_d_e"
    assert safe_token("") == "_"
    assert safe_kind("action.ban") == "action.ban"
    assert safe_kind("we ird.k*") == "we_ird.k_"


@pytest.mark.parametrize("bad", ["livepipe.{room}", "live pipe.{kind}", "a.*.{kind}", "a..{kind}", "$JS.{kind}",
                                 "a.{kind}.", "a.{kind!r}"])
def test_bad_subject_templates_are_refused(bad):
    with pytest.raises(ValueError):
        template_tokens(bad)


def test_config_rules():
    base = {"type": "nats", "inputs": ["x"]}
    with pytest.raises(ValueError, match="only apply with jetstream"):
        NatsSinkConfig(**base, stream="S")
    with pytest.raises(ValueError, match="replicas only apply with jetstream"):
        NatsSinkConfig(**base, replicas=3)
    with pytest.raises(ValueError, match="replicas"):
        NatsSinkConfig(**base, jetstream=True, stream="S", replicas=6)  # JetStream allows at most 5
    with pytest.raises(ValueError, match="one authentication method"):
        NatsSinkConfig(**base, user="u", token="t")
    with pytest.raises(ValueError, match="password is set but user"):
        NatsSinkConfig(**base, password="p")
    with pytest.raises(ValueError, match="needs stream and durable"):
        NatsSourceConfig(type="nats", jetstream=True)
    with pytest.raises(ValueError, match="invalid"):
        NatsSourceConfig(type="nats", jetstream=True, stream="A.B", durable="d")


def test_secrets_never_print(tmp_path):
    cfg = NatsSinkConfig(type="nats", inputs=["x"], user="bob", password="hunter2-secret")
    assert "hunter2" not in repr(cfg) and "hunter2" not in str(cfg.model_dump())
    conn = NatsConnection(cfg, component="c", log=__import__("logging").getLogger("t"), resolve=lambda p: tmp_path / p)
    assert conn.options()["password"] == "hunter2-secret"  # handed to the client only
    assert redact_url("nats://bob:pw@host:4222") == "nats://bob:<redacted>@host:4222"
    assert redact_url("nats://s3cr3t-token@host:4222") == "nats://<redacted>@host:4222"
    toml = tmp_path / "p.toml"
    toml.write_text(
        """
[sources.s]
type = "nats"
token = { env = "NATS_TEST_TOKEN" }
[sinks.o]
type = "nats"
inputs = ["s"]
nkey_seed = "SUAIBDPBAUTWCWBKIO6XHQNINK5FWJW4OHLXC3HQ2KFE4PEJUA44CNHTBM"
""",
        encoding="utf-8",
    )
    env = {**os.environ, "NATS_TEST_TOKEN": "tok-very-secret", "LIVEPIPE_LOAD_PLUGINS": ""}
    r = subprocess.run([sys.executable, "-m", "livepipe", "config", "show", str(toml)], capture_output=True,
                       text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "tok-very-secret" not in r.stdout + r.stderr
    assert "SUAIBDPBAUTWCWBKIO6XHQNINK5FWJW4OHLXC3HQ2KFE4PEJUA44CNHTBM" not in r.stdout + r.stderr
