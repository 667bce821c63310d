"""Input formats of the ``replay`` source: how the JSON object on one line of a recording becomes events.

``events`` (livepipe's own JSON form, one event per line) is built in. Every other format is registered
by a plugin through the ``livepipe_replay_formats`` hook, the built-in ``bilibili`` one (raw Bilibili cmd
messages) by the Bilibili layer like any third party::

    from livepipe import hookimpl
    from livepipe.components.replay_formats import ReplayFormat

    @hookimpl
    def livepipe_replay_formats():
        return [ReplayFormat("myservice", parse_line, "one MyService chat message per line",
                             detect=lambda obj: "said" in obj)]

A config names a format with ``format = "NAME"`` on its replay source; ``format = "auto"`` (the default)
decides per line: an object with a ``kind`` key is an event, any other goes to the first registered
format whose ``detect`` accepts it.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from livepipe import plugins
from livepipe.errors import PluginError
from livepipe.events import Event

__all__ = ["AUTO", "EVENTS", "ReplayFormat", "find_format", "replay_formats"]

#: The ``format`` value that decides per line (not a format itself).
AUTO = "auto"


@dataclass(frozen=True)
class ReplayFormat:
    """One input format of the ``replay`` source, as a plugin registers it.

    ``parse(obj, room_id)`` turns the JSON object of one line into events: an :class:`~livepipe.events.Event`,
    an iterable of them, or ``None`` for none. ``room_id`` is the source's ``room_id`` key (``None`` when
    unset; never ``None`` when ``needs_room_id``). Any exception it raises skips that line as a bad line
    (reason ``bad_message``) and the replay goes on. ``detect(obj)`` says whether ``format = "auto"``
    should hand a line without a ``kind`` to this format (``None``: only when named). ``description``
    is one line for the docs and for messages.
    """

    name: str
    parse: Callable[[dict[str, Any], int | None], Event | Iterable[Event] | None]
    description: str
    detect: Callable[[dict[str, Any]], bool] | None = None
    needs_room_id: bool = False


def _parse_event(obj: dict[str, Any], room_id: int | None) -> Event:
    return Event.from_dict(obj)


#: The built-in format: one event per line in its JSON form (what the ``file`` sink writes).
EVENTS = ReplayFormat("events", _parse_event, "one livepipe event per line in its JSON form "
                      "(what the `file` sink writes)", detect=lambda obj: "kind" in obj)


def replay_formats() -> dict[str, ReplayFormat]:
    """Every known format by name, in order: ``events`` first, then those of the installed plugins
    (in the order pluggy calls their ``livepipe_replay_formats`` hooks).

    Raises :class:`~livepipe.errors.PluginError` naming the plugin when a hook fails, returns something
    that is not a :class:`ReplayFormat`, or a name already taken (``auto``, ``events``, or another plugin's).
    """
    found: dict[str, ReplayFormat] = {EVENTS.name: EVENTS}
    owner: dict[str, str] = {AUTO: "livepipe itself", EVENTS.name: "livepipe itself"}
    pm = plugins.manager()
    for impl in reversed(pm.hook.livepipe_replay_formats.get_hookimpls()):
        if impl.hookwrapper or impl.wrapper:
            continue  # a wrapper returns nothing of its own
        try:
            result = impl.function()
        except Exception as e:  # say whose hook failed, not only how
            raise PluginError(f"plugin {impl.plugin_name!r}: livepipe_replay_formats failed: "
                              f"{type(e).__name__}: {e}") from e
        for fmt in result or ():
            if not isinstance(fmt, ReplayFormat):
                raise PluginError(f"plugin {impl.plugin_name!r}: livepipe_replay_formats returned {fmt!r}; "
                                  "return a list of livepipe.components.replay_formats.ReplayFormat")
            if not fmt.name or fmt.name in owner:
                by = owner.get(fmt.name, "?")
                raise PluginError(f"replay format {fmt.name!r} is registered twice: by {by} and by plugin "
                                  f"{impl.plugin_name!r}; uninstall one of them" if fmt.name else
                                  f"plugin {impl.plugin_name!r}: a replay format needs a name")
            found[fmt.name] = fmt
            owner[fmt.name] = f"plugin {impl.plugin_name!r}"
    return found


def find_format(name: str, formats: dict[str, ReplayFormat] | None = None) -> ReplayFormat | None:
    """The format called ``name`` (``None`` for ``auto``).

    Raises ``ValueError`` for an unknown name, naming the closest known one and listing them all (a
    config validator turns it into a config error at the ``format`` key).
    """
    formats = replay_formats() if formats is None else formats
    if name == AUTO:
        return None
    fmt = formats.get(name)
    if fmt is not None:
        return fmt
    known = [AUTO, *formats]
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    raise ValueError(f"unknown replay format '{name}'; {hint}known formats: {', '.join(known)}. A format from a "
                     "plugin needs that plugin installed (see `livepipe plugins`)")
