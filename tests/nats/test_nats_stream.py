"""nats sink, JetStream: the stream it creates has the configured settings; a refusal is named with the fix."""

from __future__ import annotations

import logging

import nats
import pytest
from nats.js.api import StorageType

from livepipe.testing import run_pipeline

pytestmark = pytest.mark.anyio


async def test_created_stream_has_the_configured_settings(nats_server, tmp_path):
    await run_pipeline(
        f"""
[sources.gen]
type = "t.natsgen"
count = 50
[sinks.js]
type = "nats"
inputs = ["gen"]
servers = ["{nats_server.url}"]
jetstream = true
stream = "MADE"
subject = "made.{{room_id}}.{{kind}}"
max_age = 3600
duplicate_window = 30
storage = "memory"
replicas = 1
""",
        tmp_path,
    )
    nc = await nats.connect(nats_server.url)
    try:
        info = await nc.jetstream().stream_info("MADE")
    finally:
        await nc.close()
    c = info.config
    assert c.subjects == ["made.>"]  # the template's prefix, as documented
    assert c.max_age == 3600 and c.duplicate_window == 30
    assert c.storage == StorageType.MEMORY and c.num_replicas == 1
    assert info.state.messages == 50


async def test_a_refused_stream_fails_the_pipeline_with_the_fix(nats_server, tmp_path, caplog):
    """A stream the server refuses to create is a permanent failure: reported once at ERROR with the
    server's reason and the fix, and the pipeline stops (instead of waiting forever)."""
    from livepipe.runtime.pipeline import PipelineError

    caplog.set_level(logging.DEBUG, logger="livepipe.sink.big")
    toml = f"""
[livepipe]
shutdown_timeout = 1
[sources.gen]
type = "t.natsgen"
count = 5
[sinks.big]
type = "nats"
inputs = ["gen"]
servers = ["{nats_server.url}"]
jetstream = true
stream = "BIG"
replicas = 3
reconnect_wait = 0.05
"""

    def refusals(level: int) -> list[str]:
        return [r.getMessage() for r in caplog.records
                if r.name == "livepipe.sink.big" and r.levelno == level and "cannot create" in r.getMessage()]

    with pytest.raises(PipelineError, match="sink 'big' failed: PermanentFailure: cannot create JetStream stream BIG"):
        await run_pipeline(toml, tmp_path)
    (error,) = refusals(logging.ERROR)  # once
    assert "BIG" in error and "replicas > 1 not supported in non-clustered mode" in error
    assert "create_stream = false" in error and "replicas" in error


async def test_a_stream_another_pipeline_creates_at_the_same_moment_is_used(nats_server, tmp_path, monkeypatch):
    """Two pipelines start at once: both see no stream, the other one creates it first, with settings of its
    own. This sink's create is then refused (name in use, 10058); it must use the stream, as it does one
    that was there before, not fail (seen in tests/test_distributed_example.py)."""
    from nats.js.client import JetStreamContext

    real_info = JetStreamContext.stream_info
    raced = []

    async def stream_info(self, name, *args, **kwargs):
        if not raced:  # the first look: missing; meanwhile another pipeline creates it, with other settings
            raced.append(name)
            other = await nats.connect(nats_server.url)
            try:
                await other.jetstream().add_stream(name=name, subjects=["race.>"], max_age=60)
            finally:
                await other.close()
            from nats.js.errors import NotFoundError
            raise NotFoundError
        return await real_info(self, name, *args, **kwargs)

    monkeypatch.setattr(JetStreamContext, "stream_info", stream_info)
    await run_pipeline(
        f"""
[sources.gen]
type = "t.natsgen"
count = 20
[sinks.js]
type = "nats"
inputs = ["gen"]
servers = ["{nats_server.url}"]
jetstream = true
stream = "RACE"
subject = "race.{{room_id}}.{{kind}}"
""",
        tmp_path,
    )
    nc = await nats.connect(nats_server.url)
    try:
        info = await nc.jetstream().stream_info("RACE")
    finally:
        await nc.close()
    assert raced == ["RACE"] and info.config.max_age == 60  # the other pipeline's stream, used as it is
    assert info.state.messages == 20
