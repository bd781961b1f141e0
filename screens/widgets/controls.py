"""The last line of defence: no control character in any widget's output reaches the terminal."""

from __future__ import annotations

import re

from rich.cells import cell_len
from rich.segment import Segment
from textual.color import Color
from textual.filter import LineFilter

from recdesk.display import CONTROLS


class ControlFilter(LineFilter):
    """The last line of defence: no control character in any widget's output reaches the terminal."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        # Controls are zero cells wide (rich.cells), so dropping them keeps every line its width.
        return [Segment(CONTROLS.sub(_drop, seg.text), seg.style, seg.control)
                if not seg.control and CONTROLS.search(seg.text) else seg for seg in segments]


def _drop(match: re.Match[str]) -> str:
    return " " * cell_len(match.group())  # a soft hyphen is one cell: a space keeps the line its width
