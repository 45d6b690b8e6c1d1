"""Terminal tables that fit the terminal: the name and title columns are never cut.

A piped command gets 80 columns. Rather than let rich squeeze every column to a few letters,
`fitted_table` drops the lowest-priority columns until the rest fit at their natural width
and folds what it dropped into a dim second line of the free-text column (else the first
text column), so no value is lost. Priority-0 columns always stay; free text wraps at
spaces, a name without spaces keeps its full width.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.table import Table
from rich.text import Text

Cell = str | Text
PADDING = 3  # a column's border and padding in rich's default box


@dataclass(frozen=True)
class Column:
    """One column: header, alignment, and how much it matters (0 = keep; higher drops first)."""

    header: str
    priority: int = 0
    justify: str = "left"
    wrap: bool = False  # long free text (titles, headlines): wraps at spaces, takes the rest

    @property
    def keep(self) -> bool:
        """Never dropped."""
        return self.priority == 0


def _plain(cell: Cell) -> str:
    return cell.plain if isinstance(cell, Text) else Text.from_markup(cell).plain


def _natural(column: Column, cells: Sequence[Cell]) -> int:
    lines = [line for c in cells for line in _plain(c).splitlines()] or [""]
    longest = max(len(line) for line in lines)
    if column.wrap:  # it wraps: its longest word is what it needs at the least
        longest = max([len(w) for line in lines for w in line.split()] or [0])
        longest = max(longest, 24)
    return max(len(column.header), longest) + PADDING


def fitted_table(
    width: int, columns: Sequence[Column], rows: Sequence[Sequence[Cell]], title: str | None = None
) -> Table:
    """A table of `rows` that fits `width` columns (see the module docstring)."""
    needs = [_natural(c, [r[i] for r in rows]) for i, c in enumerate(columns)]
    shown = list(range(len(columns)))
    budget = max(width - 1, 20)
    for index in sorted(shown, key=lambda i: -columns[i].priority):
        if sum(needs[i] for i in shown) <= budget or columns[index].keep:
            break
        shown.remove(index)
    dropped = [i for i in range(len(columns)) if i not in shown]
    fold_into = next(
        (i for i in shown if columns[i].wrap),
        next((i for i in shown if columns[i].justify == "left"), shown[0]),
    )
    table = Table(title=title, pad_edge=False)
    for i in shown:
        column = columns[i]
        if column.wrap or (dropped and i == fold_into):  # wraps at spaces, never below its need
            table.add_column(column.header, overflow="fold", ratio=1, min_width=needs[i] - PADDING)
        else:  # names and numbers: their full width, never folded
            table.add_column(column.header, justify=column.justify, no_wrap=True)  # type: ignore[arg-type]
    for row in rows:
        cells: list[Cell] = [row[i] for i in shown]
        if dropped:
            extra = " · ".join(
                f"{columns[i].header} {_plain(row[i])}"
                for i in dropped
                if _plain(row[i]).strip() not in ("", "-")
            )
            first = cells[shown.index(fold_into)]
            merged = first.copy() if isinstance(first, Text) else Text.from_markup(first)
            if extra:
                merged.append("\n" + extra, style="dim")
            cells[shown.index(fold_into)] = merged
        table.add_row(*cells)
    return table
