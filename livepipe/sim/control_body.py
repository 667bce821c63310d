"""Declared request bodies of the control API: every ``POST /_sim/...`` route names the keys it accepts.

A route is wrapped with :func:`accepts`, which reads the body, rejects any key the route's
:class:`BodySchema` does not declare with HTTP 400 naming the key (``{"admin_of": 76}`` must not
quietly make a plain account), converts the declared ones, and calls the route with the result as
its second argument. The wrapper keeps the schema on the handler (``handler.body_schema``), so a test
can check that no control route is left undeclared.

Errors are JSON: ``{"error": "...", "unknown_keys": [...]}`` (``unknown_keys`` only for unknown keys).
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

Converter = Callable[[Any], Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
BodyHandler = Callable[[web.Request, dict[str, Any]], Awaitable[web.StreamResponse]]


def bad_request(message: str, **extra: Any) -> web.HTTPBadRequest:
    """An HTTP 400 whose JSON body says ``message`` (plus ``extra`` fields)."""
    return web.HTTPBadRequest(text=json.dumps({"error": message, **extra}, ensure_ascii=False),
                              content_type="application/json")


def as_int(value: Any) -> int:
    """An integer, from a JSON number or a form's digits (not a bool, not a fraction)."""
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(f"expected an integer, got {value!r}")
    return int(value)


def as_float(value: Any) -> float:
    """A number, from JSON or a form."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)


def as_bool(value: Any) -> bool:
    """A boolean; forms may say ``1``/``true``/``yes``/``on`` or ``0``/``false``/``no``/``off``."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def as_str(value: Any) -> str:
    """A string (a JSON string or a number)."""
    if isinstance(value, (dict, list, bool)) or value is None:
        raise ValueError(f"expected a string, got {value!r}")
    return str(value)


def as_int_list(value: Any) -> list[int]:
    """A list of integers; a form may give them comma-separated."""
    if isinstance(value, str):
        value = [v for v in value.split(",") if v.strip()]
    if not isinstance(value, list):
        value = [value]
    return [as_int(v) for v in value]


def as_messages(value: Any) -> list[dict[str, Any]]:
    """A list of cmd dicts."""
    if not isinstance(value, list) or not all(isinstance(m, dict) for m in value):
        raise ValueError("expected a list of message objects")
    return [dict(m) for m in value]


def as_is(value: Any) -> Any:
    """Unchanged (the receiving object converts and checks the value itself)."""
    return value


@dataclass(frozen=True)
class BodySchema:
    """The keys one control route accepts, each with the converter that checks its value.

    ``raw_if``: a body holding this key is not a set of options but a payload passed through as is
    (``POST /_sim/rooms/{id}/inject`` with a ``cmd`` key is a Bilibili message, whatever its keys);
    ``raw_keeps`` lists the option keys still taken out of such a body (``ver``).
    """

    keys: Mapping[str, Converter]
    raw_if: str | None = None
    raw_keeps: Mapping[str, Converter] = dataclasses.field(default_factory=dict)

    @classmethod
    def of_fields(cls, dataclass_type: type, **more: Converter) -> BodySchema:
        """Every field of ``dataclass_type`` (its own ``update`` converts them), plus ``more``."""
        return cls({**{f.name: as_is for f in dataclasses.fields(dataclass_type)}, **more})

    def parse(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Check and convert ``data``; raises :func:`bad_request` naming unknown keys or bad values."""
        if self.raw_if is not None and self.raw_if in data:
            out = {k: v for k, v in data.items() if k not in self.raw_keeps}
            return {"raw": out, **self._convert({k: data[k] for k in self.raw_keeps if k in data}, self.raw_keeps)}
        unknown = sorted(set(data) - set(self.keys))
        if unknown:
            names = ", ".join(repr(k) for k in unknown)
            valid = ", ".join(sorted(self.keys)) or "(none: send no body)"
            raise bad_request(f"unknown key{'s' if len(unknown) > 1 else ''} {names}; valid keys: {valid}",
                              unknown_keys=unknown)
        return self._convert(data, self.keys)

    @staticmethod
    def _convert(data: Mapping[str, Any], keys: Mapping[str, Converter]) -> dict[str, Any]:
        out = {}
        for name, value in data.items():
            try:
                out[name] = keys[name](value)
            except (TypeError, ValueError) as e:
                raise bad_request(f"key {name!r}: {e}") from None
        return out


async def read_body(request: web.Request, *, form: bool) -> dict[str, Any]:
    """The body as a dict: a JSON object; with ``form``, also a form or query parameters."""
    data: dict[str, Any] = dict(request.query) if form else {}
    if not request.can_read_body:
        return data
    if form and request.content_type != "application/json":
        data.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
        return data
    text = await request.text()
    if not text.strip():
        return data
    try:
        body = json.loads(text)
    except ValueError:
        raise bad_request("body must be JSON") from None
    if not isinstance(body, dict):
        raise bad_request("body must be a JSON object")
    data.update(body)
    return data


#: The body of a route that takes none: any key is a 400.
NO_BODY = BodySchema({})

def accepts(schema: BodySchema, *, form: bool = False) -> Callable[[BodyHandler], Handler]:
    """Declare the body of a control route, called as ``route(request, body)``; unknown keys are a 400.

    ``form``: the body may also be a form or query parameters (the action control routes).
    """

    def wrap(handler: BodyHandler) -> Handler:
        @functools.wraps(handler)
        async def route(request: web.Request) -> web.StreamResponse:
            return await handler(request, schema.parse(await read_body(request, form=form)))

        route.body_schema = schema  # type: ignore[attr-defined]
        return route

    return wrap
