"""The ``livepipe`` command line: run, validate, plugins, config show, sim, and plugin commands."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any, NoReturn

import click

from livepipe import __version__, plugins
from livepipe.config import ConfigError, PipelineConfig
from livepipe.runtime.loading import load_config

#: Exit status for an invalid configuration (as Vector and sysexits' EX_CONFIG).
EXIT_CONFIG = 78


def _setup_logging(level: str, tag: str = "") -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format=f"%(asctime)s %(levelname)-7s {tag}%(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    from livepipe.runtime import logs

    for handler in logging.getLogger().handlers:
        logs.install(handler)


def _load_or_exit(paths: tuple[str, ...], sim_url: str | None = None, worker: tuple[int, int] | None = None,
                  **checks: bool) -> PipelineConfig:  # fmt: skip
    try:
        cfg = load_config(paths, worker=worker, **checks)
        if sim_url is not None:
            cfg.use_simulator_at(sim_url)
        return cfg
    except ConfigError as e:
        _exit_invalid(e.issues)


def _exit_invalid(issues: list[Any]) -> NoReturn:
    n = len(issues)
    click.echo(f"livepipe: invalid configuration ({n} problem{'s' if n != 1 else ''}):", err=True)
    for issue in issues:
        click.echo(f"  {issue}", err=True)
    sys.exit(EXIT_CONFIG)


def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """``--version``: the version, and which danmaku decoder is active (compiled or pure Python)."""
    if not value or ctx.resilient_parsing:
        return
    from livepipe.bilibili.fast import decoder_description

    click.echo(f"livepipe, version {__version__}")
    click.echo(f"danmaku decoder: {decoder_description()}")
    ctx.exit()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show the version and the active danmaku decoder, and exit.")
def cli() -> None:
    """livepipe: turn Bilibili live rooms into event pipelines."""


@cli.command()
@click.argument("config", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--duration", type=float, default=None, help="Stop gracefully after this many seconds.")
@click.option("--quiet", "-q", is_flag=True, help="Do not print the periodic status line.")
@click.option("--log-level", default=None, help="debug, info, warning or error (overrides [livepipe] log_level).")
@click.option("--sim", "sim_url", metavar="URL", default=None,
              help="Point every Bilibili component without its own base_url at the simulator at URL "
                   "(`livepipe sim`); same as [simulator] url = URL.")
@click.option("--pid-file", type=click.Path(dir_okay=False), default=None,
              help="Write the process id here while running (for `livepipe reload --pid-file`).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Run N processes, the sources' rooms shared out among them, with one merged /metrics "
                   "(overrides [livepipe] workers; see docs/performance.md).")
@click.option("--worker-of", "worker_of", default=None, hidden=True)  # set by the parent of --workers
def run(config: tuple[str, ...], duration: float | None, quiet: bool, log_level: str | None,
        sim_url: str | None, pid_file: str | None, workers: int | None, worker_of: str | None) -> None:  # fmt: skip
    """Run the pipeline described by CONFIG files (merged in order). SIGHUP reloads them."""
    import os
    from pathlib import Path

    from livepipe.runner import exit_now, run_pipeline_blocking

    if worker_of is not None:
        from livepipe.workers import parse_worker, run_worker

        slot = parse_worker(worker_of)
        cfg = _load_or_exit(config, sim_url, worker=slot)
        _setup_logging(log_level or cfg.settings.log_level, tag=f"[worker {slot[0]}] ")
        exit_now(run_worker(cfg, quiet=quiet))
    cfg = _load_or_exit(config, sim_url)
    count = workers if workers is not None else cfg.settings.workers
    if count > 1:
        from livepipe.runtime.shard import shard_problems

        problems = shard_problems(cfg, plugins.registry(), count, flag=workers is not None)
        if problems:
            _exit_invalid(problems)
    _setup_logging(log_level or cfg.settings.log_level)
    if pid_file:
        Path(pid_file).write_text(f"{os.getpid()}\n", encoding="utf-8")
    try:
        if count > 1:
            from livepipe.workers import run_workers

            status = run_workers(cfg, config, count, quiet=quiet, duration=duration,
                                 log_level=log_level or cfg.settings.log_level)  # fmt: skip
        else:
            status = run_pipeline_blocking(cfg, duration=duration, quiet=quiet)
    finally:
        if pid_file:
            Path(pid_file).unlink(missing_ok=True)
    exit_now(status)


@cli.command()
@click.argument("config", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--pid-file", type=click.Path(dir_okay=False), required=True,
              help="The --pid-file of the running `livepipe run`.")
def reload(config: tuple[str, ...], pid_file: str) -> None:
    """Validate CONFIG files, then tell the running pipeline to apply them (SIGHUP).

    Exits 78 (and signals nothing) when CONFIG is invalid, 1 when no pipeline runs with that pid file.
    The running pipeline logs what it applied, or why it refused (then the old configuration goes on).
    """
    import os
    import signal
    from pathlib import Path

    _load_or_exit(config)
    try:
        pid = int(Path(pid_file).read_text(encoding="utf-8").strip())
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError) as e:
        click.echo(f"livepipe: no running pipeline found through {pid_file}: {e}", err=True)
        sys.exit(1)
    click.echo(f"livepipe: asked process {pid} to reload; its log says what changed")


@cli.command()
@click.argument("config", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--offline", is_flag=True,
              help="Check only the files' text: skip every check of this machine (files, directories, "
                   "permissions, environment variables), e.g. in CI.")
@click.option("--no-env", is_flag=True, help="Accept { env = ... } references to variables that are not set.")
def validate(config: tuple[str, ...], offline: bool, no_env: bool) -> None:
    """Check CONFIG files: syntax, types, component types, wiring, and what `run` needs on this machine.

    The machine checks: replay and cookie files exist (cookie files private), sink directories are
    writable, { env } variables are set and { file } secrets readable, and each plugin's own checks.
    Exits 78 when anything is wrong.
    """
    cfg = _load_or_exit(config, check_env=not (offline or no_env), check_files=not offline)
    from livepipe.runtime.shard import shard_problems

    issues = shard_problems(cfg, plugins.registry(), cfg.settings.workers)  # [livepipe] workers vs the rooms
    if not offline:
        from livepipe.runtime.environment import environment_issues

        issues += environment_issues(cfg, plugins.registry())
    if issues:
        _exit_invalid(issues)
    counts = {r: len(cfg.of_role(r)) for r in ("source", "processor", "sink")}
    skipped = " (not checked on this machine: --offline)" if offline else (
        " (environment variables not checked: --no-env)" if no_env else "")
    click.echo(
        f"livepipe: configuration is valid ({counts['source']} sources, {counts['processor']} processors, "
        f"{counts['sink']} sinks){skipped}"
    )


def _field_docs(model: Any) -> list[dict[str, Any]]:
    from livepipe.schema import secret_fields

    secrets = secret_fields(model)
    out = []
    for name, info in model.model_fields.items():
        required = info.is_required()
        default = None if required else info.get_default(call_default_factory=True)
        try:
            json.dumps(default)
        except TypeError:
            default = repr(default)
        ann = info.annotation
        out.append(
            {
                "name": name,
                "type": getattr(ann, "__name__", None) if isinstance(ann, type) else str(ann).replace("typing.", ""),
                "required": required,
                "default": default,
                "description": info.description or "",
                "secret": name in secrets,
            }
        )
    return out


def plugins_report() -> list[dict[str, Any]]:
    """Plugins, versions, hooks and component types with their config fields (``livepipe plugins --json``)."""
    st = plugins.load()
    by_plugin: dict[str, list[dict[str, Any]]] = {}
    for type_name, reg in st.registry.items():
        doc = (reg.cls.__doc__ or "").strip().replace("``", "`").splitlines()
        by_plugin.setdefault(reg.plugin, []).append(
            {
                "type": type_name,
                "role": reg.role,
                "description": doc[0] if doc else "",
                "outputs": list(reg.cls.outputs),
                "config": _field_docs(reg.cls.Config),
            }
        )
    report = []
    for info in st.plugins:
        plugin = st.pm.get_plugin(info.name)
        hooks = sorted(c.name for c in st.pm.get_hookcallers(plugin) or []) if plugin is not None else []
        report.append(
            {
                "name": info.name,
                "version": info.version,
                "builtin": info.builtin,
                "module": info.module,
                "error": info.error,
                "hooks": hooks,
                "components": by_plugin.get(info.name, []),
            }
        )
    return report


@cli.command("test")
@click.argument("config", nargs=-1, required=True, type=click.Path(dir_okay=False))
def test_cmd(config: tuple[str, ...]) -> None:
    """Run the [[tests]] blocks in CONFIG files (sources replaced, mocked sinks never called).

    Action sinks (ban, send, room, plugin actions) run with dry_run = true unless a test lists them in
    allow_actions.

    Exits 0 when every test passes, 1 when one fails (or there are none), 78 for an invalid config.
    """
    from pathlib import Path

    from livepipe.configtest import run_tests

    _setup_logging("warning")
    cfg = _load_or_exit(config)
    if not cfg.tests:
        click.echo(f"livepipe: no [[tests]] blocks in {', '.join(config)}", err=True)
        sys.exit(1)
    _, failed = run_tests([Path(p) for p in config])
    sys.exit(1 if failed else 0)


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (plugins, versions, components, config fields).")
def plugins_cmd(as_json: bool) -> None:
    """List installed plugins and the component types they provide."""
    report = plugins_report()
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    for p in report:
        tag = " (built-in)" if p["builtin"] else ""
        click.echo(f"{p['name']} {p['version'] or ''}{tag}")
        if p["error"]:
            click.echo(f"  FAILED TO LOAD: {p['error']}")
        for c in p["components"]:
            click.echo(f"  {c['role']:<9} {c['type']:<22} {c['description']}")


@cli.group("plugin")
def plugin_group() -> None:
    """Write plugins."""


@plugin_group.command("new")
@click.argument("name")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=".", help="Where to create it.")
def plugin_new(name: str, directory: str) -> None:
    """Generate a plugin package NAME (pyproject with the entry point, a processor, tests, README)."""
    from pathlib import Path

    from livepipe.scaffold import create

    try:
        root = create(name, Path(directory))
    except (ValueError, FileExistsError) as e:
        click.echo(f"livepipe: {e}", err=True)
        sys.exit(2)
    click.echo(f"created {root}\n  cd {root} && pip install -e '.[test]' && pytest && livepipe plugins")


@cli.group("config")
def config_group() -> None:
    """Inspect configurations."""


@config_group.command("show")
@click.argument("config", nargs=-1, required=True, type=click.Path(dir_okay=False))
def config_show(config: tuple[str, ...]) -> None:
    """Print the merged CONFIG files as TOML, secrets redacted."""
    import tomli_w

    cfg = _load_or_exit(config)
    click.echo(tomli_w.dumps(cfg.display), nl=False)


def _attach_optional_commands() -> None:
    from livepipe.bilibili.cli import credentials, login_command

    cli.add_command(login_command, "login")
    cli.add_command(credentials, "credentials")
    try:
        from livepipe.sim.cli import sim_command
    except ImportError:  # simulator not installed in this build
        return
    cli.add_command(sim_command, "sim")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``livepipe`` console script."""
    _attach_optional_commands()
    try:
        plugins.manager().hook.livepipe_register_commands(cli=cli)
    except Exception as e:  # a plugin's CLI must not break the others
        click.echo(f"livepipe: a plugin failed to add its commands: {type(e).__name__}: {e}", err=True)
    cli.main(args=argv, prog_name="livepipe")


if __name__ == "__main__":  # pragma: no cover
    main()

