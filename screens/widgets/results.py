"""The search results list: a Line-API view that renders only the rows on screen and asks for more on demand."""

from __future__ import annotations

import datetime

from rich.segment import Segment
from rich.style import Style
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from recdesk.display import shown
from recdesk.patients.search import Hit, age

FLAG_LABELS = {"sensitive": "RESTRICTED", "deceased": "DECEASED", "possible_duplicate": "DUP?"}


def row_text(hit: Hit, warned: bool, today: datetime.date) -> str:
    """One result as a clerk reads it: name, DOB with age, sex, MRN, flags (fits 80 columns); a destroyed record:
    name, DOB, MRN and DESTROYED with the date and certificate number."""
    p = hit.patient
    if hit.destroyed is not None:  # the register's entry: name, DOB, MRN and when it went (fits 80 columns)
        dob = p.dob.isoformat() if p.dob else "?"
        return f"  {shown(p.display_name)[:20]:<20} {dob:<10} {shown(p.mrn):>9}  {hit.destroyed_label}"
    mark = "!" if warned else ("~" if hit.match == "phonetic" else " ")
    dob = f"{p.dob.isoformat()} ({age(p.dob, today)})" if p.dob else "?"
    flags = " ".join(FLAG_LABELS[f] for f in p.flags)
    # shown() before the cut and the padding: the row keeps its columns, and a name's escape shows, never runs
    return f"{mark} {shown(p.display_name)[:29]:<29} {dob:<16} {shown(p.sex):<1} {shown(p.mrn):>9}  {flags}"


class ResultsList(ScrollView, can_focus=False):
    """Rows of hits; the screen keeps the prompt focused and moves the highlight with arrows and pages.

    It scrolls itself (`top`) and draws no scrollbar: a key that changes the results repaints the rows
    and nothing else, which keeps an SSH link to a thin client quiet.
    """

    highlighted: reactive[int] = reactive(0)

    class NeedMore(Message):
        """The highlight or the view is near the end of what has been fetched."""

    class WindowChanged(Message):
        """The rows on screen changed with the list's size (a terminal resize): the status says which."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.hits: list[Hit] = []
        self.warned: frozenset[int] = frozenset()
        self.exhausted = True
        self.top = 0
        self._today = datetime.date.today()

    def show(self, hits: list[Hit], warned: frozenset[int], exhausted: bool) -> None:
        same = ([h.patient.id for h in hits] == [h.patient.id for h in self.hits] and warned == self.warned)
        self.hits = hits
        self.warned = warned
        self.exhausted = exhausted
        if same:
            return  # typing on without changing the matches: nothing to repaint, nothing to send
        self.top = 0
        self.highlighted = 0
        self.refresh()

    def extend(self, hits: list[Hit], warned: frozenset[int], exhausted: bool) -> None:
        self.hits = self.hits + hits
        self.warned = warned
        self.exhausted = exhausted
        self.refresh()

    @property
    def current(self) -> Hit | None:
        return self.hits[self.highlighted] if 0 <= self.highlighted < len(self.hits) else None

    @property
    def window(self) -> tuple[int, int]:
        """The 1-based first and last row on screen."""
        return self.top + 1, min(self.top + max(self.size.height, 1), len(self.hits))

    def move(self, delta: int) -> None:
        if not self.hits:
            return
        self.highlighted = max(0, min(len(self.hits) - 1, self.highlighted + delta))
        height = max(self.size.height, 1)
        if self.highlighted < self.top:
            self.top = self.highlighted
        elif self.highlighted >= self.top + height:
            self.top = self.highlighted - height + 1
        self.refresh()
        if not self.exhausted and self.highlighted >= len(self.hits) - height:
            self.post_message(self.NeedMore())

    def on_resize(self, _) -> None:
        """Keep the highlight on screen and no blank rows under a shorter list; tell the screen the window moved."""
        height = max(self.size.height, 1)
        self.top = max(0, min(self.top, len(self.hits) - height))
        if self.highlighted >= self.top + height:
            self.top = self.highlighted - height + 1
        self.refresh()
        self.post_message(self.WindowChanged())
        if not self.exhausted and self.top + 2 * height >= len(self.hits):
            self.post_message(self.NeedMore())

    def watch_highlighted(self, old: int, new: int) -> None:
        self.refresh()

    def render_line(self, y: int) -> Strip:
        index = self.top + y
        width = self.size.width
        if index >= len(self.hits):
            return Strip.blank(width, self.rich_style)
        hit = self.hits[index]
        text = row_text(hit, hit.patient.id in self.warned, self._today)[:width].ljust(width)
        style = self.rich_style
        if index == self.highlighted:
            style = style + Style(reverse=True)
        elif hit.patient.id in self.warned:
            style = style + self.get_component_rich_style("results--warned")
        return Strip([Segment(text, style)], width)

    COMPONENT_CLASSES = {"results--warned"}
