"""Command-line additions: ``livepipe automod eval`` and ``livepipe automod diff``.

* ``eval RULES CORPUS.jsonl``: precision and recall of a rule file on a labelled corpus, overall, per
  rule and per trick, and every false positive and false negative with the rule and match behind it.
  ``--min-precision`` / ``--min-recall`` make it exit 1 below a bar (for CI).
* ``diff OLD NEW --replay FILE``: the recorded messages (danmaku and super-chat text, user names)
  whose verdict changes between two rule files: a rule change tried on real chat before it goes live.

Exit codes: 0 done, 1 below a requested bar, 78 a rule file or corpus cannot be used.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from livepipe_automod import segment
from livepipe_automod.evaluate import CorpusError, Report, diff, load_rules, read_corpus, replay_texts, run, verdict
from livepipe_automod.rules import RuleError

EXIT_BELOW_BAR = 1
EXIT_CONFIG = 78


@click.group("automod")
def automod_group() -> None:
    """Try automod rule files on labelled or recorded chat."""


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_CONFIG)


@automod_group.command("eval")
@click.argument("rules", type=click.Path(path_type=Path))
@click.argument("corpus", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="print the numbers and mistakes as one JSON object")
@click.option("--min-precision", type=float, default=None, help="exit 1 when precision is below this")
@click.option("--min-recall", type=float, default=None, help="exit 1 when recall is below this")
def eval_command(rules: Path, corpus: Path, as_json: bool, min_precision: float | None,
                 min_recall: float | None) -> None:
    """Precision and recall of the RULES file on the labelled CORPUS (JSON Lines).

    Each corpus line: {"text": ..., "label": "bad"|"good", "rule"?: ..., "trick"?: ..., "scope"?: ...}.
    """
    try:
        ruleset = load_rules(rules)
        cases = read_corpus(corpus)
    except (RuleError, CorpusError) as e:
        _fail(str(e))
    report = Report.of(run(ruleset, cases), ruleset)
    if as_json:
        click.echo(json.dumps({**report.to_dict(), "segmenter_load_seconds": segment.load_seconds()},
                              ensure_ascii=False, indent=1))
    else:
        for line in report.lines():
            click.echo(line)
        loaded = segment.load_seconds()
        if loaded is not None:
            click.echo(f"\nword segmenter (jieba) loaded once in {loaded:.2f} s")
    below = [f"precision {report.overall.precision:.3f} < {min_precision}"
             for _ in [0] if min_precision is not None and report.overall.precision < min_precision]
    below += [f"recall {report.overall.recall:.3f} < {min_recall}"
              for _ in [0] if min_recall is not None and report.overall.recall < min_recall]
    if below:
        click.echo("below the bar: " + "; ".join(below), err=True)
        sys.exit(EXIT_BELOW_BAR)


@automod_group.command("diff")
@click.argument("old", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@click.option("--replay", "replay", type=click.Path(path_type=Path), required=True,
              help="recorded events (JSON Lines, as the file sink writes them) or a corpus")
def diff_command(old: Path, new: Path, replay: Path) -> None:
    """The recorded messages whose verdict changes between the OLD and NEW rule files."""
    try:
        before, after = load_rules(old), load_rules(new)
        errors: list[str] = []
        count, changes = diff(before, after, replay_texts(replay, errors))
    except (RuleError, CorpusError) as e:
        _fail(str(e))
    for c in changes:
        click.echo(f"line {c.line} [{c.scope}] {c.text!r}")
        click.echo(f"  old: {verdict(c.old)}")
        click.echo(f"  new: {verdict(c.new)}")
    caught = sum(1 for c in changes if not c.old)
    released = sum(1 for c in changes if not c.new)
    click.echo(f"{count} messages compared: {len(changes)} change verdict ({caught} newly caught, {released} no "
               f"longer caught, {len(changes) - caught - released} caught by other rules)")
    for e in errors[:10]:
        click.echo(f"warning: {e}", err=True)
    if len(errors) > 10:
        click.echo(f"warning: {len(errors) - 10} more lines skipped", err=True)


def register(cli: click.Group) -> None:
    """Add ``automod`` to the ``livepipe`` command line."""
    cli.add_command(automod_group, "automod")
