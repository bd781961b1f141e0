"""The desk's table: a DataTable whose cells may hold data (names, notes, labels) and never read it as markup, and
which fits its width by cutting names, never an MRN."""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.widgets import DataTable
from textual.widgets._data_table import ColumnKey

from screens.widgets.plain import safe

# Columns that are never cut, whatever the width: what a clerk checks a chart, a label or a request against.
NEVER_CUT = frozenset({"MRN", "Ref", "Shelf", "Chart"})
NARROWEST = 6  # a column that gives way keeps this many cells (with its "…")


def _cell(value: object) -> object:
    """A cell as the table shows it: plain text, cut with "…" when its column gives way."""
    cell = safe(value, lines=False)
    if isinstance(cell, Text):
        cell = cell.copy()
        cell.no_wrap, cell.overflow = True, "ellipsis"
    return cell


def _width(value: object) -> int:
    if isinstance(value, Text):
        return value.cell_len
    return cell_len(getattr(value, "plain", str(value)))


def widths(natural: dict[object, int], keep: set[object], room: int, padding: int) -> dict[object, int]:
    """The width of each column so that the row fits `room`: the widest column that may give way is cut first, down
    to NARROWEST; a column in `keep` keeps its natural width (the table scrolls sideways if even that is too wide)."""
    out = dict(natural)
    excess = sum(w + 2 * padding for w in out.values()) - room
    while excess > 0:
        give = [k for k, w in out.items() if k not in keep and w > NARROWEST]
        if not give:
            break
        widest = max(give, key=lambda k: out[k])
        others = max([out[k] for k in give if k != widest] + [NARROWEST])
        cut = min(excess, out[widest] - max(others, NARROWEST)) or 1  # down to the next widest, then share the cut
        out[widest] -= cut
        excess -= cut
    return out


class DeskTable(DataTable):
    """A DataTable whose cells may hold data: a str cell is plain text (no markup), its escapes made visible.

    When its rows are wider than the table, the widest columns that may give way (names, notes) are cut with "…";
    an MRN (the NEVER_CUT columns) never is."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._natural: dict[ColumnKey, int] = {}
        self._given: dict[ColumnKey, int] = {}  # the widths a screen gave its columns: the most they take

    def add_column(self, label, *, width: int | None = None, key: str | None = None, default=None) -> ColumnKey:
        label = Text(label) if isinstance(label, str) else label  # a label is text too, never markup
        column_key = super().add_column(label, width=width, key=key, default=default)
        self._natural[column_key] = self.columns[column_key].content_width if width is None else width
        if width is not None:
            self._given[column_key] = width
        return column_key

    def add_row(self, *cells: object, height: int | None = 1, key: str | None = None,
                label: object = None):
        cells = tuple(_cell(c) for c in cells)
        row_key = super().add_row(*cells, height=height, key=key, label=safe(label, lines=False))
        for column_key, cell in zip(self.ordered_columns, cells, strict=False):
            self._natural[column_key.key] = max(self._natural.get(column_key.key, 0), _width(cell))
        self._schedule_fit()
        return row_key

    def update_cell(self, row_key, column_key, value: object, *, update_width: bool = False) -> None:
        # update_cell_at comes here too
        cell = _cell(value)
        super().update_cell(row_key, column_key, cell, update_width=update_width)
        key = column_key if isinstance(column_key, ColumnKey) else ColumnKey(column_key)
        self._natural[key] = max(self._natural.get(key, 0), _width(cell))
        self._schedule_fit()

    def clear(self, columns: bool = False):
        result = super().clear(columns)
        self._natural = {} if columns else {k: _width(c.label) for k, c in self.columns.items()}
        if columns:
            self._given = {}
        return result

    def on_resize(self, _: events.Resize) -> None:
        self.fit()

    def _schedule_fit(self) -> None:
        if self.is_mounted:
            self.call_after_refresh(self.fit)

    def fit(self) -> None:
        """Give each column its width for the table's width now (names give way; an MRN never does)."""
        room = self.scrollable_content_region.width
        if not room or not self.columns:
            return
        keep = {k for k, c in self.columns.items() if c.label.plain.strip() in NEVER_CUT}
        natural = {}
        for key, column in self.columns.items():
            content = max(self._natural.get(key, 0), _width(column.label))
            given = self._given.get(key)
            # a width the screen gave is the most the column takes, but an MRN always gets room for the whole MRN
            natural[key] = content if given is None else (max(given, content) if key in keep else given)
        changed = False
        for key, width in widths(natural, keep, room, self.cell_padding).items():
            column = self.columns[key]
            auto = key not in self._given and width >= natural[key]
            if column.auto_width != auto or (not auto and column.width != width):
                column.auto_width, column.width = auto, width
                changed = True
        if changed:
            self._clear_caches()
            self._require_update_dimensions = True
            self.refresh()
