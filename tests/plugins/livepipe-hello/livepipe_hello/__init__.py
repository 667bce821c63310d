"""A tiny third-party plugin: a processor that shouts, and a replay format for chat lines."""

from livepipe import hookimpl
from livepipe.component import Emit, Processor
from livepipe.components.replay_formats import ReplayFormat
from livepipe.events import Event, make_event
from livepipe.schema import ProcessorConfig, field


class Shout(Processor):
    """Upper-cases the text of every event and appends a suffix."""

    type_name = "hello.shout"

    class Config(ProcessorConfig):
        """Config of hello.shout."""

        suffix: str = field("!", description="appended to every text")

    async def process(self, event: Event, emit: Emit) -> None:
        """Shout the text."""
        await emit(event.replace(text=(event.text or "").upper() + self.config.suffix))


@hookimpl
def livepipe_register_components(registry):
    """Register hello.shout."""
    registry.register(Shout)


def parse_chat(obj, room_id):
    """One chat line ``{"who": ..., "said": ..., "at": unix time}`` -> a danmaku event."""
    return make_event("danmaku", room_id=room_id or 0, ts=float(obj["at"]), uname=obj["who"], text=obj["said"])


@hookimpl
def livepipe_replay_formats():
    """Register the hello.chat replay format."""
    return [ReplayFormat("hello.chat", parse_chat, "one chat line {who, said, at} per line",
                         detect=lambda obj: "said" in obj)]
