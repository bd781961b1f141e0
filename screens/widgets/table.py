"""The desk's table: a DataTable whose cells may hold data (names, notes, labels) and never read it as markup."""

from __future__ import annotations

from textual.widgets import DataTable

from screens.widgets.plain import safe


class DeskTable(DataTable):
    """A DataTable whose cells may hold data: a str cell is plain text (no markup), its escapes made visible."""

    def add_row(self, *cells: object, height: int | None = 1, key: str | None = None,
                label: object = None):
        return super().add_row(*(safe(c, lines=False) for c in cells), height=height, key=key,
                               label=safe(label, lines=False))

    def update_cell(self, row_key, column_key, value: object, *, update_width: bool = False) -> None:
        # update_cell_at comes here too
        super().update_cell(row_key, column_key, safe(value, lines=False), update_width=update_width)
