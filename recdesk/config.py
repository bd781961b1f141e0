"""Where a desk lives and how it is configured: the home folder and its config.toml, read and checked once."""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recdesk import display, reference
from recdesk.completion.rules import ENCOUNTER_KINDS
from recdesk.display import FORBIDDEN
from recdesk.errors import DeskError
from recdesk.paper.shelf import ORDERS
from recdesk.roles import ROLES

CONFIG_NAME = "config.toml"
# An unfinished `recdesk init` keeps its settings here; config.toml appears (by rename) only for a whole desk.
CREATING_NAME = "config.toml.creating"
DEFAULT_IDLE_TIMEOUT = 600
KEY_SOURCES = ("keyring", "file", "demo")
MIB = 1 << 20


def default_home() -> Path:
    """The home used when neither --home nor RECDESK_HOME is given."""
    env = os.environ.get("RECDESK_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("recdesk", appauthor=False))


# --- what each key may hold ------------------------------------------------------------------------------------


def _rule(default: Any, *, least: float | None = None, most: float | None = None, unit: str = "",
          choices: tuple[str, ...] = (), pattern: str = "", shape: str = "", upper: bool = False,
          limit: int = 200, empty_ok: bool = False) -> Any:
    """A setting's default and bounds, kept on the dataclass field so one reader checks every section."""
    return field(default=default, metadata={"least": least, "most": most, "unit": unit, "choices": choices,
                                            "pattern": pattern, "shape": shape, "upper": upper, "limit": limit,
                                            "blank_ok": default == "", "empty_ok": empty_ok})


@dataclass(frozen=True)
class Intake:
    inbox: str = _rule("inbox", limit=4096)  # relative to the home, or absolute
    max_pages: int = _rule(2000, least=1, most=100_000)
    max_bytes: int = _rule(200 * MIB, least=1, most=64 * 1024 * MIB, unit="bytes")  # larger: quarantined unparsed
    qa_by_other_clerk: bool = _rule(True)  # a document's QA is by a clerk other than the one who filed it


@dataclass(frozen=True)
class Print:
    command: str = _rule("", limit=1000)  # e.g. "lp -d HIM-LASER"; empty: save to <home>/printouts


@dataclass(frozen=True)
class Roi:
    state: str = _rule("", pattern=r"[A-Z]{2}", shape="a two-letter state code such as \"CA\"", upper=True)
    facility: str = _rule("Health Information Management")
    phone: str = _rule("")
    address: str = _rule("")  # empty: the facility
    city: str = _rule("")
    signer_title: str = _rule("Release of Information Specialist")
    privacy_officer: str = _rule("the Privacy Officer")
    custodian: str = _rule("")  # empty: the person who signs
    custodian_title: str = _rule("Custodian of Records")
    preparation: str = _rule("entered or scanned into the electronic health record by hospital personnel in the "
                             "ordinary course of business at or near the time of the events recorded", limit=1000)
    fees: bool = _rule(True)
    bates_prefix: str = _rule("REL", pattern=r"[A-Z0-9-]{1,12}", shape="1-12 capital letters, digits or -")


@dataclass(frozen=True)
class Completion:
    delinquent_days: int = _rule(30, least=1, most=3650, unit="days")  # C4: after discharge, incomplete is delinquent
    worklist_days: int = _rule(45, least=1, most=3650, unit="days")  # how far back the discharges worklist looks
    letter_due_days: int = _rule(7, least=1, most=365, unit="days")
    # The encounter kinds analysed after discharge: the discharges worklist and the C6 rate.
    kinds: tuple[str, ...] = _rule(("inpatient", "surgery"), choices=ENCOUNTER_KINDS)
    delinquency_threshold: float = _rule(0.5, least=0.01, most=100.0)  # C6: the rate to stay under
    where: str = _rule("in the Health Information Management department")
    phone: str = _rule("")  # empty: [roi] phone
    signer_title: str = _rule("Chart Completion Analyst")


@dataclass(frozen=True)
class Tracking:
    pull_ahead_days: int = _rule(7, least=0, most=365, unit="days")  # a check-in looks this far ahead for appointments
    due_back_days: int = _rule(3, least=0, most=365, unit="days")  # a charge-out's proposed due date
    default_file_room: str = _rule("MAIN", pattern=r"[A-Z0-9][A-Z0-9_-]{0,31}", upper=True,
                                   shape="a location code: capital letters, digits, _ or -, at most 32")


@dataclass(frozen=True)
class Filing:
    order: str = _rule("terminal", choices=ORDERS)


@dataclass(frozen=True)
class PullList:
    due_back_days: int = _rule(1, least=0, most=365, unit="days")  # a pulled chart is due back after its appointment


@dataclass(frozen=True)
class Restricted:
    """Who may open a restricted record (X3). A standing need: the role is listed here, or a manager assigned the
    user to the patient. Anyone else may only break the glass: a purpose and a reason, access to that patient for
    break_glass_hours, every use queued for a supervisor's review. Default: managers (who grant the assignments
    and answer for them) have a standing need; clerks and supervisors are assigned, or break the glass."""

    roles: tuple[str, ...] = _rule(("manager",), choices=ROLES, empty_ok=True)
    break_glass_hours: int = _rule(4, least=1, most=24, unit="hours")


@dataclass(frozen=True)
class Serve:
    max_sessions: int = _rule(50, least=1, most=10_000)
    max_sessions_per_user: int = _rule(3, least=1, most=1000)
    max_output_buffer: int = _rule(4 * MIB, least=64 * 1024, most=1024 * MIB, unit="bytes")
    max_unauthenticated: int = _rule(20, least=1, most=10_000)


@dataclass(frozen=True)
class Retention:
    # The schedules (data/retention.toml) this site keeps charts by; US (Medicare) applies whatever is named.
    jurisdictions: tuple[str, ...] = _rule(("US",), pattern=r"[A-Z][A-Z0-9-]{1,15}",
                                           shape="a list of jurisdiction codes in capitals, such as [\"US\", \"TX\"]")
    policy_years: int = _rule(0, least=0, most=150, unit="years")  # the site's own period; 0: none
    archive: bool = _rule(False)  # archive every chart before destruction, whatever its rule says
    # The archive key (retention/archive.py: create_key_file), kept apart from the master key; relative to the home
    # unless absolute. Empty: an archive step asks for --key-file.
    archive_key_file: str = _rule("", limit=4096)


SECTIONS: dict[str, type] = {"intake": Intake, "print": Print, "roi": Roi, "completion": Completion,
                             "tracking": Tracking, "filing": Filing, "pull_list": PullList, "serve": Serve,
                             "restricted": Restricted, "retention": Retention}
_BINDING_ID = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")
# Keys that survive every terminal (DESIGN: letters, digits, F1-F24, Enter, arrows, PgUp/PgDn, ctrl+letter).
_KEY = (r"(?:(?:ctrl|shift|alt)\+)*(?:f(?:[1-9]|1[0-9]|2[0-4])|[a-z0-9]|enter|escape|tab|space|backspace|delete|"
        r"insert|home|end|pageup|pagedown|up|down|left|right)")
_KEYS = re.compile(f"{_KEY}(?:,{_KEY})*")


@dataclass
class Config:
    """A desk's settings, read once from <home>/config.toml and validated here at the edge."""

    home: Path
    desk_id: str = ""
    key_source: str = "keyring"
    key_file: Path | None = None
    database_url: str = ""
    idle_timeout: int = DEFAULT_IDLE_TIMEOUT
    demo: bool = False
    facility: str = "Riverside General Hospital"
    timezone: str = ""  # an IANA name ("America/Chicago") for the times shown; "": this machine's own zone
    intake: Intake = field(default_factory=Intake)
    print: Print = field(default_factory=Print)
    roi: Roi = field(default_factory=Roi)
    completion: Completion = field(default_factory=Completion)
    tracking: Tracking = field(default_factory=Tracking)
    filing: Filing = field(default_factory=Filing)
    pull_list: PullList = field(default_factory=PullList)
    serve: Serve = field(default_factory=Serve)
    restricted: Restricted = field(default_factory=Restricted)
    retention: Retention = field(default_factory=Retention)
    keymap: dict[str, str] = field(default_factory=dict)  # binding id -> key(s), for App.set_keymap

    @property
    def zone(self):
        """The time zone times are shown in (recdesk.display.when); None: this machine's own."""
        return display.zone(self.timezone)

    @property
    def path(self) -> Path:
        return self.home / CONFIG_NAME

    @property
    def creating_path(self) -> Path:
        return self.home / CREATING_NAME

    @property
    def sqlite_path(self) -> Path:
        return self.home / "recdesk.db"

    @property
    def inbox_path(self) -> Path:
        """Where intake takes scans from: [intake] inbox, relative to the home unless absolute."""
        return self.home / self.intake.inbox

    @property
    def store_path(self) -> Path:
        return self.home / "store"

    @property
    def effective_database_url(self) -> str:
        """RECDESK_DB wins over the config file; empty means the embedded SQLCipher file."""
        return os.environ.get("RECDESK_DB") or self.database_url

    def to_toml(self) -> str:
        lines = [
            "# recdesk desk configuration",
            "[desk]",
            f"id = {_toml(self.desk_id)}",
            f"demo = {_toml(self.demo)}",
            f"facility = {_toml(self.facility)}",
            f"idle_timeout = {self.idle_timeout}",
            *([f"timezone = {_toml(self.timezone)}"] if self.timezone else []),
            "",
            "[keys]",
            "# keyring (OS keyring of the service account), file (0400/0600 key file), demo",
            f"source = {_toml(self.key_source)}",
        ]
        if self.key_file is not None:
            lines.append(f"file = {_toml(str(self.key_file))}")
        lines += ["", "[database]", "# empty: the embedded SQLCipher file recdesk.db in this home"]
        lines.append(f"url = {_toml(self.database_url)}")
        for name in SECTIONS:  # only what differs from the defaults, so a newer recdesk's defaults apply
            section = getattr(self, name)
            changed = [(f.name, getattr(section, f.name)) for f in dataclasses.fields(section)
                       if getattr(section, f.name) != f.default]
            if changed:
                lines += ["", f"[{name}]", *(f"{key} = {_toml(value)}" for key, value in changed)]
        if self.keymap:
            lines += ["", "[keymap]", *(f"{_toml(k)} = {_toml(v)}" for k, v in self.keymap.items())]
        return "\n".join(lines) + "\n"

    def save(self, path: Path | None = None) -> None:
        """Write the settings to config.toml (or `path`) whole: a temporary file, flushed, then renamed."""
        path = path or self.path
        self.home.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(self.to_toml())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a TOML basic string


# --- reading and checking --------------------------------------------------------------------------------------


def _shown(value: Any) -> str:
    """A bad value as the person wrote it in TOML, cut short."""
    text = _toml(value) if isinstance(value, bool | int | float | str | list) else type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


class _Reader:
    """Checks one config.toml's values, each against its section's rule; the first bad one is the error."""

    def __init__(self, raw: dict) -> None:
        self.raw = raw

    def fail(self, section: str, key: str, wants: str, value: Any) -> DeskError:
        return DeskError(f"{CONFIG_NAME}: [{section}] {key} must be {wants}, not {_shown(value)}")

    def table(self, name: str, known: tuple[str, ...]) -> dict:
        values = self.raw.get(name, {})
        if not isinstance(values, dict):
            raise DeskError(f"{CONFIG_NAME}: {name} must be a [{name}] section, not {_shown(values)}")
        for key in values:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f"did you mean {close[0]}?" if close else f"known keys: {', '.join(known) or 'none'}"
                raise DeskError(f"{CONFIG_NAME}: [{name}] has no setting {key!r} ({hint}): fix or remove it")
        return values

    def value(self, section: str, key: str, value: Any, kind: str, meta: dict) -> Any:
        least, most, unit = meta.get("least"), meta.get("most"), meta.get("unit", "")
        if kind == "bool":
            if not isinstance(value, bool):
                raise self.fail(section, key, "true or false", value)
            return value
        if kind == "int":
            if not isinstance(value, int) or isinstance(value, bool) or not least <= value <= most:
                raise self.fail(section, key, f"a whole number{' of ' + unit if unit else ''} from {least} to {most}",
                                value)
            return value
        if kind == "float":
            if not isinstance(value, int | float) or isinstance(value, bool) or not least <= value <= most:
                raise self.fail(section, key, f"a number from {least} to {most}", value)
            return float(value)
        if kind == "tuple[str, ...]":
            choices, empty_ok = meta["choices"], meta.get("empty_ok")
            if choices:
                if not isinstance(value, list) or (not value and not empty_ok) or any(v not in choices for v in value):
                    wants = "a list of any of" if empty_ok else "a list of one or more of"
                    raise self.fail(section, key, f"{wants} {', '.join(choices)}", value)
            elif not isinstance(value, list) or (not value and not empty_ok) or any(
                    not isinstance(v, str) or re.fullmatch(meta["pattern"], v) is None for v in value):
                raise self.fail(section, key, meta["shape"], value)
            return tuple(dict.fromkeys(value))
        if not isinstance(value, str):
            raise self.fail(section, key, "a quoted text", value)
        if meta.get("upper"):
            value = value.strip().upper()
        limit = meta.get("limit", 200)
        if FORBIDDEN.search(value) or len(value) > limit:
            raise self.fail(section, key, f"one line of at most {limit} characters", value)
        if meta.get("choices") and value not in meta["choices"]:
            raise self.fail(section, key, f"one of {', '.join(meta['choices'])}", value)
        if not value.strip() and not meta.get("blank_ok", True):
            raise self.fail(section, key, meta.get("shape") or "a text that is not empty", value)
        if value and meta.get("pattern") and re.fullmatch(meta["pattern"], value) is None:
            raise self.fail(section, key, meta["shape"], value)
        return value

    def section(self, name: str, cls: type) -> Any:
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values = self.table(name, tuple(fields))
        return cls(**{key: self.value(name, key, value, fields[key].type, dict(fields[key].metadata))
                      for key, value in values.items()})


def _keymap(reader: _Reader) -> dict[str, str]:
    values = reader.raw.get("keymap", {})
    if not isinstance(values, dict):
        raise DeskError(f"{CONFIG_NAME}: keymap must be a [keymap] section of binding id = \"key\"")
    for binding, keys in values.items():
        if not _BINDING_ID.fullmatch(binding):
            raise DeskError(f"{CONFIG_NAME}: [keymap] {binding!r} is not a binding id (such as sign_off or "
                            "search.open): see F1 for the ids")
        if not isinstance(keys, str) or not _KEYS.fullmatch(keys):
            raise reader.fail("keymap", binding, "a key such as \"f9\" or \"ctrl+x\" (several: \"f9,ctrl+x\")", keys)
    return dict(values)


@dataclass(frozen=True)
class KeyBinding:
    """One key of one of the desk's bindings, as the keymap check sees it (the app hands them over: this module
    never imports textual). `scope` is "app" for the keys that work on every screen, else the screen or widget
    that holds the key; `what` names a binding without an id."""

    scope: str
    key: str
    id: str = ""
    what: str = ""

    def named(self) -> str:
        where = "" if self.scope == APP_SCOPE else f" on {self.scope}"
        return f"{self.id or repr(self.what)} ({self.key}{where})"


APP_SCOPE = "app"


def check_keymap(keymap: dict[str, str], bindings: list[KeyBinding] | tuple[KeyBinding, ...]) -> None:
    """Refuse, in one line that names both, a [keymap] entry whose binding id the desk does not have, or whose key
    another binding holds where both work (the same screen, or anywhere for the app's own keys)."""
    known = sorted({b.id for b in bindings if b.id})
    for binding_id in keymap:
        if binding_id not in known:
            close = difflib.get_close_matches(binding_id, known, n=1)
            hint = f"did you mean {close[0]}?" if close else "F1 on each screen shows its keys"
            raise DeskError(f"{CONFIG_NAME}: [keymap] {binding_id!r} is not a binding id of the desk ({hint}): "
                            "fix or remove it")
    remapped = {(b.scope, b.id, b.what) for b in bindings if b.id in keymap}
    held = [b for b in bindings if b.id not in keymap]
    held += [KeyBinding(scope, key.strip(), binding_id, what) for scope, binding_id, what in sorted(remapped)
             for key in keymap[binding_id].split(",")]
    for binding_id, keys in keymap.items():
        for mine in (b for b in held if b.id == binding_id):
            for other in held:
                if other.key == mine.key and other.id != binding_id and (
                        APP_SCOPE in (mine.scope, other.scope) or mine.scope == other.scope):
                    raise DeskError(f"{CONFIG_NAME}: [keymap] {binding_id} = {_toml(keys)} collides with "
                                    f"{other.named()}: give one of them another key")


def parse(home: Path, text: str) -> Config:
    """The settings in a config.toml's text; anything unknown, of the wrong type or out of bounds is one line."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DeskError(f"{home / CONFIG_NAME} is not valid TOML ({exc}): fix or restore it") from None
    known = ("desk", "keys", "database", *SECTIONS, "keymap")
    for name in raw:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean [{close[0]}]?" if close else f"sections: {', '.join(known)}"
            raise DeskError(f"{CONFIG_NAME}: there is no [{name}] section ({hint}): fix or remove it")
    reader = _Reader(raw)
    text_rule = {"limit": 200, "blank_ok": False}
    desk = reader.table("desk", ("id", "demo", "facility", "idle_timeout", "timezone"))
    desk_id = reader.value("desk", "id", desk.get("id", ""), "str",
                           {"pattern": r"[0-9a-f]{8,64}", "shape": "the desk id recdesk init wrote"})
    if not desk_id:
        raise DeskError(f"{CONFIG_NAME}: [desk] id is missing: restore the config.toml recdesk init wrote")
    demo = reader.value("desk", "demo", desk.get("demo", False), "bool", {})
    facility = reader.value("desk", "facility", desk.get("facility", Config.facility), "str", text_rule)
    idle = reader.value("desk", "idle_timeout", desk.get("idle_timeout", DEFAULT_IDLE_TIMEOUT), "int",
                        {"least": 30, "most": 86_400, "unit": "seconds"})
    timezone = reader.value("desk", "timezone", desk.get("timezone", ""), "str", {"limit": 64})
    try:
        display.zone(timezone)
    except ValueError:
        raise reader.fail("desk", "timezone", display.ZONE_WANTED, timezone) from None
    keys = reader.table("keys", ("source", "file"))
    source = reader.value("keys", "source", keys.get("source", "keyring"), "str", {"choices": KEY_SOURCES})
    key_file = reader.value("keys", "file", keys.get("file", ""), "str", {"limit": 4096})
    if source == "file" and not key_file:
        raise DeskError(f"{CONFIG_NAME}: [keys] source = \"file\" needs file = \"/path/to/key\"")
    url = reader.value("database", "url", reader.table("database", ("url",)).get("url", ""), "str", {"limit": 4096})
    if url and not url.startswith(("postgresql://", "postgres://")):
        raise reader.fail("database", "url", "empty (the SQLCipher file) or a postgresql:// URL", url)
    config = Config(home=home, desk_id=desk_id, key_source=source,
                    key_file=Path(key_file).expanduser() if key_file else None, database_url=url,
                    idle_timeout=idle, demo=demo, facility=facility, timezone=timezone, keymap=_keymap(reader),
                    **{name: reader.section(name, cls) for name, cls in SECTIONS.items()})
    _check_print_command(config.print.command)
    _check_state(home, config.roi.state)
    check_scan_folder(home, config.inbox_path, "[intake] inbox")
    return config


DESK_FOLDERS = ("store", "printouts", "logs", "data")  # the desk's own folders in its home


def check_scan_folder(home: Path, folder: Path, what: str = "the scan folder") -> None:
    """Refuse a scan folder that is the desk's home, holds it, or is one of its own folders: intake takes in
    (and removes) every file it finds there, and would swallow the database, the key file or the store."""
    box, own = Path(os.path.abspath(folder)), Path(os.path.abspath(home))
    try:
        box, own = box.resolve(), own.resolve()
    except (OSError, RuntimeError):
        pass
    if own.is_relative_to(box):
        raise DeskError(f"{what} {_shown(str(folder))} is the desk's home or holds it: intake would take the desk's "
                        "own files; name a folder of its own (default: <home>/inbox)")
    if box.is_relative_to(own) and box.relative_to(own).parts[0] in DESK_FOLDERS:
        raise DeskError(f"{what} {_shown(str(folder))} is inside the desk's own {box.relative_to(own).parts[0]} "
                        "folder: name a folder of its own (default: <home>/inbox)")


def _check_print_command(command: str) -> None:
    try:
        shlex.split(command)
    except ValueError as exc:
        raise DeskError(f"{CONFIG_NAME}: [print] command {_shown(command)} cannot be read ({exc}): "
                        "fix its quotes") from None


def _check_state(home: Path, state: str) -> None:
    if state and state not in reference.load("roi_rules", home).get("state", {}):
        raise DeskError(f"{CONFIG_NAME}: [roi] state {state!r} has no release rules in roi_rules.toml: add a "
                        f"[state.{state}] section to {home / 'data' / 'roi_rules.toml'}, or correct the state in "
                        f"{CONFIG_NAME}")


def read(path: Path) -> Config:
    """The settings in `path` (config.toml, or an unfinished desk's config.toml.creating)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DeskError(f"{path} is not UTF-8 text: fix or restore it") from None
    except OSError as exc:
        raise DeskError(f"cannot read {path} ({exc.strerror}): check its permissions") from None
    return parse(path.parent, text)


def load(home: Path) -> Config:
    """Read and validate <home>/config.toml; a missing desk or a bad value is a one-line DeskError."""
    path = home / CONFIG_NAME
    if not path.exists():
        if (home / CREATING_NAME).exists():
            raise DeskError(f"the desk in {home} was not finished (its `recdesk init` was interrupted): run the "
                            "same `recdesk init` again to finish it")
        raise DeskError(f"no desk in {home}: run `recdesk init` (or `recdesk demo`) first")
    return read(path)
