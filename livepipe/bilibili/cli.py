"""Account commands: ``livepipe login`` and ``livepipe credentials check``.

``login_command`` and the ``credentials`` group are attached to the main CLI in
``livepipe.cli._attach_optional_commands``. Secret cookie values are never printed.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import anyio
import click

from livepipe.bilibili.api import ApiError, Endpoints
from livepipe.bilibili.credential import Credential, CredentialError

#: exit status when the credential is not usable (not logged in, uid mismatch, no csrf)
EXIT_NOT_OK = 1
#: exit status for a bad cookie file or config
EXIT_CONFIG = 78


def _endpoints(base_url: str | None) -> Endpoints:
    return Endpoints.at(base_url) if base_url else Endpoints()


def _verify(insecure: bool, ca_file: str | None) -> Any:
    if insecure:
        return False
    if ca_file:
        import ssl

        return ssl.create_default_context(cafile=ca_file)
    return True


def _check_proxy(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--proxy``: a usable proxy URL, or a usage error saying what is wrong (without the URL's password)."""
    if value is None:
        return None
    from livepipe.bilibili.transport import check_proxy

    try:
        return check_proxy(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


def render_qr(url: str) -> str:
    """The QR code of ``url`` drawn with block characters (dark modules on a light terminal border)."""
    import qrcode

    qr = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_L)
    qr.add_data(url)
    qr.make(fit=True)
    out = io.StringIO()
    qr.print_ascii(out=out, invert=True)
    return out.getvalue()


_STATES = {86101: "waiting for the scan...", 86090: "scanned; confirm the login on the phone...", 0: "confirmed"}


@click.command("login")
@click.option("--out", "out", type=click.Path(dir_okay=False), default=None,
              help="Cookie file to write (default ~/.config/livepipe/cookies-<uid>.json).")
@click.option("--base-url", default=None, help="One base URL for every Bilibili host (a simulator); default: real.")
@click.option("--timeout", type=float, default=180.0, show_default=True, help="Seconds to wait for the scan.")
@click.option("--poll-interval", type=float, default=2.0, show_default=True, help="Seconds between polls.")
@click.option("--insecure", is_flag=True, help="Do not verify TLS certificates (a self-signed simulator).")
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Extra CA certificates (PEM) to trust.")
@click.option("--proxy", default=None, callback=_check_proxy, metavar="URL",
              help="Proxy for every request: http://host:port, socks5://host:port or socks5h://... "
              "(may carry user:password@; never printed).")
def login_command(out: str | None, base_url: str | None, timeout: float, poll_interval: float, insecure: bool,
                  ca_file: str | None, proxy: str | None) -> None:  # fmt: skip
    """Log in by scanning a QR code with the Bilibili app; save the cookies to a file only you can read."""
    from livepipe.bilibili.cookies import write_cookie_file
    from livepipe.bilibili.login import LoginError, default_cookie_path, qr_login

    def show(url: str) -> None:
        click.echo("Scan this QR code with the Bilibili app (我的 -> 扫一扫), then confirm on the phone:\n")
        click.echo(render_qr(url))
        click.echo(f"(or open this URL on the phone: {url})\n")

    def on_state(state: int) -> None:
        if state in _STATES:
            click.echo(_STATES[state], err=True)

    try:
        result = anyio.run(lambda: qr_login(_endpoints(base_url), show=show, on_state=on_state,
                                            poll_interval=poll_interval, timeout=timeout,
                                            verify=_verify(insecure, ca_file), proxy=proxy))  # fmt: skip
    except (LoginError, ApiError) as e:
        click.echo(f"livepipe login: {e}", err=True)
        sys.exit(EXIT_NOT_OK)
    path = Path(out).expanduser() if out else default_cookie_path(result.uid)
    write_cookie_file(path, result.cookies, result.refresh_token or None)
    click.echo(f"Logged in as uid {result.uid}. Cookies saved to {path} (mode 0600).")
    click.echo("Use them in a pipeline with:\n")
    click.echo(f'  [credentials.main]\n  cookie_file = "{path}"\n')


@click.group("credentials")
def credentials() -> None:
    """Inspect Bilibili credentials (cookies)."""


def _credential_from(config: tuple[str, ...], name: str | None, cookie_file: str | None) -> Credential:
    if cookie_file:
        return Credential.from_table(name or Path(cookie_file).stem, {"cookie_file": str(Path(cookie_file).resolve())})
    if not config:
        raise click.UsageError("give --cookie-file FILE, or --config FILE with --credential NAME")
    from livepipe.config import ConfigError
    from livepipe.runtime.loading import load_config

    try:
        cfg = load_config(config)
    except ConfigError as e:
        raise CredentialError("invalid configuration:\n  " + "\n  ".join(str(i) for i in e.issues)) from None
    if not cfg.credentials:
        raise CredentialError("the configuration defines no [credentials.NAME] table")
    if name is None:
        if len(cfg.credentials) != 1:
            raise CredentialError("the configuration defines several credentials; choose one with --credential: "
                                  + ", ".join(sorted(cfg.credentials)))
        name = next(iter(cfg.credentials))
    if name not in cfg.credentials:
        raise CredentialError(f"no [credentials.{name}] table; defined: {', '.join(sorted(cfg.credentials))}")
    return Credential.from_table(name, dict(cfg.credentials[name]), cfg.config_dir)


@credentials.command("check")
@click.option("--config", "-c", "config", multiple=True, type=click.Path(dir_okay=False),
              help="Config file(s) holding [credentials.NAME] tables.")
@click.option("--credential", "name", default=None, help="Which [credentials.NAME] to check.")
@click.option("--cookie-file", type=click.Path(dir_okay=False), default=None,
              help="Check a cookie file (Netscape or JSON) directly.")
@click.option("--base-url", default=None, help="One base URL for every Bilibili host (a simulator); default: real.")
@click.option("--refresh", is_flag=True, help="Refresh the cookies now if Bilibili asks for it (and write them back).")
@click.option("--insecure", is_flag=True, help="Do not verify TLS certificates (a self-signed simulator).")
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Extra CA certificates (PEM) to trust.")
@click.option("--proxy", default=None, callback=_check_proxy, metavar="URL",
              help="Proxy for every request: http://host:port, socks5://host:port or socks5h://... "
              "(may carry user:password@; never printed).")
def check_command(config: tuple[str, ...], name: str | None, cookie_file: str | None, base_url: str | None,
                  refresh: bool, insecure: bool, ca_file: str | None, proxy: str | None) -> None:  # fmt: skip
    """Logged in? Which uid? csrf present? Needs a refresh? Exit status 0 when usable, 1 when not."""
    from livepipe.bilibili.login import LoginError, check_credential, refresh_credential

    try:
        cred = _credential_from(config, name, cookie_file)
    except CredentialError as e:
        click.echo(f"livepipe credentials check: {e}", err=True)
        sys.exit(EXIT_CONFIG)
    ep = _endpoints(base_url)
    verify = _verify(insecure, ca_file)

    async def go() -> Any:
        result = await check_credential(cred, ep, verify=verify, proxy=proxy)
        refreshed = None
        if refresh and result.logged_in and result.needs_refresh:
            refreshed = await refresh_credential(cred, ep, verify=verify, proxy=proxy)
            if refreshed is not None:
                result = await check_credential(refreshed, ep, verify=verify, proxy=proxy)
        return result, refreshed

    try:
        result, refreshed = anyio.run(go)
    except (ApiError, LoginError) as e:
        click.echo(f"livepipe credentials check: {e}", err=True)
        sys.exit(EXIT_NOT_OK)
    for line in result.lines():
        click.echo(line)
    if refreshed is not None:
        where = f"written back to {cred.cookie_file}" if cred.cookie_file else "not saved (no cookie_file)"
        click.echo(f"  refreshed: yes, new cookies {where}")
    sys.exit(0 if result.ok else EXIT_NOT_OK)
