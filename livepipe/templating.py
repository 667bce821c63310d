"""Text templates: one language (Jinja2, sandboxed) for every template livepipe or a plugin renders.

Webhook bodies, notification titles, the assistant's thanks and roomctl's titles are all written as
Jinja2 templates (``{{ uname|short(6) }} 赠送的 {{ event.gift.name }} x{{ event.gift.num }}``) and
rendered in an immutable sandbox: a template reads the values it is given and calls the filters
below; it cannot import, write attributes, mutate containers or reach private attributes.

Templates are checked when the configuration is validated, not when the first gift arrives:
:func:`compile_template` reports a syntax error, an unknown filter, an unknown name or an unknown
field of a typed value (``event.gift.nmae``) with the line of the template it is on. Whatever the
check cannot see (a key of ``data``, a value that is missing at run time) fails when rendering with
a :class:`TemplateError`, never as an empty string.

Filters, beside Jinja2's built-in ones:

========================  =====================================================================
``short(n=8, end="…")``   a name cut to ``n`` characters (``end`` appended when cut)
``num``                   a count the way Chinese chat writes it: ``9999``, ``1.2万``, ``3.4亿``
``yuan``                  an amount of money in yuan: ``¥30``, ``¥0.5``
``strftime(fmt)``         a datetime (or unix time) formatted: ``{{ now|strftime("%H:%M") }}``
``timeofday``             凌晨 / 早上 / 上午 / 中午 / 下午 / 晚上 for a datetime (or unix time)
========================  =====================================================================

Templates write short texts, so a render is bounded: at most :data:`MAX_OUTPUT` characters of
output, at most :data:`MAX_ITEMS` items from ``range()`` and from repeating a string or list
(``"x" * n``) all together in one render, and no power with a result of more than
:data:`MAX_POWER_BITS` bits. A template past a bound fails its render (a :class:`TemplateError`)
in well under a second instead of stalling the pipeline.
"""

from __future__ import annotations

import contextvars
import dataclasses
import difflib
import math
import operator
import types
import typing
from collections.abc import Mapping
from datetime import datetime, timezone
from functools import cache
from typing import Annotated, Any

import jinja2
from jinja2 import meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import AfterValidator

from livepipe.errors import ConfigurationError
from livepipe.events import Event

__all__ = [
    "EVENT_NAMES", "EventTemplate", "Template", "TemplateError", "check_event_template", "compile_template",
    "environment", "event_values",
]


class TemplateError(ConfigurationError, ValueError):
    """A template is malformed, names something unknown, or failed to render.

    ``lineno`` is the line of the template (1 for the first) when it is known, else ``None``.
    """

    def __init__(self, message: str, lineno: int | None = None) -> None:
        self.lineno = lineno
        super().__init__(f"template line {lineno}: {message}" if lineno else message)


# --------------------------------------------------------------------------------------------
# Filters


def short(value: object, n: int = 8, end: str = "…") -> str:
    """``value`` as text cut to ``n`` characters, ``end`` appended when it was cut."""
    text = "" if value is None else str(value)
    return text if len(text) <= n else text[: max(n, 0)] + end


def num(value: float | int) -> str:
    """A count as Chinese chat writes it: ``9999``, ``1.2万`` (ten thousands), ``3.4亿`` (hundred millions)."""
    v = float(value)
    for unit, size in (("亿", 1e8), ("万", 1e4)):
        if abs(v) >= size:
            return f"{v / size:.1f}".rstrip("0").rstrip(".") + unit
    return str(int(v)) if v == int(v) else f"{v:g}"


def yuan(value: float | int) -> str:
    """An amount in yuan with its sign: ``¥30``, ``¥0.5``, ``¥1.25``."""
    v = round(float(value), 2)
    return "¥" + (str(int(v)) if v == int(v) else f"{v:.2f}".rstrip("0"))


def _as_datetime(value: datetime | float | int) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromtimestamp(float(value), timezone.utc)


def strftime(value: datetime | float | int, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A datetime (or unix time, read as UTC) formatted with ``fmt``."""
    return _as_datetime(value).strftime(fmt)


def timeofday(value: datetime | float | int) -> str:
    """The part of the day, as a streamer would greet: 凌晨, 早上, 上午, 中午, 下午 or 晚上."""
    hour = _as_datetime(value).hour
    for last, name in ((4, "凌晨"), (7, "早上"), (10, "上午"), (12, "中午"), (17, "下午")):
        if hour <= last:
            return name
    return "晚上"


FILTERS: dict[str, Any] = {"short": short, "num": num, "yuan": yuan, "strftime": strftime, "timeofday": timeofday}


# --------------------------------------------------------------------------------------------
# Bounds of one render

#: Most characters one render may produce.
MAX_OUTPUT = 65_536
#: Most items ``range()`` and repetition (``"ab" * n``, ``[x] * n``) may make, all together, in one render.
MAX_ITEMS = 100_000
#: Largest result of ``**``, in bits.
MAX_POWER_BITS = 4_096

#: The items left to the render under way (``None`` outside a render: each call is bounded alone).
_BUDGET: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("livepipe_template_budget",
                                                                           default=None)


def _charge(n: int, what: str) -> None:
    if n > MAX_ITEMS:
        raise SecurityError(f"{what} would make {n} items; a template may make at most {MAX_ITEMS}")
    budget = _BUDGET.get()
    if budget is not None:
        budget[0] -= n
        if budget[0] < 0:
            raise SecurityError(f"{what}: the template made more than {MAX_ITEMS} items with range() and "
                                "repetition in one render (a loop inside a loop?)")


def _range(*args: int) -> range:
    """``range`` counted against the render's item budget."""
    rng = range(*args)
    _charge(len(rng), f"range({', '.join(map(str, args))})")
    return rng


class _Environment(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with ``*`` and ``**`` bounded (``"x" * 10**9`` would take a gigabyte)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: jinja2.runtime.Context, operator_: str, left: Any, right: Any) -> Any:
        """``left * right`` or ``left ** right``, refused past the bounds of one render."""
        if operator_ == "**":
            if (isinstance(left, (int, float)) and isinstance(right, (int, float)) and abs(left) > 1
                    and right > 0 and right * math.log2(abs(left)) > MAX_POWER_BITS):
                raise SecurityError(f"{left!r} ** {right!r} is larger than {MAX_POWER_BITS} bits")
            return operator.pow(left, right)
        for seq, n in ((left, right), (right, left)):
            if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and not isinstance(n, bool):
                _charge(len(seq) * max(n, 0), "repetition")
        return operator.mul(left, right)


def _make_environment() -> ImmutableSandboxedEnvironment:
    env = _Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)
    env.filters.update(FILTERS)
    env.globals["range"] = _range
    env.globals.pop("lipsum", None)  # placeholder text has no place in a message, and lipsum(10**9) no end
    return env


_ENVIRONMENT = _make_environment()


def environment() -> ImmutableSandboxedEnvironment:
    """The one sandboxed Jinja2 environment every template is compiled in.

    Undefined names fail (``StrictUndefined``), output is plain text (no HTML escaping; use ``|e``
    where a template writes HTML), and a trailing newline is kept as written.
    """
    return _ENVIRONMENT


# --------------------------------------------------------------------------------------------
# Compiling and checking


class Template:
    """A checked template, ready to render: ``template.render({"event": ev, "now": now})``."""

    __slots__ = ("source", "names", "_compiled")

    def __init__(self, source: str, names: Mapping[str, Any], compiled: jinja2.Template) -> None:
        self.source = source
        self.names = dict(names)
        self._compiled = compiled

    def render(self, values: Mapping[str, Any]) -> str:
        """The text for ``values``; :class:`TemplateError` (with the template line) if rendering fails."""
        token = _BUDGET.set([MAX_ITEMS])
        try:
            chunks: list[str] = []
            size = 0
            for chunk in self._compiled.generate(values):
                size += len(chunk)
                if size > MAX_OUTPUT:
                    raise TemplateError(f"the text is longer than {MAX_OUTPUT} characters (MAX_OUTPUT)")
                chunks.append(chunk)
            return "".join(chunks)
        except TemplateError:
            raise
        except jinja2.TemplateError as e:
            raise TemplateError(_message(e), getattr(e, "lineno", None) or _render_line(e)) from None
        except Exception as e:  # a filter given a wrong type, a division by zero in the template
            raise TemplateError(f"{type(e).__name__}: {e}", _render_line(e)) from None
        finally:
            _BUDGET.reset(token)

    def __repr__(self) -> str:
        return f"Template({self.source!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Template) and other.source == self.source and other.names == self.names

    def __hash__(self) -> int:
        return hash(self.source)


def compile_template(source: str, names: Mapping[str, Any]) -> Template:
    """Compile ``source`` and check it against ``names``; raise :class:`TemplateError` when it is wrong.

    ``names`` maps each name the template may use to its type: a dataclass, a NamedTuple or another
    class with annotations has its fields (and properties) checked, recursively; ``Any``, ``dict``
    and other types are not looked into. Names defined inside the template (``{% set %}``,
    ``{% for %}``) and the environment's globals (``range``, ``dict``, ...) are always allowed.
    """
    env = environment()
    try:
        tree = env.parse(source)
        compiled = env.from_string(tree)
    except jinja2.TemplateSyntaxError as e:
        raise TemplateError(_message(e), e.lineno) from None
    undeclared = meta.find_undeclared_variables(tree) - set(env.globals)
    unknown = sorted(undeclared - set(names))
    if unknown:
        name = unknown[0]
        raise TemplateError(f"unknown name {name!r}{_suggest(name, names)}; the names here are "
                            + ", ".join(sorted(names)), _first_line(tree, name))
    _check_fields(tree, names)
    return Template(source, names, compiled)


def _message(e: jinja2.TemplateError) -> str:
    msg = e.message or type(e).__name__
    if isinstance(e, jinja2.UndefinedError):
        msg += " (guard it with {% if ... is defined %} or give a default with |default(...))"
    return msg


def _render_line(e: BaseException) -> int | None:
    tb = e.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _suggest(name: str, choices: Mapping[str, Any] | list[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _first_line(tree: nodes.Template, name: str) -> int | None:
    for node in tree.find_all(nodes.Name):
        if node.name == name and node.ctx == "load":
            return node.lineno
    return None


def _check_fields(tree: nodes.Template, names: Mapping[str, Any]) -> None:
    """Every ``a.b.c`` on a typed name must be a field (or property) of the type at each step."""
    local = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    for node in tree.find_all(nodes.Getattr):
        owner = _static_type(node.node, names, local)
        if owner is None:
            continue
        fields = _fields(owner)
        if fields is not None and node.attr not in fields:
            path = _dotted(node)
            raise TemplateError(f"unknown field {path!r}{_suggest(node.attr, sorted(fields))}; "
                                f"{owner.__name__} has " + ", ".join(sorted(_attribute_types(owner))), node.lineno)


def _dotted(node: nodes.Node) -> str:
    if isinstance(node, nodes.Getattr):
        return f"{_dotted(node.node)}.{node.attr}"
    if isinstance(node, nodes.Name):
        return node.name
    return "…"


def _static_type(node: nodes.Node, names: Mapping[str, Any], local: set[str]) -> type | None:
    """The class of ``node``'s value when it can be known before rendering, else ``None``."""
    if isinstance(node, nodes.Name):
        if node.name in local:
            return None
        return _checkable(names.get(node.name))
    if isinstance(node, nodes.Getattr):
        owner = _static_type(node.node, names, local)
        if owner is None:
            return None
        return _checkable(_attribute_types(owner).get(node.attr))
    return None


def _checkable(tp: Any) -> type | None:
    """``tp`` without ``None`` in a union, when it is a class whose attributes can be listed."""
    if isinstance(tp, (types.UnionType,)) or typing.get_origin(tp) is typing.Union:
        rest = [a for a in typing.get_args(tp) if a is not type(None)]
        tp = rest[0] if len(rest) == 1 else None
    if not isinstance(tp, type) or tp in (dict, list, tuple, str, int, float, bool, object):
        return None
    return tp if _fields(tp) is not None else None


def _fields(tp: type) -> set[str] | None:
    """The public attribute names of ``tp`` a template may read, or ``None`` if they cannot be listed."""
    if dataclasses.is_dataclass(tp) or hasattr(tp, "_fields"):
        found = set(_attribute_types(tp))
        found.update(n for n in dir(tp) if not n.startswith("_"))
        return found
    return None


@cache
def _attribute_types(tp: type) -> dict[str, Any]:
    """Field and property name -> type, from the annotations (unresolvable ones read as ``Any``)."""
    out: dict[str, Any] = {}
    for klass in reversed(tp.__mro__):
        try:
            hints = typing.get_type_hints(klass)
        except Exception:
            hints = {k: Any for k in getattr(klass, "__annotations__", {})}
        out.update({k: v for k, v in hints.items() if not k.startswith("_")})
    for name in dir(tp):
        prop = getattr(tp, name, None)
        if isinstance(prop, property) and not name.startswith("_") and prop.fget is not None:
            try:
                out[name] = typing.get_type_hints(prop.fget).get("return", Any)
            except Exception:
                out[name] = Any
    return out


# --------------------------------------------------------------------------------------------
# Templates over one event


#: The names a template over one event sees (webhook bodies, notifications, replies).
EVENT_NAMES: dict[str, Any] = {
    "event": Event, "kind": str, "room_id": int | None, "uid": int | None, "uname": str | None,
    "text": str | None, "data": dict, "now": datetime,
}


def event_values(event: Event, now: datetime | None = None) -> dict[str, Any]:
    """The values of :data:`EVENT_NAMES` for ``event``; ``now`` defaults to the current UTC time."""
    return {"event": event, "kind": event.kind, "room_id": event.room_id, "uid": event.uid,
            "uname": event.uname, "text": event.text, "data": event.data,
            "now": now if now is not None else datetime.now(timezone.utc)}


def check_event_template(source: str) -> str:
    """Validate ``source`` as a template over one event (for a config field's validator); return it."""
    compile_template(source, EVENT_NAMES)
    return source


#: A config field holding a template over one event, checked when the configuration is validated.
EventTemplate = Annotated[str, AfterValidator(check_event_template)]
