"""The CLI pages: the command table and every command's help.
"""

from __future__ import annotations

from typing import Any

from livepipe.docgen.common import (
    _cell,
)


def _is_builtin_command(cmd: Any) -> bool:
    module = getattr(cmd.callback, "__module__", "") or ""
    return module == "livepipe" or module.startswith("livepipe.")


def builtin_commands() -> list[tuple[list[str], Any, Any]]:
    """Every built-in command as ``(path, command, click context)``, depth first, subcommands sorted.

    Commands that plugins added to the CLI in this process are left out.
    """
    import click

    from livepipe import cli as cli_mod

    cli_mod._attach_optional_commands()
    full = cli_mod.cli
    # a copy holding only livepipe's own commands: plugins may have added theirs to cli_mod.cli in
    # this process (the top-level help would list them otherwise)
    group = click.Group(
        name=full.name,
        commands={n: c for n, c in full.commands.items() if _is_builtin_command(c)},
        help=full.help,
        params=list(full.params),
        context_settings=dict(full.context_settings),
    )
    out: list[tuple[list[str], Any, Any]] = []

    def visit(cmd: click.Command, path: list[str], parent: click.Context | None) -> None:
        # click caches each command's help option the first time it is built; a command that some
        # code invoked on its own (without the group's `-h`) would otherwise document `--help` only
        if hasattr(cmd, "_help_option"):
            cmd._help_option = None
        ctx = cmd.context_class(cmd, info_name=path[-1], parent=parent, terminal_width=100, max_content_width=100,
                                **cmd.context_settings)
        out.append((path, cmd, ctx))
        if isinstance(cmd, click.Group):
            for name in sorted(cmd.commands):
                sub = cmd.commands[name]
                if _is_builtin_command(sub):  # commands added by plugins in this process stay out
                    visit(sub, [*path, name], ctx)

    visit(group, ["livepipe"], None)
    return out


def render_cli_help() -> str:
    """``--help`` of every built-in command, for the generated region of ``docs/cli.md``."""
    out: list[str] = []
    for path, cmd, ctx in builtin_commands():
        out += [f"### `{' '.join(path)}`", "", "```text", cmd.get_help(ctx).rstrip(), "```", ""]
    return "\n".join(out).rstrip()


def render_cli_table() -> str:
    """The table of every built-in command (usage and first help line), for ``docs/cli.md``."""
    import click

    lines = ["| Command | Does |", "|---|---|"]
    for path, cmd, ctx in builtin_commands():
        if isinstance(cmd, click.Group) or len(path) == 1:
            continue  # groups only hold their subcommands, which have rows of their own
        usage = " ".join([*path, *cmd.collect_usage_pieces(ctx)])
        lines.append(f"| `{usage}` | {_cell(cmd.get_short_help_str(limit=200))} |")
    return "\n".join(lines)
