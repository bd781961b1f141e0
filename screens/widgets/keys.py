"""How the desk names a key to a clerk: `F1`, `Enter`, `Esc`, `Ctrl+S`, `[` — the same in the footer and in F1 help."""

from __future__ import annotations

import re

NAMES = {
    "enter": "Enter", "escape": "Esc", "space": "Space", "tab": "Tab", "backspace": "Backspace",
    "delete": "Del", "up": "Up", "down": "Down", "left": "Left", "right": "Right", "home": "Home", "end": "End",
    "pageup": "PgUp", "pagedown": "PgDn", "left_square_bracket": "[", "right_square_bracket": "]",
    "plus": "+", "minus": "-", "equals_sign": "=", "question_mark": "?", "slash": "/", "comma": ",",
    "full_stop": ".", "asterisk": "*", "number_sign": "#",
}
_MODIFIERS = {"ctrl": "Ctrl", "shift": "Shift", "alt": "Alt"}


def key_name(key: str) -> str:
    """`f1` -> `F1`, `ctrl+s` -> `Ctrl+S`, `left_square_bracket` -> `[`, `a` -> `A` (as printed on the keyboard)."""
    *modifiers, base = key.split("+")
    if re.fullmatch(r"f\d{1,2}", base):
        name = base.upper()
    elif len(base) == 1:
        name = base.upper()
    else:
        name = NAMES.get(base, base.replace("_", " ").capitalize())
    return "+".join([*(_MODIFIERS.get(m, m.capitalize()) for m in modifiers), name])


def key_order(key: str) -> tuple[int, int, str]:
    """Sort order of keys in help: letters and digits, then the other keys, then F1-F10 by number."""
    base = key.rsplit("+", 1)[-1]
    if re.fullmatch(r"f\d{1,2}", base):
        return 2, int(base[1:]), key
    return (0 if len(base) == 1 and base.isalnum() else 1), 0, key
