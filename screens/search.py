"""The patient search screen: one VistA-style prompt, results as you type, Enter opens the chart."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static

from recdesk.errors import DeskError
from recdesk.patients import search
from screens.base import DeskScreen
from screens.widgets.footer import DeskFooter
from screens.widgets.header import DeskHeader
from screens.widgets.plain import Plain
from screens.widgets.results import ResultsList

PAGE = 40
SCREENFUL = 18
HELP = (
    "Type any identifier; results follow as you type.\n"
    "  smith   smith,jo   smith john a   garcía   a name: last first (middle)\n"
    "  100234                                     an MRN\n"
    "  1962-03-04   3/4/62   Mar 4 1962           a date of birth (62 is 1962)\n"
    "  1234   S1234   555-0142   (512) 555-0142   SSN last 4, initial + 4, phone\n"
    "Up/Down and PgUp/PgDn pick a row; Enter opens the chart. Enter on an empty prompt re-opens the\n"
    "last patient you opened. ! marks rows that share last name + SSN last 4 or name + DOB: check the\n"
    "MRN. ~ marks sound-alike matches (did you mean). An MRN whose record a purge destroyed shows as\n"
    "DESTROYED with the date and certificate number, and opens nothing."
)


class SearchScreen(DeskScreen):
    """Find a patient."""

    SCREEN_NAME = "Patient search"
    HELP = HELP
    BINDINGS = [
        Binding("down", "move(1)", "Next", show=False, id="search.next"),
        Binding("up", "move(-1)", "Previous", show=False, id="search.previous"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="search.page_down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="search.page_up"),
        Binding("enter", "open", "Open chart", show=False, id="search.open", priority=True),
        Binding("escape", "clear", "Clear", show=False, id="search.clear"),
    ]
    FOOTER_SCREENS = True  # the hub: its footer lists the keys that open the other screens (DeskFooter)

    def __init__(self) -> None:
        super().__init__()
        self._results: search.SearchResults | None = None
        self._generation = 0
        self._position_shown = False  # the status says which rows are on screen (and follows a resize)

    def compose(self) -> ComposeResult:
        yield DeskHeader(self.SCREEN_NAME)
        prompt = Input(placeholder="name (smith,jo)  MRN  DOB  last 4  S1234  phone", id="prompt")
        prompt.cursor_blink = False
        yield prompt
        yield Plain("Type to search. Enter on an empty prompt re-opens your last patient. F1 help.", id="status")
        yield ResultsList(id="results")
        yield DeskFooter()

    def focus_prompt(self) -> None:
        self.query_one("#prompt", Input).focus()

    def on_mount(self) -> None:
        self.focus_prompt()

    @property
    def results(self) -> ResultsList:
        return self.query_one("#results", ResultsList)

    def status(self, text: str, *, warning: bool = False) -> None:
        status = self.query_one("#status", Static)
        status.set_class(warning, "warning")
        status.update(text)
        self._position_shown = False

    # --- typing

    def on_input_changed(self, event: Input.Changed) -> None:
        self._generation += 1
        query = search.clean(event.value)
        if not query:
            self._results = None
            self.results.show([], frozenset(), True)
            self.status("Type to search. Enter on an empty prompt re-opens your last patient. F1 help.")
            return
        self.run_worker(self._lookup(query, self._generation), exclusive=True, group="search")

    async def _lookup(self, query: str, generation: int) -> None:
        try:
            results, hits = await self.read(self._first_page, query)
        except DeskError as exc:
            if generation == self._generation:
                self._results = None
                self.results.show([], frozenset(), True)
                self.status(str(exc), warning=True)
            return
        if generation != self._generation:
            return  # the clerk has typed on; a newer search is coming
        self.call_soon(search.audit_view, query, hits)
        if not hits and results.exhausted and search.is_mrn(query):
            # An MRN no live patient has: the destruction register answers whether, and when, it was destroyed.
            try:
                gone = await self.call(search.destroyed_hit, query)
            except DeskError as exc:
                gone = None
                self.status(str(exc), warning=True)
            if generation != self._generation:
                return
            if gone is not None:
                results.hits.append(gone)
                hits = [gone]
        self._results = results
        self._show(hits, fresh=True)

    @staticmethod
    def _first_page(desk, query: str) -> tuple[search.SearchResults, list[search.Hit]]:
        results = search.SearchResults(desk, query)
        results.more(PAGE)
        for _ in range(2):  # a broad query may need another page of candidates to fill the screen
            if len(results.hits) >= SCREENFUL or results.exhausted:
                break
            results.more(PAGE)
        return results, list(results.hits)

    def _show(self, hits: list[search.Hit], *, fresh: bool) -> None:
        results = self._results
        assert results is not None
        warnings = search.identity_warnings(results.hits)
        warned = frozenset().union(*(w.patient_ids for w in warnings)) if warnings else frozenset()
        if fresh:
            self.results.show(results.hits, warned, results.exhausted)
        else:
            self.results.extend(hits, warned, results.exhausted)
        if not results.hits:
            self.status(f"No patient matches {results.query!r}: {search.NO_MATCH_HINT}", warning=True)
        elif results.hits[0].destroyed is not None:
            self.status(results.hits[0].destroyed_line, warning=True)
        elif warnings:
            self.status("! " + warnings[0].message, warning=True)
        else:
            self.show_position()

    async def on_results_list_need_more(self, _: ResultsList.NeedMore) -> None:
        results = self._results
        if results is None or results.exhausted:
            return
        generation = self._generation
        hits = await self.app.desk_call(results.more, PAGE)
        if generation == self._generation:
            self._show(hits, fresh=False)
            self.call_soon(search.audit_view, results.query, hits)

    def show_position(self) -> None:
        results = self._results
        if results is None or not results.hits:
            return
        first, last = self.results.window
        rows = f"row {first}" if first == last else f"rows {first}-{last}"
        said = search.summary(results.hits, exhausted=results.exhausted)
        guesses_only = all(h.match == "phonetic" for h in results.hits)
        self.status(f"{said}, {rows}. Up/Down/PgDn to pick, Enter to open.", warning=guesses_only)
        self._position_shown = True

    def on_results_list_window_changed(self, _: ResultsList.WindowChanged) -> None:
        if self._position_shown:
            self.show_position()

    # --- keys

    def action_move(self, delta: int) -> None:
        self.results.move(delta)
        self.show_position()

    def action_page(self, direction: int) -> None:
        self.results.move(direction * max(self.results.size.height - 1, 1))
        self.show_position()

    def action_clear(self) -> None:
        self.query_one("#prompt", Input).value = ""

    async def ensure_results(self) -> None:
        """Make sure the list shows the results for what is typed now (Enter may outrun a fast typist)."""
        query = search.clean(self.query_one("#prompt", Input).value)
        if query and (self._results is None or self._results.query != query):
            await self._lookup(query, self._generation)

    async def action_open(self) -> None:
        app = self.app
        if not self.query_one("#prompt", Input).value.strip():
            if app.last_patient is None:
                self.status("No last patient yet: type a name, MRN, DOB, last 4, S1234 or phone.", warning=True)
                return
            app.request_chart(app.last_patient)
            return
        await self.ensure_results()
        hit = self.results.current
        if hit is None:
            return
        if hit.destroyed is not None:  # a purged record: the register's answer, and nothing to open
            self.status(hit.destroyed_line, warning=True)
            return
        app.request_chart(hit.patient.uuid)
