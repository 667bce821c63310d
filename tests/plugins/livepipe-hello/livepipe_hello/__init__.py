"""A tiny third-party plugin: a processor that shouts."""

from livepipe import hookimpl
from livepipe.component import Emit, Processor
from livepipe.events import Event
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
