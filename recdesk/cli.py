"""The `recdesk` command line: set-up, demo, users, search, retention and purge, doctor, audit. TUI only on demand."""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from pathlib import Path
from typing import NoReturn

from recdesk import __version__
from recdesk.display import shown, utc_iso, when
from recdesk.errors import AccessDenied, DeskError

EXIT_FAILED = 1  # a check ran and found a problem
EXIT_ERROR = 2  # the command could not do what was asked
MAX_DEMO_PATIENTS = 2_000_000


def _home(args) -> Path:
    from recdesk.config import default_home

    return Path(args.home).expanduser() if args.home else default_home()


def _out(text: str = "") -> None:
    """Lines for a person on stdout: what came from outside shows its control characters, never runs them."""
    print(shown(text, lines=True), flush=True)


def _err(text: str) -> None:
    """A line for a person on stderr, made safe like `_out` (messages echo file names and typed values)."""
    print(shown(text, lines=True), file=sys.stderr, flush=True)


def _out_json(data: object, *, indent: int | None = None) -> None:
    """JSON on stdout, all ASCII: every control, C1 and bidi character goes out as a \\uXXXX escape."""
    print(json.dumps(data, ensure_ascii=True, indent=indent), flush=True)


class _Parser(argparse.ArgumentParser):
    """argparse, with a mistyped argument reported in one line (no usage block), made safe like every other
    line (it echoes what was typed), and exit 2."""

    def error(self, message: str) -> NoReturn:
        _err(f"{self.prog}: {message} (see `{self.prog} --help`)")
        sys.exit(EXIT_ERROR)


def _whole(least: int, most: int | None = None):
    """An argparse type: a whole number from `least` to `most` (no upper bound: the service checks it)."""

    def whole(text: str) -> int:
        try:
            value = int(text, 10)
        except ValueError:  # also a number of thousands of digits
            value = None
        if value is None or value < least or (most is not None and value > most):
            bounds = f"from {least:,} to {most:,}" if most is not None else f"of at least {least:,}"
            raise argparse.ArgumentTypeError(f"must be a whole number {bounds}, not {text[:20]!r}")
        return value

    return whole


def _day(text: str):
    """An argparse type: a date YYYY-MM-DD in the years a pull list can cover."""
    import datetime

    from recdesk.paper.pulllist import FIRST_DAY, LAST_DAY

    try:
        day = datetime.date.fromisoformat(text)
    except ValueError:
        day = None
    if day is None or not FIRST_DAY <= day <= LAST_DAY or len(text) != 10:
        raise argparse.ArgumentTypeError(f"must be a date YYYY-MM-DD from {FIRST_DAY} to {LAST_DAY}, not {text[:20]!r}")
    return day


def cmd_init(args) -> int:
    from recdesk.config import Config
    from recdesk.desk import Desk

    home = _home(args)
    key_source = args.key_source or ("file" if args.key_file else "keyring")
    if key_source == "file" and not args.key_file:
        raise DeskError("--key-source file needs --key-file PATH (a new file, created 0600)")
    config = Config(home=home, key_source=key_source,
                    key_file=Path(args.key_file).expanduser().resolve() if args.key_file else None,
                    database_url=args.database or "")
    from recdesk.desk import os_user_name

    resuming = config.creating_path.exists()
    desk, actor = Desk.create(config, args.manager or os_user_name(), manager_full_name=args.full_name or "")
    desk.close()
    config = desk.config  # an interrupted init's own settings, when this run finished it
    where = config.effective_database_url or str(config.sqlite_path)
    _out(f"desk {'finished (its first init was interrupted)' if resuming else 'created'} in {home}")
    _out(f"  database: {where}")
    _out(f"  master key: {config.key_source}" + (f" ({config.key_file})" if config.key_file else ""))
    _out(f"  first manager: {actor.user_name}")
    _out("Back up the master key apart from the database: without it the records cannot be read.")
    return 0


def cmd_demo(args) -> int:
    from recdesk.demo import builder

    home = Path(args.home).expanduser() if args.home else None
    if home is None:
        from recdesk.config import default_home

        home = default_home() / "demo" if not os.environ.get("RECDESK_HOME") else default_home()

    def say(line: str) -> None:
        _err(line)

    say(f"demo desk in {home} (synthetic patients; demo key file, not for production)")
    progress = builder.Rate(say)
    desk = builder.build(home, args.patients, args.seed, progress=progress)
    desk.close()
    say(f"demo desk ready: {args.patients:,} patients, seed {args.seed}")
    if args.build_only:
        return 0
    args.home = str(home)
    return cmd_desk(args)


def _without_postgres_driver(home: Path) -> None:
    """A session on a SQLCipher desk never loads the PostgreSQL driver (peewee would: ~90 ms, ~10 MB each)."""
    from recdesk import config as config_mod

    try:
        if not config_mod.load(home).effective_database_url and "peewee" not in sys.modules:
            sys.modules.setdefault("psycopg", None)  # type: ignore[arg-type]
    except DeskError:
        pass  # Desk.open says what is wrong


def open_session(home: Path, as_user: str | None = None):
    """Open the desk and sign its TUI session on (audited): the SSH door's ticket, else the local desk user (or, on a
    demo desk, the one named by --as). A supervisor's desk is reopened read-only: their database connection itself
    refuses writes. Returns (desk, actor)."""
    _without_postgres_driver(home)
    from recdesk.desk import Desk
    from recdesk.serve import sessions

    desk = Desk.open(home)
    try:
        ticket = os.environ.pop("RECDESK_TICKET", None)
        if ticket:
            from recdesk.serve import tickets

            if as_user is not None:
                raise DeskError("--as does not apply to a session over SSH: the key signs the person on")
            t = tickets.verify(desk.master, ticket)
            actor = sessions.sign_on(desk, t.user, via="ssh", address=t.address, key_fingerprint=t.key_fingerprint,
                                     session=t.session)
        else:
            if as_user is not None:
                desk.act_as(as_user)
            actor = sessions.sign_on(desk, desk.local_actor().user_name, via="--as" if as_user else "local")
    except BaseException:
        desk.close()
        raise
    if actor.role == "supervisor":
        desk.close()
        desk = Desk.open(home, readonly=True)
    return desk, actor


def run_desk(home: Path, as_user: str | None = None) -> int:
    """Sign on and run the TUI until sign-off; returns the exit code. Imports textual only here."""
    _without_postgres_driver(home)
    from recdesk import config as config_mod
    from recdesk.serve import sessions
    from screens.app import RecdeskApp, check_keymap

    check_keymap(config_mod.load(home).keymap)  # a [keymap] that cannot work stops the desk before anyone signs on
    desk, actor = open_session(home, as_user)

    app = RecdeskApp(desk, actor)
    desk.close()  # this thread's connection; the app works on its own desk thread, and sign-off reconnects
    try:
        app.run(mouse=False)
    finally:
        with desk:  # the app closed its own thread's connection; this thread's is still open
            sessions.sign_off(desk, actor, app.sign_off_reason)
    if app.sign_off_reason == "idle":
        import datetime

        import humanize

        idle = humanize.naturaldelta(datetime.timedelta(seconds=desk.config.idle_timeout))
        _err(f"recdesk: signed off after {idle} without a keystroke")
    return 0


def cmd_desk(args) -> int:
    return run_desk(_home(args), args.as_user)


def _open(args, *, readonly: bool = False):
    from recdesk.desk import Desk

    desk = Desk.open(_home(args), readonly=readonly)
    if args.as_user is not None:
        try:
            desk.act_as(args.as_user)
        except DeskError:
            desk.close()
            raise
    return desk


def cmd_search(args) -> int:
    from recdesk.patients import search

    with _open(args) as desk:
        actor = desk.local_actor()
        hits = search.search(desk, actor, args.query, limit=args.limit, complete=True)
        rows = [h.as_row() for h in hits]
        if args.json:
            _out_json(rows)
            return 0
        if not rows:
            _out(f"no patient matches {search.clean(args.query)!r}: {search.NO_MATCH_HINT}")
            return 0
        for hit, row in zip(hits, rows, strict=True):
            name = shown(hit.patient.display_name)  # before padding, so a made-visible escape keeps the columns
            if hit.destroyed is not None:  # the register's answer: nothing of the record is left to open
                _out(f"{row['mrn']:>9}  {name[:34]:<34} {row['dob'] or '':<10}  {hit.destroyed_label}")
                continue
            flags = ",".join(row["flags"])
            _out(f"{row['mrn']:>9}  {name[:34]:<34} {row['dob'] or '':<10} {row['sex']}  "
                 f"{row['ssn_last4'] or '----'}  {hit.match:<8} {flags}")
        if all(h.destroyed is not None for h in hits):
            _out(hits[0].destroyed_line)
            return 0
        more = "" if len(hits) < args.limit else f" (--limit {args.limit}: there may be more)"
        _out(search.summary(hits, guess_mark="marked phonetic") + more)
    return 0


def cmd_serve(args) -> int:
    import asyncio

    from recdesk.serve import door

    if args.new_host_key:
        fingerprint = door.new_host_key(_home(args))
        _out(f"made a new SSH host key for the desk in {_home(args)}: {fingerprint}")
        _out("Give clerks this fingerprint: clients that knew the old key will warn that it changed.")
        return 0

    def ready(port: int) -> None:
        _out(f"recdesk: serving the desk in {_home(args)} on ssh://{args.host}:{port} (Ctrl+C stops)")
        _out(f"recdesk: host key {door.load_host_key(_home(args)).get_fingerprint('sha256')} "
             "(clients check it on their first connection: give them this line)")

    try:
        asyncio.run(door.serve(_home(args), args.host, args.port, ready=ready))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        raise DeskError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    return 0


def _write_out(path: str, data: bytes) -> None:
    """Write an export (PHI) to a new file readable by its owner only, or to stdout with '-'."""
    if path == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise DeskError(f"{path} already exists: choose a new file name") from None
    except OSError as exc:
        raise DeskError(f"cannot write {path}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def cmd_intake_scan(args) -> int:
    from recdesk.documents import intake

    def progress(done: int, total: int) -> None:
        _err(f"scanned {done:,} / {total:,}")

    with _open(args) as desk:
        actor = desk.local_actor()
        report = intake.scan(desk, actor, Path(args.directory) if args.directory else None, progress=progress)
    _out(f"{len(report.received)} received for indexing, {len(report.quarantined)} quarantined, "
         f"{report.duplicates} duplicates of documents already on the desk"
         + (f", {report.returned} returned to the inbox from an interrupted scan" if report.returned else ""))
    for uid, reason in report.quarantined:
        _out(f"  quarantined {uid}: {reason}")
    for name, why in report.refused:
        _out(f"  refused {intake.shown_name(name)}: {why}; {intake.REFUSED_ADVICE}")
    return 0


def cmd_intake_coversheet(args) -> int:
    from recdesk.documents import intake

    with _open(args) as desk:
        data = intake.coversheet(desk, desk.local_actor(), args.mrn)
    _write_out(args.output, data)
    return 0


def cmd_intake_export(args) -> int:
    from recdesk.documents import intake
    from recdesk.patients.chart import PurposeRequired

    with _open(args) as desk:
        try:
            data = intake.document_bytes(desk, desk.local_actor(), args.document, purpose=args.purpose)
        except PurposeRequired:
            raise DeskError("this document is of a restricted record: add --purpose CODE (your purpose of access "
                            "is recorded and reviewed by a supervisor)") from None
    _write_out(args.output, data)
    return 0


def cmd_intake_status(args) -> int:
    from recdesk.documents import intake

    with _open(args) as desk:
        counts = intake.counts(desk)
        quarantined = intake.quarantine(desk)
    if args.json:
        _out_json({**counts, "quarantine": [
            {"document": d.uuid, "received_at": utc_iso(d.received_at),
             "reason": intake.shown_reason(d.quarantine_reason)} for d in quarantined]})
        return 0
    _out(f"unfiled {counts['unfiled']}  QA pending {counts['qa_pending']}  quarantined {counts['quarantined']}")
    for name, c in sorted(counts["clerks"].items()):
        _out(f"  {shown(name):<16} indexed {c['indexed']:>6}  QA'd {c['qa_done']:>6}  failed {c['qa_failed']:>6}")
    for doc in quarantined:
        received = f" {when(doc.received_at, desk.config.zone)}" if doc.received_at else ""
        _out(f"  quarantined {doc.uuid}{received}: {intake.shown_reason(doc.quarantine_reason)}")
    return 0


def cmd_reindex(args) -> int:
    from recdesk.patients import registry

    def progress(done: int, total: int) -> None:
        _err(f"indexed {done:,} / {total:,} patients")

    with _open(args) as desk:
        before = desk.index_version
        done = registry.reindex(desk, desk.local_actor(), progress=progress)
        _out(f"blind index at version {desk.index_version} (was {before}); {done:,} patients indexed")
    return 0


def cmd_pull_list(args) -> int:
    import datetime

    from recdesk.paper import pulllist

    start = args.date or datetime.date.today() + datetime.timedelta(1)
    pulllist.check_span(start, args.days)
    with _open(args) as desk:
        items = pulllist.build(desk, desk.local_actor(), start, args.days)
    if args.json:
        _out_json([i.as_row() for i in items])
        return 0
    _out(f"pull list {start.isoformat()}" + (f" + {args.days - 1} days" if args.days > 1 else "")
         + f": {len(items)} charts in shelf order")
    for i in items:
        _out(f"  {shown(i.shelf):<12} {shown(i.mrn):>9}  {shown(i.name)[:28]:<28} {shown(i.clinic)[:22]:<22} "
             f"{i.time[11:]}  {i.status}")
    return 0


def _warn_unknown(unknown) -> None:
    """`--lenient`: each key left out of a request file, by its path, one line each on stderr."""
    for key in unknown:
        _err(f"recdesk: warning: {key}: left out")


def cmd_roi_check(args) -> int:
    from recdesk import shapes
    from recdesk.release import rules

    home = _home(args)
    document, unknown = shapes.known_keys_only(rules.CONTRACT, shapes.read_json(args.file), lenient=args.lenient)
    _warn_unknown(unknown)
    verdict = rules.check_json(document, home=home if home.is_dir() else None, state=(args.state or "").upper())
    _out_json(verdict, indent=None if args.compact else 2)
    return 0


def cmd_roi_import(args) -> int:
    from recdesk.release import log, requests

    with _open(args) as desk:
        actor = desk.local_actor()
        logged = requests.import_file(desk, actor, args.file, lenient=args.lenient)
        _warn_unknown(logged.unknown)
        if logged.before:
            print("recdesk: this request was logged before (the same file): nothing new was written", file=sys.stderr)
        for release in logged.releases:
            v = log.view(desk, log.release_row(release.uuid))
            line = f"{release.uuid[:8].upper()}  MRN {v.mrn}  {release.status.replace('_', ' ')}  due {v.due}"
            if release.status == "on_hold":
                line += "  (" + "; ".join(f"{p.code} {p.field}" for p in v.verdict.problems) + ")"
            _out(line)
    return 0


def cmd_roi_list(args) -> int:
    from recdesk.release import requests

    with _open(args) as desk:
        views = requests.queue(desk, desk.local_actor(), include_closed=args.all)
        if args.json:
            _out_json([{"release": v.uuid, "mrn": v.mrn, "status": v.status, "due": v.due.isoformat(),
                        "received": v.received_on.isoformat(), "aging": v.bucket,
                        "problems": [p.code for p in v.verdict.problems]} for v in views])
            return 0
        if not views:
            _out("no open requests")
        for v in views:
            _out(f"{v.uuid[:8].upper()}  {shown(v.mrn):>9}  {v.status.replace('_', ' '):<11}  due {v.due}  "
                 f"{v.bucket:<12}  {shown(v.requester_name)[:30]}")
    return 0


def cmd_appointments_import(args) -> int:
    from recdesk.paper import appointments

    path = Path(args.file)
    if path.is_dir():
        raise DeskError(f"{path} is a folder, not a CSV file: name the file to import")
    if not path.is_file():
        raise DeskError(f"cannot read {path}: no such file")
    with _open(args) as desk:
        report = appointments.import_csv(desk, desk.local_actor(), path)
    _out(report.summary())
    for reject in report.rejects:
        _err(f"  {reject}")
    return EXIT_FAILED if report.rejects else 0


def cmd_review(args) -> int:
    from recdesk import review

    if args.section not in review.SECTIONS:
        raise DeskError(f"no review section {args.section!r}: pick one of {', '.join(review.SECTIONS)}")
    with _open(args) as desk:
        actor = desk.local_actor()
    with _open(args, readonly=actor.role == "supervisor") as desk:  # a supervisor's connection refuses writes
        table = review.section(desk, desk.local_actor(), args.section)
    if args.json:
        _out_json({"title": table.title, "columns": table.columns, "rows": table.rows})
        return 0
    rows = [[shown(v) for v in row] for row in table.rows]  # before measuring, so the columns line up
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(table.columns)]
    _out(table.title + (f" - {table.note}" if table.note else ""))
    _out("  ".join(c.ljust(w) for c, w in zip(table.columns, widths, strict=True)).rstrip())
    for row in rows:
        _out("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    return 0


def cmd_doctor(args) -> int:
    from recdesk import doctor

    report = doctor.run(_home(args))
    _out(report.render())
    return 0 if report.passed else EXIT_FAILED


def cmd_audit_verify(args) -> int:
    from recdesk.vault import audit

    with _open(args) as desk:
        report = audit.verify(desk)
    if report.intact:
        _out(f"audit chain intact: {report.events:,} events")
        return 0
    _out(f"audit chain broken at seq {report.broken_seq}: {report.reason}")
    return EXIT_FAILED


def cmd_audit_accept_restore(args) -> int:
    from recdesk.vault import audit

    with _open(args) as desk:
        seq = audit.accept_restore(desk, desk.local_actor())
    _out(f"restore accepted and audited: this home now trusts the audit head at {seq:,}")
    return 0


def cmd_user_add(args) -> int:
    from recdesk import users

    keys = list(args.ssh_key or [])
    for path in args.ssh_key_file or []:
        try:
            keys += [line for line in Path(path).read_text().splitlines() if line.strip()]
        except OSError as exc:
            raise DeskError(f"cannot read SSH key file {path}: {exc.strerror}") from None
    with _open(args) as desk:
        actor = desk.local_actor()
        user = users.add(desk, actor, args.name, args.role, full_name=args.full_name or "",
                         os_user=args.os_user, ssh_keys=keys)
    _out(f"added {user.role} {user.name}" + (f" with {len(keys)} SSH key(s)" if keys else ""))
    return 0


def cmd_user_list(args) -> int:
    from recdesk import users

    with _open(args) as desk:
        rows = users.listing(desk, desk.local_actor())
    if args.json:
        _out_json(rows)
        return 0
    for r in rows:
        state = "disabled" if r["disabled"] else "active"
        _out(f"{shown(r['name']):<16} {r['role']:<10} {state:<8} {r['keys']} key(s)  {r['full_name']}")
    return 0


def cmd_user_disable(args) -> int:
    from recdesk import users

    with _open(args) as desk:
        users.disable(desk, desk.local_actor(), args.name)
    _out(f"disabled {args.name}")
    return 0


# --- retention and legal holds ------------------------------------------------------------------------------------


def _open_as_role(args):
    """The desk opened for the local user's role: a supervisor's connection is read-only."""
    with _open(args) as desk:
        role = desk.local_actor().role
    return _open(args, readonly=role == "supervisor")


def cmd_retention_candidates(args) -> int:
    from recdesk import clock
    from recdesk.retention import worklist

    as_of = args.as_of or clock.today()
    with _open_as_role(args) as desk:
        rows = worklist.candidates(desk, desk.local_actor(), as_of=as_of, include_blocked=args.all)
    if args.json:
        _out_json([c.as_row() for c in rows])
        return 0
    eligible = sum(c.eligible for c in rows)
    _out(f"charts past retention on {as_of.isoformat()}: {eligible} eligible"
         + (f", {len(rows) - eligible} blocked" if args.all else " (--all shows the blocked ones too)"))
    for c in rows:
        name = shown(f"{c.last.upper()}, {c.first}")
        _out(f"{shown(c.mrn):>9}  {name[:26]:<26} {c.dob.isoformat() if c.dob else '':<10}  last "
             f"{c.last_encounter.isoformat()}  kept to {c.retain_until.isoformat()}  {c.rule:<18} "
             f"{'eligible' if c.eligible else 'BLOCKED'}")
        for b in (*c.blocked_by, *c.warnings):
            _out(f"           {b.code:<13} {shown(b.words)}")
    return 0


def cmd_hold_add(args) -> int:
    from recdesk.retention import holds

    with _open(args) as desk:
        hold = holds.place(desk, desk.local_actor(), matter=args.matter, mrns=args.mrn, basis=args.basis,
                           starts_on=args.starts_on, until_on=args.until)
    _out(hold)
    return 0


def cmd_hold_lift(args) -> int:
    from recdesk.retention import holds

    with _open(args) as desk:
        holds.lift(desk, desk.local_actor(), args.id, reason=args.reason)
    _out(f"legal hold {args.id} lifted")
    return 0


def cmd_hold_list(args) -> int:
    from recdesk.retention import holds

    with _open_as_role(args) as desk:
        found = holds.holds(desk, desk.local_actor(), include_lifted=not args.active)
    if args.json:
        _out_json([h.as_row() for h in found])
        return 0
    if not found:
        _out("no legal holds")
    for h in found:
        state = "in force" if h.active else (f"lifted {h.lifted_at:%Y-%m-%d} by {h.lifted_by}" if h.lifted_at
                                             else f"ended {h.until_on.isoformat()}")
        until = f" to {h.until_on.isoformat()}" if h.until_on else ""
        _out(f"{h.uuid}  {h.basis.replace('_', ' '):<18} from {h.starts_on.isoformat()}{until}  {state}")
        _out(f"    {shown(h.matter)}  (placed by {h.placed_by}; MRN {', '.join(shown(m) for m in h.mrns)})")
    return 0


# --- purge batches ---------------------------------------------------------------------------------------------------


def _batch_line(b) -> str:
    dates = f"{b.first_service or '-'} to {b.last_service or '-'}"
    return (f"{b.number}  {b.status.replace('_', ' '):<15} {b.patients:>5} patients {b.documents:>6} documents "
            f"{b.pages:>7} pages {b.volumes:>4} volumes  service {dates}")


def _batch_details(b) -> None:
    _out(_batch_line(b))
    _out(f"  id {b.id}; {b.selection}; prepared by {b.prepared_by} {b.prepared_at:%Y-%m-%d %H:%M}"
         + (f"; approved by {b.approved_by} {b.approved_at:%Y-%m-%d %H:%M}" if b.approved_at else ""))
    extra = []
    if b.archive:
        extra.append(f"archive first ({'written ' + b.archive_path if b.archived_at else 'not written yet'})")
    if b.excluded:
        extra.append(f"{b.excluded} excluded")
    if b.status not in ("prepared", "cancelled"):
        extra.append(f"{b.done} of {b.patients} destroyed")
    if b.volumes:
        extra.append(f"paper {b.volumes_done} of {b.volumes} done")
    extra.append(f"next: {b.next_step}")
    _out("  " + "; ".join(extra))


def cmd_purge_prepare(args) -> int:
    from recdesk import clock
    from recdesk.retention import batches

    digits = batches.parse_digits(args.digits) if args.digits else None
    with _open(args) as desk:
        b = batches.prepare(desk, desk.local_actor(), as_of=args.as_of or clock.today(), mrns=args.mrn,
                            terminal_digits=digits, limit=args.limit)
    if args.json:
        _out_json(b.as_row())
        return 0
    _out(f"prepared purge batch {b.number} (id {b.id})")
    _batch_details(b)
    return 0


def cmd_purge_list(args) -> int:
    from recdesk.retention import batches

    with _open_as_role(args) as desk:
        found = batches.batches(desk, desk.local_actor())
    if args.json:
        _out_json([b.as_row() for b in found])
        return 0
    if not found:
        _out("no purge batches: `recdesk purge prepare` makes one from the retention worklist")
    for b in found:
        _out(f"{b.id[:8]}  " + _batch_line(b))
    return 0


def cmd_purge_show(args) -> int:
    from recdesk.retention import batches

    with _open_as_role(args) as desk:
        b = batches.show(desk, desk.local_actor(), args.id)
    if args.json:
        _out_json(b.as_row())
        return 0
    _batch_details(b)
    for i in b.items:
        name = shown(i.name)
        _out(f"{shown(i.mrn):>9}  {name[:28]:<28} {i.dob.isoformat() if i.dob else '':<10}  last "
             f"{i.last_encounter or '-'}  kept to {i.retain_until or '-'}  {i.rule:<18} {i.outcome}")
        if i.why:
            _out(f"           {shown(i.why)}")
    return 0


def cmd_purge_approve(args) -> int:
    from recdesk.retention import batches

    with _open(args) as desk:
        b = batches.approve(desk, desk.local_actor(), args.id)
    _out(f"approved purge batch {b.number}: {b.patients} patients"
         + (f", {b.excluded} excluded (see `recdesk purge show {b.number}`)" if b.excluded else "")
         + f"; next: {b.next_step}")
    return 0


def cmd_purge_archive(args) -> int:
    from recdesk.retention import batches

    with _open(args) as desk:
        b = batches.archive(desk, desk.local_actor(), args.id, path=args.output, key_file=args.key_file)
    _out(f"archived purge batch {b.number} to {b.archive_path} (verified: every document's SHA-256 matches)")
    return 0


def cmd_purge_archive_verify(args) -> int:
    from recdesk.retention import batches

    with _open_as_role(args) as desk:
        summary = batches.verify_file(desk, desk.local_actor(), args.file, key_file=args.key_file)
    _out(f"{args.file}: verified: {len(summary.patients)} patients, {summary.documents} documents "
         f"({summary.document_bytes:,} bytes), every SHA-256 matches; file SHA-256 {summary.sha256}")
    return 0


def cmd_purge_archive_key(args) -> int:
    from recdesk.retention import archive

    path = Path(args.file).expanduser()
    try:
        archive.create_key_file(path)
    except FileExistsError:
        raise DeskError(f"{path} already exists: an archive key is never replaced (its archives need it)") from None
    except OSError as exc:
        raise DeskError(f"cannot write {path}: {exc.strerror}") from None
    _out(f"made a new archive key in {path}: keep a copy apart from the master key, and name it in config.toml "
         "([retention] archive_key_file)")
    return 0


def cmd_purge_run(args) -> int:
    from recdesk.retention import batches

    def progress(done: int, total: int, mrn: str) -> None:
        _err(f"destroyed {done:,} / {total:,}" + (f" (MRN {mrn})" if mrn else ""))

    with _open(args) as desk:
        b = batches.run(desk, desk.local_actor(), args.id, progress=progress, witness=args.witness or "")
    _out(f"purge batch {b.number} {b.status.replace('_', ' ')}: {b.done} patients destroyed"
         + (f", {b.excluded} excluded" if b.excluded else "") + f"; next: {b.next_step}")
    return 0


def cmd_purge_cancel(args) -> int:
    from recdesk.retention import batches

    with _open(args) as desk:
        b = batches.cancel(desk, desk.local_actor(), args.id, reason=args.reason)
    _out(f"purge batch {b.number} cancelled")
    return 0


def _paper_line(v) -> str:
    said = {"pending": "to shred", "shredded": f"shredded by {v.by}, witness {v.witness}",
            "not_found": f"NOT FOUND (reported by {v.by})" + (f": {v.note}" if v.note else "")}[v.status]
    return f"{shown(v.shelf):<16} {shown(v.mrn):>9}  {shown(v.name)[:26]:<26} vol {v.volume_no:<3} {v.home:<8} {said}"


def cmd_purge_paper(args) -> int:
    from recdesk.retention import batches

    with _open_as_role(args) as desk:
        found = batches.paper_list(desk, desk.local_actor(), args.id)
    if args.json:
        _out_json([v.as_row() for v in found])
        return 0
    if not found:
        _out("no paper volumes in this batch")
    for v in found:
        _out(_paper_line(v))
    return 0


def cmd_purge_shredded(args) -> int:
    from recdesk.retention import batches

    with _open(args) as desk:
        v = batches.confirm_shredded(desk, desk.local_actor(), args.id, args.volume, witness=args.witness)
    _out(_paper_line(v))
    return 0


def cmd_purge_not_found(args) -> int:
    from recdesk.retention import batches

    with _open(args) as desk:
        v = batches.not_found(desk, desk.local_actor(), args.id, args.volume, note=args.note or "")
    _out(_paper_line(v))
    return 0


def cmd_purge_certificate(args) -> int:
    from recdesk.retention import batches

    with _open_as_role(args) as desk:
        data = batches.certificate(desk, desk.local_actor(), args.id)
    _write_out(args.output, data)
    return 0


def parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument("--home", default=argparse.SUPPRESS,
                        help="the desk's home folder (default: $RECDESK_HOME or the platform data dir)")
    common.add_argument("--as", dest="as_user", metavar="NAME", default=argparse.SUPPRESS,
                        help="on a demo desk only: act as this demo user (sup, manager, ...) to try every role")
    p = _Parser(prog="recdesk", description="A keyboard-only records desk for HIM clerks.",
                                parents=[common])
    p.add_argument("--version", action="version", version=f"recdesk {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    desk = sub.add_parser("desk", parents=[common], help="open the desk (the default command)")
    desk.set_defaults(func=cmd_desk)

    init = sub.add_parser("init", parents=[common], help="create a new desk")
    init.add_argument("--key-source", choices=["keyring", "file"], help="where the master key lives (default keyring)")
    init.add_argument("--key-file", help="create the master key in this new file (0600)")
    init.add_argument("--manager", help="the first manager's desk user name (default: your OS user)")
    init.add_argument("--full-name", help="the first manager's full name")
    init.add_argument("--database", help="postgresql://... to keep the desk in PostgreSQL (default: SQLCipher file)")
    init.set_defaults(func=cmd_init)

    demo = sub.add_parser("demo", parents=[common], help="build (or reuse) a demo desk of synthetic patients")
    demo.add_argument("--patients", type=_whole(1, MAX_DEMO_PATIENTS), default=10_000,
                      help="how many patients (default 10,000)")
    demo.add_argument("--seed", type=_whole(0, 999_999_999), default=1,
                      help="the same seed builds the same desk (default 1)")
    demo.add_argument("--build-only", action="store_true", help="build, then exit instead of opening the desk")
    demo.set_defaults(func=cmd_demo)

    search = sub.add_parser("search", parents=[common], help="find patients (name, MRN, DOB, last 4, S1234, phone)")
    search.add_argument("query")
    search.add_argument("--json", action="store_true", help="JSON rows: mrn,last,first,middle,dob,sex,ssn_last4,flags")
    search.add_argument("--limit", type=_whole(1, 1000), default=50, help="at most this many rows (default 50)")
    search.set_defaults(func=cmd_search)

    serve = sub.add_parser("serve", parents=[common], help="the SSH front door: clerks connect with their SSH key")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=_whole(0, 65535), default=2222, help="port (default 2222; 0 picks a free one)")
    serve.add_argument("--new-host-key", action="store_true",
                       help="make the SSH host key on purpose (refused if one exists), then exit")
    serve.set_defaults(func=cmd_serve)

    intake = sub.add_parser("intake", parents=[common], help="scanned documents: inbox, cover sheets, queues")
    intake_sub = intake.add_subparsers(dest="intake_command", metavar="ACTION", required=True)
    scan = intake_sub.add_parser("scan", parents=[common], help="take in every file in the inbox (or DIR)")
    scan.add_argument("directory", nargs="?", help="a folder to scan instead of <home>/inbox")
    scan.set_defaults(func=cmd_intake_scan)
    cover = intake_sub.add_parser("coversheet", parents=[common], help="a PDF cover sheet for a patient's batch")
    cover.add_argument("mrn")
    cover.add_argument("-o", "--output", required=True, help="a new PDF file (0600), or - for stdout")
    cover.set_defaults(func=cmd_intake_coversheet)
    export = intake_sub.add_parser("export", parents=[common], help="a document's original bytes (e.g. quarantined)")
    export.add_argument("document", help="the document id")
    export.add_argument("-o", "--output", required=True, help="a new file (0600), or - for stdout")
    export.add_argument("--purpose", help="your purpose of access, for a document of a restricted record "
                        "(treatment, release, filing, chart_completion, legal, patient_request)")
    export.set_defaults(func=cmd_intake_export)
    status = intake_sub.add_parser("status", parents=[common], help="queue counts and each clerk's work")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_intake_status)

    pull = sub.add_parser("pull-list", parents=[common], help="paper charts to pull for upcoming appointments")
    pull.add_argument("--date", type=_day, help="first day, YYYY-MM-DD (default: tomorrow)")
    pull.add_argument("--days", type=_whole(1), default=1, help="how many days from --date (default 1)")
    pull.add_argument("--json", action="store_true", help="JSON rows: mrn, shelf, clinic, time, status")
    pull.set_defaults(func=cmd_pull_list)

    roi = sub.add_parser("roi", parents=[common], help="release of information: requests, checks, packets")
    roi_sub = roi.add_subparsers(dest="roi_command", metavar="ROI_COMMAND", required=True)
    check = roi_sub.add_parser("check", parents=[common],
                               help="the validator's verdict on one request (JSON in, JSON out; see README)")
    check.add_argument("file", metavar="FILE|-", help="the request as JSON, or - for stdin")
    check.add_argument("--state", help="apply a state's stricter rules (R5), e.g. CA")
    check.add_argument("--compact", action="store_true", help="one line of JSON")
    check.add_argument("--lenient", action="store_true", help="warn about keys the contract does not have and "
                       "check without them (default: refused, exit 2)")
    check.set_defaults(func=cmd_roi_check)
    imp = roi_sub.add_parser("import", parents=[common], help="log a request from a JSON file (README: format)")
    imp.add_argument("file")
    imp.add_argument("--lenient", action="store_true", help="warn about keys the form does not have and log the "
                     "request without them (default: refused, exit 2)")
    imp.set_defaults(func=cmd_roi_import)
    lst = roi_sub.add_parser("list", parents=[common], help="open requests, most urgent first")
    lst.add_argument("--all", action="store_true", help="include released, denied and withdrawn")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=cmd_roi_list)

    appts = sub.add_parser("appointments", parents=[common], help="clinic appointments (they drive pull lists)")
    appts_sub = appts.add_subparsers(dest="appointments_command", metavar="APPOINTMENTS_COMMAND", required=True)
    aimp = appts_sub.add_parser("import", parents=[common],
                                help="import a CSV: appointment_id,mrn,clinic,date,time[,provider][,status]")
    aimp.add_argument("file")
    aimp.set_defaults(func=cmd_appointments_import)

    rev = sub.add_parser("review", parents=[common], help="the review tables: queues, aging, charts, audit (read-only)")
    rev.add_argument("section", nargs="?", default="queues",
                     help="queues, requests, charts, pulls, deficiencies, clerks, access, audit or borrowers")
    rev.add_argument("--json", action="store_true")
    rev.set_defaults(func=cmd_review)

    reindex = sub.add_parser("reindex", parents=[common], help="add search-index kinds a newer recdesk brings")
    reindex.set_defaults(func=cmd_reindex)

    doctor = sub.add_parser("doctor", parents=[common], help="check key, database, stored files and audit chain")
    doctor.set_defaults(func=cmd_doctor)

    audit = sub.add_parser("audit", parents=[common], help="the audit trail")
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = audit_sub.add_parser("verify", parents=[common], help="recompute the hash chain")
    verify.set_defaults(func=cmd_audit_verify)
    accept = audit_sub.add_parser("accept-restore", parents=[common],
                                  help="a manager accepts a database restored from a backup on purpose")
    accept.set_defaults(func=cmd_audit_accept_restore)

    user = sub.add_parser("user", parents=[common], help="desk users and their SSH keys (managers)")
    user_sub = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    add = user_sub.add_parser("add", parents=[common], help="add a desk user")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=["clerk", "supervisor", "manager"])
    add.add_argument("--full-name")
    add.add_argument("--os-user", help="the OS account that signs on as this user when run locally")
    add.add_argument("--ssh-key", action="append", help="a public key line (repeatable)")
    add.add_argument("--ssh-key-file", action="append", help="a .pub or authorized_keys file (repeatable)")
    add.set_defaults(func=cmd_user_add)
    lst = user_sub.add_parser("list", parents=[common], help="list desk users")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=cmd_user_list)
    dis = user_sub.add_parser("disable", parents=[common], help="disable a desk user")
    dis.add_argument("name")
    dis.set_defaults(func=cmd_user_disable)

    # retention and legal holds
    retention = sub.add_parser("retention", parents=[common], help="charts past their retention period (T1, T2)")
    retention_sub = retention.add_subparsers(dest="retention_command", metavar="ACTION", required=True)
    cand = retention_sub.add_parser("candidates", parents=[common],
                                    help="charts due for destruction, with what still keeps each one")
    cand.add_argument("--as-of", type=_day, help="judge on this day, YYYY-MM-DD (default: today)")
    cand.add_argument("--all", action="store_true", help="include the blocked ones, with why")
    cand.add_argument("--json", action="store_true", help="JSON rows: mrn, last, first, dob, last_encounter, "
                      "retain_until, rule, eligible, blocked_by, warnings")
    cand.set_defaults(func=cmd_retention_candidates)

    hold = sub.add_parser("hold", parents=[common], help="legal holds: place, lift, list (managers place and lift)")
    hold_sub = hold.add_subparsers(dest="hold_command", metavar="ACTION", required=True)
    hadd = hold_sub.add_parser("add", parents=[common], help="place a legal hold; prints its id")
    hadd.add_argument("--matter", required=True, help="the case, investigation or audit it is for")
    hadd.add_argument("--mrn", action="append", required=True, help="a patient it covers (repeatable)")
    hadd.add_argument("--basis", default="litigation",
                      choices=["litigation", "investigation", "audit", "government_request"])
    hadd.add_argument("--from", dest="starts_on", type=_day, help="when the duty to preserve began (default today)")
    hadd.add_argument("--until", type=_day, help="the day it ends by itself, if the matter says (default: lifting)")
    hadd.set_defaults(func=cmd_hold_add)
    hlift = hold_sub.add_parser("lift", parents=[common], help="lift a legal hold, with the reason")
    hlift.add_argument("id", help="the hold's id (at least its first 8 characters)")
    hlift.add_argument("--reason", required=True, help="why it ends: settled, closed, released by counsel ...")
    hlift.set_defaults(func=cmd_hold_lift)
    hlist = hold_sub.add_parser("list", parents=[common], help="legal holds, newest first, with their MRNs")
    hlist.add_argument("--active", action="store_true", help="only the holds in force")
    hlist.add_argument("--json", action="store_true")
    hlist.set_defaults(func=cmd_hold_list)

    purge = sub.add_parser("purge", parents=[common], help="purge batches: prepare, approve, archive, run, paper, "
                           "certificate (two people)")
    purge_sub = purge.add_subparsers(dest="purge_command", metavar="ACTION", required=True)
    pprep = purge_sub.add_parser("prepare", parents=[common], help="a batch of the eligible charts; prints its number")
    pprep.add_argument("--as-of", type=_day, help="charts eligible on this day, YYYY-MM-DD (default: today)")
    pprep.add_argument("--mrn", action="append", help="only this patient (repeatable); each must be eligible")
    pprep.add_argument("--digits", metavar="LOW-HIGH", help="only terminal digits (the MRN's last two) in this "
                       "range, such as 00-19")
    pprep.add_argument("--limit", type=_whole(1, 100_000),
                       help="at most this many patients (the longest overdue first)")
    pprep.add_argument("--json", action="store_true")
    pprep.set_defaults(func=cmd_purge_prepare)
    plist = purge_sub.add_parser("list", parents=[common], help="purge batches, newest first")
    plist.add_argument("--json", action="store_true")
    plist.set_defaults(func=cmd_purge_list)
    pshow = purge_sub.add_parser("show", parents=[common], help="a batch and each of its patients")
    pshow.add_argument("id", help="the batch's number (CD-2026-0001) or id (at least 8 characters)")
    pshow.add_argument("--json", action="store_true")
    pshow.set_defaults(func=cmd_purge_show)
    pappr = purge_sub.add_parser("approve", parents=[common], help="approve a batch (a manager who did not "
                                 "prepare it); each patient is checked again")
    pappr.add_argument("id")
    pappr.set_defaults(func=cmd_purge_approve)
    parch = purge_sub.add_parser("archive", parents=[common], help="write and verify the batch's encrypted archive")
    parch.add_argument("id")
    parch.add_argument("-o", "--output", help="the archive file (default <home>/archives/NUMBER.rda)")
    parch.add_argument("--key-file", help="the archive key (default [retention] archive_key_file)")
    parch.set_defaults(func=cmd_purge_archive)
    pver = purge_sub.add_parser("archive-verify", parents=[common], help="decrypt an archive and check every "
                                "document's SHA-256")
    pver.add_argument("file")
    pver.add_argument("--key-file", help="the archive key (default [retention] archive_key_file)")
    pver.set_defaults(func=cmd_purge_archive_verify)
    pkey = purge_sub.add_parser("archive-key", parents=[common], help="make a new archive key file (0600)")
    pkey.add_argument("file")
    pkey.set_defaults(func=cmd_purge_archive_key)
    prun = purge_sub.add_parser("run", parents=[common], help="destroy the batch by cryptographic erase (progress on "
                                "stderr); run again to finish an interrupted run")
    prun.add_argument("id")
    prun.add_argument("--witness", help="the witness of the destruction (name and title), for the certificate")
    prun.set_defaults(func=cmd_purge_run)
    pcan = purge_sub.add_parser("cancel", parents=[common], help="cancel a batch before its run")
    pcan.add_argument("id")
    pcan.add_argument("--reason", required=True)
    pcan.set_defaults(func=cmd_purge_cancel)
    ppap = purge_sub.add_parser("paper", parents=[common], help="the batch's paper volumes to shred, in shelf order")
    ppap.add_argument("id")
    ppap.add_argument("--json", action="store_true")
    ppap.set_defaults(func=cmd_purge_paper)
    pshr = purge_sub.add_parser("shredded", parents=[common], help="confirm a paper volume shredded, with a witness")
    pshr.add_argument("id")
    pshr.add_argument("volume", help="a wand scan or MRN (72248, *MRN72248*, 72248 vol 2) or the volume's id")
    pshr.add_argument("--witness", required=True, help="who saw it shredded")
    pshr.set_defaults(func=cmd_purge_shredded)
    pnf = purge_sub.add_parser("not-found", parents=[common], help="report a paper volume that cannot be found")
    pnf.add_argument("id")
    pnf.add_argument("volume", help="a wand scan or MRN (72248 vol 2) or the volume's id")
    pnf.add_argument("--note", help="where it was looked for")
    pnf.set_defaults(func=cmd_purge_not_found)
    pcert = purge_sub.add_parser("certificate", parents=[common], help="the certificate of destruction (PDF)")
    pcert.add_argument("id")
    pcert.add_argument("-o", "--output", required=True, help="a new PDF file (0600), or - for stdout")
    pcert.set_defaults(func=cmd_purge_certificate)
    return p


# Whatever the desk writes (the database and its -wal/-shm, exports, PDFs, printouts, logs, the store) holds PHI or
# keys: made readable by its owner only, whichever umask the clerk's shell had.
PRIVATE_UMASK = 0o077


def main(argv: list[str] | None = None) -> int:
    os.umask(PRIVATE_UMASK)
    args = parser().parse_args(argv)
    if not hasattr(args, "home"):
        args.home = None
    if not hasattr(args, "as_user"):
        args.as_user = None
    if not getattr(args, "func", None):
        args.func = cmd_desk
    try:
        _choose_home(args)
        _check_acting_as(args)
        return args.func(args)
    except DeskError as exc:
        _err(f"recdesk: {exc}")
        if isinstance(exc, AccessDenied):
            _record_refusal(args, exc)
        return EXIT_ERROR
    except KeyboardInterrupt:
        _err("recdesk: interrupted")
        return 130
    except BrokenPipeError:  # `recdesk search smith | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # noqa: BLE001 - a clerk never sees a traceback
        return _unexpected(args, exc)


def _choose_home(args) -> None:
    """With neither --home nor RECDESK_HOME, the platform folder; when it holds no desk but its demo folder does
    (`recdesk demo` put it there), the demo, said in one line. `init` and `demo` always mean the folder they name."""
    from recdesk import config as config_mod

    if args.home is not None or os.environ.get("RECDESK_HOME") or args.func in (cmd_init, cmd_demo):
        return
    home = config_mod.default_home()
    demo = home / "demo"
    here = (home / config_mod.CONFIG_NAME).exists() or (home / config_mod.CREATING_NAME).exists()
    if not here and (demo / config_mod.CONFIG_NAME).exists():
        _err(f"recdesk: no desk in {home}: using the demo desk in {demo}")
        args.home = str(demo)


def _check_acting_as(args) -> None:
    """--as is for demo desks only, whatever the command: refused in one line before anything is done."""
    if args.as_user is None or args.func is cmd_demo:  # demo builds a demo desk, then opens it as that user
        return
    from recdesk import config as config_mod
    from recdesk.desk import ACT_AS_DEMO_ONLY

    if args.func is cmd_init:
        raise DeskError("--as tries a demo desk as one of its users: `recdesk init` makes a real desk; "
                        "run it without --as")
    if args.func is cmd_serve:
        raise DeskError("--as does not apply to `recdesk serve`: over SSH each person's key signs them on")
    if not config_mod.load(_home(args)).demo:
        raise DeskError(ACT_AS_DEMO_ONLY)


def _record_refusal(args, exc: AccessDenied) -> None:
    """A refused action goes into the audit trail (the command's own transaction was rolled back)."""
    if exc.actor is None:
        return
    from recdesk.desk import Desk
    from recdesk.vault import audit

    try:
        with Desk.open(_home(args), readonly=exc.actor.role == "supervisor") as desk:
            audit.refusal(desk, exc)
    except Exception as err:  # noqa: BLE001 - the refusal stands; say that it went unrecorded
        _err(f"recdesk: (the refusal could not be recorded in the audit trail: {type(err).__name__})")


def _unexpected(args, exc: Exception) -> int:
    from recdesk.vault import environment
    from recdesk.vault.db import DATABASE_ERRORS

    problem = environment.cause(exc, _home(args))
    if problem is not None:
        _err(f"recdesk: {problem}")
        return EXIT_ERROR
    if isinstance(exc, DATABASE_ERRORS):
        _err(f"recdesk: the database reports: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}: "
             "run `recdesk doctor`")
        return EXIT_ERROR
    log = None
    try:
        home = _home(args)
        if home.is_dir():
            log = home / "logs" / "errors.log"
            log.parent.mkdir(mode=0o700, exist_ok=True)
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a") as f:
                # Where it failed, not what the message said: messages can carry file or patient names.
                f.write(f"{type(exc).__name__} (message withheld)\n" + "".join(traceback.format_tb(exc.__traceback__)))
    except OSError:
        log = None
    where = f"; details in {log}" if log else ""
    _err(f"recdesk: unexpected error ({type(exc).__name__}){where}")
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
