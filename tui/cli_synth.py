"""`ketnap synth --people N [--seed S]`: the command-line side of db.synth.

tui/cli.py builds the parser with `add_parser` and hands the command to `run`. The progress bar
goes to stderr, so that stdout holds only the summary.
"""

from __future__ import annotations

import argparse
import sys

from db.text import printable
from tui import i18n
from tui.i18n import t


def _people(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(t("cli.synth.bad_people", value=printable(text))) from None
    if value < 1:
        raise argparse.ArgumentTypeError(t("cli.synth.bad_people", value=printable(text)))
    return value


def add_parser(commands) -> None:
    parser = commands.add_parser("synth", help=t("cli.synth.help"), description=t("cli.synth.help"),
                                 allow_abbrev=False)
    parser.add_argument("--people", type=_people, required=True, metavar="N",
                        help=t("cli.synth.help_people"))
    parser.add_argument("--seed", type=int, default=1, metavar="S", help=t("cli.synth.help_seed"))


def run(args, location: str, login: str, refusal) -> int:
    """Fill the (opened) database at `location`; `refusal(code, message)` builds the refusal."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from db import connection, synth

    path = printable(connection.sqlite_path(location))
    if not synth.is_empty():
        raise refusal("not_empty", t("cli.synth.not_empty", path=path))
    console = Console(file=sys.stderr, markup=False, emoji=False, highlight=False)
    columns = (TextColumn(t("cli.synth.progress")), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("", total=args.people)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            summary = synth.synthesize(login, args.people, args.seed, progress=progress)
        except synth.SynthError as exc:
            bar.stop()
            if exc.code == "not_empty":
                raise refusal("not_empty", t("cli.synth.not_empty", path=path)) from None
            raise refusal(exc.code, t("cli.synth.too_few", minimum=i18n.number(synth.MIN_PEOPLE))) from None
    print(t("cli.synth.loaded", path=path))
    print(t("cli.synth.summary", communes=i18n.number(summary.communes),
            branches=i18n.number(summary.branches), people=i18n.number(summary.people),
            members=i18n.number(summary.members), cases=i18n.number(summary.cases),
            steps=i18n.number(summary.steps), classes=i18n.number(summary.classes)))
    print(t("cli.synth.today", date=i18n.date(summary.today)))
    return 0
