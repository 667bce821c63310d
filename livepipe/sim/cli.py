"""``livepipe sim``: run the simulator from the shell until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import sys

import click

from livepipe.sim.app import DEFAULT_ROOMS, RoomSpec, Simulator
from livepipe.sim.faults import Faults


def _parse_rooms(value: str | None) -> list[RoomSpec] | None:
    if not value:
        return None
    out: list[RoomSpec] = []
    for part in value.split(","):
        part = part.strip()
        if part:
            out.append(part if ":" in part else int(part))
    return out


@click.command("sim")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=0, show_default=True, type=int, help="Port to bind (0 = any free port).")
@click.option("--rooms", default=None, help="Comma-separated real room ids; 'short:real' gives a short id. "
              f"Default: {','.join(str(r) if not isinstance(r, tuple) else f'{r[0]}:{r[1]}' for r in DEFAULT_ROOMS)}.")
@click.option("--rate", default=0.0, show_default=True, type=float, help="Synthetic events per second per room.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed for population, text and WBI keys.")
@click.option("--tls", is_flag=True, help="Serve HTTPS/WSS with a self-signed certificate (plus a plain ws port).")
@click.option("--no-wbi-check", is_flag=True, help="getDanmuInfo does not demand a WBI signature (pre-2025 clients).")
@click.option("--no-buvid-check", is_flag=True, help="getDanmuInfo does not demand a buvid3 cookie.")
@click.option("--allow-keyless", is_flag=True, help="Accept AUTH without a key as an anonymous client.")
@click.option("--close-every", default=0.0, type=float, help="Fault: close every WebSocket every N seconds.")
@click.option("--no-heartbeat-reply", is_flag=True, help="Fault: never answer client heartbeats.")
@click.option("--malformed-every", default=0.0, type=float, help="Fault: send a malformed frame every N seconds.")
@click.option("--fail-auth", is_flag=True, help="Fault: reject every AUTH with code -101.")
@click.option("--http-352", multiple=True, help="Fault: answer -352 on paths with this prefix (repeatable).")
@click.option("--http-412", multiple=True, help="Fault: answer HTTP 412 on paths with this prefix (repeatable).")
@click.option("--http-delay", default=0.0, type=float, help="Fault: delay every HTTP answer by N seconds.")
@click.option("--idle-timeout", default=65.0, show_default=True, type=float,
              help="Drop clients that send no heartbeat for this long.")  # fmt: skip
@click.option("--open-expiry", "open_session_expiry", default=60.0, show_default=True, type=float,
              help="Open platform: seconds without a game heartbeat after which a game ends.")
def sim_command(
    host: str,
    port: int,
    rooms: str | None,
    rate: float,
    seed: int,
    tls: bool,
    no_wbi_check: bool,
    no_buvid_check: bool,
    allow_keyless: bool,
    close_every: float,
    no_heartbeat_reply: bool,
    malformed_every: float,
    fail_auth: bool,
    http_352: tuple[str, ...],
    http_412: tuple[str, ...],
    http_delay: float,
    idle_timeout: float,
    open_session_expiry: float,
) -> None:
    """Run the local Bilibili live simulator (HTTP API + WebSocket /sub) until interrupted."""
    faults = Faults(
        close_every=close_every,
        no_heartbeat_reply=no_heartbeat_reply,
        malformed_every=malformed_every,
        fail_auth=fail_auth,
        http_352=list(http_352),
        http_412=list(http_412),
        http_delay=http_delay,
        idle_timeout=idle_timeout,
    )
    try:
        room_specs = _parse_rooms(rooms)
    except ValueError as e:
        raise click.BadParameter(f"bad room id: {e}", param_hint="--rooms") from None
    sim = Simulator(
        room_specs, rate=rate, seed=seed, host=host, port=port, tls=tls, faults=faults,
        require_wbi=not no_wbi_check, require_buvid=not no_buvid_check, allow_keyless=allow_keyless,
        open_session_expiry=open_session_expiry,
    )  # fmt: skip
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(sim))


async def _serve(sim: Simulator) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await sim.start()
    # A dedicated process: move the start-up heap (populations, message templates, caches) out of
    # the cyclic collector's reach, so full collections stay short under heavy traffic. Collect
    # first, so no garbage is frozen with it.
    gc.collect()
    gc.freeze()
    try:
        click.echo(f"livepipe sim serving {sim.base_url}")
        click.echo(f"  websocket: {sim.wss_url or sim.ws_url}" + (f"  (plain: {sim.ws_url})" if sim.tls else ""))
        if sim.cert_path:
            click.echo(f"  certificate: {sim.cert_path}")
        rooms = ", ".join(f"{r.room_id}" + (f" (short {r.short_id})" if r.short_id else "")
                          for r in sim.state.rooms.values())  # fmt: skip
        click.echo(f"  rooms: {rooms}")
        codes = ", ".join(f"{r.room_id} {sim.open.auth_code(r)}" for r in sim.state.rooms.values())
        click.echo(f"  open platform: POST {sim.base_url}/_sim/open-apps for an app; identity codes: {codes}")
        click.echo(f"  control API: {sim.base_url}/_sim/   (Ctrl-C to stop)")
        sys.stdout.flush()
        await stop.wait()
    finally:
        await sim.stop()
