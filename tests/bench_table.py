"""The one table of `make bench`: each figure beside its baseline from the same run, the ratio,
the aim and whether it is met. Every benchmark module returns its figures as `Figure` rows and
prints them with `print_figures`."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Aim:
    """`within` x the baseline, `under` an absolute value, or `none` (a count that must be 0)."""

    kind: str  # "within", "under", "none"
    value: float = 0.0

    def text(self) -> str:
        if self.kind == "within":
            return f"<={self.value:g}x"
        if self.kind == "under":
            return f"<{self.value:g}"
        return "0"

    def met(self, ours: float, base: float | None) -> bool | None:
        if self.kind == "within":
            return None if not base else ours / base <= self.value
        if self.kind == "under":
            return ours < self.value
        return ours == 0


def within(times: float) -> Aim:
    return Aim("within", times)


def under(value: float) -> Aim:
    return Aim("under", value)


NONE = Aim("none")


@dataclass(frozen=True)
class Figure:
    """One row: `ours` (ketnap) against `base` (None: no baseline), in `unit`; `base_name` says
    what the baseline is; `people` which database (a number of people, or "demo")."""

    name: str
    ours: float
    base: float | None
    base_name: str
    unit: str = "ms"
    aim: Aim | None = None
    people: str = ""

    @property
    def ratio(self) -> float | None:
        return self.ours / self.base if self.base else None

    @property
    def met(self) -> bool | None:
        return None if self.aim is None else self.aim.met(self.ours, self.base)


def people_label(people: int | None) -> str:
    return "demo" if people is None else f"{people:,}"


def _number(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if value == int(value) and abs(value) >= 100:
        return f"{int(value):,}"
    return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.3g}" if value else "0"


def format_table(figures: Iterable[Figure]) -> list[str]:
    figures = list(figures)
    head = ("figure", "people", "ketnap", "baseline", "baseline (unit)", "ratio", "aim", "met?")
    rows = []
    for f in figures:
        ratio = f.ratio
        aim = "" if f.aim is None else f.aim.text() + (f" {f.unit}" if f.aim.kind == "under" else "")
        base_name = f"{f.base_name} ({f.unit})" if f.base_name and f.unit else f.base_name or f.unit
        rows.append((f.name, f.people, _number(f.ours), _number(f.base), base_name,
                     "" if ratio is None else f"{ratio:.2f}", aim,
                     {True: "yes", False: "NO", None: ""}[f.met]))
    widths = [max(len(str(r[i])) for r in (head, *rows)) for i in range(len(head))]
    right = {2, 3, 5}
    lines = []
    for n, row in enumerate((head, *rows)):
        cells = [str(c).rjust(w) if i in right else str(c).ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
        lines.append(" | ".join(cells).rstrip())
        if n == 0:
            lines.append("-+-".join("-" * w for w in widths))
    return lines


def print_figures(figures: Iterable[Figure], title: str | None = None) -> None:
    if title:
        print(title)
    for line in format_table(figures):
        print(line)
