"""Bilibili account credentials: the cookies a source or action sink uses.

A ``[credentials.NAME]`` table gives the cookies directly (each may be ``{ env = ... }`` or
``{ file = ... }``) or points at a ``cookie_file`` written by ``livepipe login`` or exported from a
browser (Netscape ``cookies.txt`` or JSON). Secret values are kept as ``SecretStr`` and never
appear in reprs, logs or errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import SecretStr, field_validator

# CredentialError lives with the cookie files (the lower of the two modules) and is re-exported here
from livepipe.bilibili.cookies import CredentialError, read_cookie_file
from livepipe.preflight import Problem, Problems, private_file
from livepipe.schema import CredentialConfig, Secret
from livepipe.schema import field as cfg_field


class BilibiliCredentialConfig(CredentialConfig):
    """The keys of a ``[credentials.NAME]`` table: one Bilibili account's cookies, or an open platform app's keys.

    Keys are matched without regard to case, so the cookie names (``SESSDATA``, ``DedeUserID``) work too.
    """

    cookie_file: str | None = cfg_field(
        None, description="read every cookie from this file (written by `livepipe login`, or a browser export); "
        "relative to the config file; keys given in the table win. Must be private (`chmod 600`)",
        also=("cookies", "cookie_path", "cookies_file"),
    )
    sessdata: Secret | None = cfg_field(None, description="the `SESSDATA` cookie: the login session", secret=True)
    bili_jct: Secret | None = cfg_field(None, description="the `bili_jct` cookie: the csrf token every action needs "
                                    "(missing: -111)", secret=True, also=("csrf", "jct"))
    dedeuserid: int | str | None = cfg_field(
        None, description="the `DedeUserID` cookie: the account's uid, checked against the session",
        also=("uid", "mid", "user_id", "dede_user_id"),
    )
    buvid3: str | None = cfg_field(None, description="device id cookie used by getDanmuInfo (fetched when missing)",
                               also=("buvid",))
    buvid4: str | None = cfg_field(None, description="second device id cookie (optional)")
    refresh_token: Secret | None = cfg_field(
        None, description="the refresh token (`ac_time_value`): enables automatic cookie refresh", secret=True,
        also=("refresh",),
    )
    ac_time_value: Secret | None = cfg_field(None, description="the same refresh token under its cookie name; give "
                                         "one of `refresh_token` and `ac_time_value`", secret=True)
    bili_ticket: Secret | None = cfg_field(None, description="the `bili_ticket` cookie (optional; lowers risk control)",
                                       secret=True, also=("ticket",))
    # the open platform (bilibili.open): an app's keys and the streamers' identity codes
    app_id: int | str | None = cfg_field(None, description="open platform: the project's id (项目ID)",
                                         also=("appid", "project_id"))
    access_key_id: Secret | None = cfg_field(None, description="open platform: the developer's access_key_id",
                                             secret=True, also=("access_key", "key_id"))
    access_key_secret: Secret | None = cfg_field(None, description="open platform: the developer's "
                                                 "access_key_secret", secret=True, also=("secret", "key_secret"))
    code: Secret | None = cfg_field(None, description="open platform: a streamer's identity code (身份码)",
                                    secret=True, also=("identity_code", "idcode"))
    codes: list[Secret] | None = cfg_field(None, description="open platform: several identity codes, one room each",
                                           secret=True)

    @field_validator("dedeuserid")
    @classmethod
    def _uid_is_a_number(cls, v: int | str | None) -> int | str | None:
        if isinstance(v, str) and not v.strip().isdigit():
            raise ValueError("DedeUserID must be a number (the account's uid)")
        if isinstance(v, int) and (isinstance(v, bool) or v <= 0):
            raise ValueError("DedeUserID must be a positive number (the account's uid)")
        return v

    def preflight(self, name: str, config_dir: Path) -> Problems:
        """The cookie file must exist, be private to this user, and hold Bilibili cookies."""
        if not self.cookie_file:
            return
        p = Path(self.cookie_file).expanduser()
        p = p if p.is_absolute() else config_dir / p
        found = list(private_file(p, "cookie_file", "cookie file"))
        if not found:
            try:
                read_cookie_file(p)
            except CredentialError as e:
                found.append(Problem("cookie_file", f"{e} — log in again with `livepipe login --out {p}`"))
        yield from found


#: Config keys (case-insensitive) and the cookie each one is.
COOKIE_KEYS = {
    "sessdata": "SESSDATA",
    "bili_jct": "bili_jct",
    "dedeuserid": "DedeUserID",
    "buvid3": "buvid3",
    "buvid4": "buvid4",
    "ac_time_value": "ac_time_value",
    "bili_ticket": "bili_ticket",
}


def _plain(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, SecretStr):
        v = v.get_secret_value()
    v = str(v).strip()
    return v or None


@dataclass(frozen=True, repr=False)
class Credential:
    """One account's cookies. ``str``/``repr`` show only the name, uid and whether it is logged in."""

    name: str
    sessdata: SecretStr | None = None
    bili_jct: SecretStr | None = None
    dedeuserid: int | None = None
    buvid3: str | None = None
    buvid4: str | None = None
    #: the refresh token (``ac_time_value`` / ``refresh_token``) used by the cookie-refresh flow
    refresh_token: SecretStr | None = None
    bili_ticket: SecretStr | None = None
    #: where the cookies came from, so refreshed cookies can be written back
    cookie_file: Path | None = None
    extra: dict[str, SecretStr] = field(default_factory=dict)

    def __repr__(self) -> str:
        state = "logged in" if self.logged_in else "anonymous"
        uid = f" uid={self.dedeuserid}" if self.dedeuserid else ""
        return f"<Credential {self.name!r}{uid} {state}>"

    __str__ = __repr__

    @property
    def logged_in(self) -> bool:
        """True when a SESSDATA cookie is present (whether it is still valid is for nav to say)."""
        return self.sessdata is not None

    @property
    def csrf(self) -> str | None:
        """The csrf token (the ``bili_jct`` cookie), or None."""
        return _plain(self.bili_jct)

    def cookies(self) -> dict[str, str]:
        """The cookies to send, as plain strings (only for the HTTP and WebSocket clients)."""
        out: dict[str, str] = {}
        for attr, cookie in (("sessdata", "SESSDATA"), ("bili_jct", "bili_jct"), ("buvid3", "buvid3"),
                             ("buvid4", "buvid4"), ("bili_ticket", "bili_ticket")):
            v = _plain(getattr(self, attr))
            if v:
                out[cookie] = v
        if self.dedeuserid:
            out["DedeUserID"] = str(self.dedeuserid)
        for k, v in self.extra.items():
            out[k] = v.get_secret_value()
        return out

    def with_buvid(self, buvid3: str, buvid4: str | None = None) -> Credential:
        """A copy with device ids filled in (they are not secret)."""
        return replace(self, buvid3=buvid3, buvid4=buvid4 or self.buvid4)

    def with_ticket(self, ticket: str) -> Credential:
        """A copy with a new ``bili_ticket`` cookie (from GenWebTicket)."""
        return replace(self, bili_ticket=SecretStr(ticket))

    def with_cookies(self, cookies: dict[str, str], refresh_token: str | None = None) -> Credential:
        """A copy with new cookie values (after login or refresh)."""
        c = self
        if "SESSDATA" in cookies:
            c = replace(c, sessdata=SecretStr(cookies["SESSDATA"]))
        if "bili_jct" in cookies:
            c = replace(c, bili_jct=SecretStr(cookies["bili_jct"]))
        if cookies.get("DedeUserID", "").isdigit():
            c = replace(c, dedeuserid=int(cookies["DedeUserID"]))
        if "buvid3" in cookies:
            c = replace(c, buvid3=cookies["buvid3"])
        if refresh_token:
            c = replace(c, refresh_token=SecretStr(refresh_token))
        return c

    @classmethod
    def anonymous(cls) -> Credential:
        """No account: connections get masked user names (see the docs)."""
        return cls(name="anonymous")

    @classmethod
    def from_table(cls, name: str, table: dict[str, Any], config_dir: Path | None = None) -> Credential:
        """Build from a resolved ``[credentials.NAME]`` table (values may be ``SecretStr``)."""
        values: dict[str, Any] = {}
        cookie_file: Path | None = None
        for key, value in table.items():
            k = key.lower()
            if k == "cookie_file":
                p = Path(_plain(value) or "").expanduser()
                cookie_file = p if p.is_absolute() or config_dir is None else config_dir / p
                continue
            if k in ("refresh_token",):
                k = "ac_time_value"
            if k not in COOKIE_KEYS and k in BilibiliCredentialConfig.model_fields:
                continue  # an open platform key: not a cookie
            if k not in COOKIE_KEYS:
                raise CredentialError(
                    f"credentials.{name}: unknown key '{key}'; valid keys: cookie_file, "
                    + ", ".join(sorted(set(COOKIE_KEYS.values()) | {"refresh_token"}))
                )
            values[k] = value
        if cookie_file is not None:
            for k, v in read_cookie_file(cookie_file).items():
                values.setdefault(k.lower() if k.lower() in COOKIE_KEYS else k, v)
        uid_raw = _plain(values.get("dedeuserid"))
        if uid_raw is not None and not uid_raw.isdigit():
            raise CredentialError(f"credentials.{name}: DedeUserID must be a number (the account's uid)")

        def secret(k: str) -> SecretStr | None:
            v = _plain(values.get(k))
            return SecretStr(v) if v else None

        extra = {k: SecretStr(str(v)) for k, v in values.items() if k not in COOKIE_KEYS and _plain(v)}
        return cls(
            name=name,
            sessdata=secret("sessdata"),
            bili_jct=secret("bili_jct"),
            dedeuserid=int(uid_raw) if uid_raw else None,
            buvid3=_plain(values.get("buvid3")),
            buvid4=_plain(values.get("buvid4")),
            refresh_token=secret("ac_time_value"),
            bili_ticket=secret("bili_ticket"),
            cookie_file=cookie_file,
            extra=extra,
        )
