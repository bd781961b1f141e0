"""The supervisor's review: queues, aging, chart reports, deficiencies and the audit trail, as plain tables.

Read-only: every function here only reads (views of patient rows are audited through the audit connection),
so a supervisor's read-only session can run all of it. The one write, a supervisor marking a restricted opening
reviewed, is an append to the audit chain too (mark_reviewed). The F9 screen and `recdesk review` show the same tables.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field

from recdesk import clock
from recdesk.desk import Desk
from recdesk.display import when
from recdesk.documents import intake
from recdesk.paper import reports
from recdesk.patients import chart, registry
from recdesk.release import requests
from recdesk.vault import audit
from recdesk.vault.models import AuditEvent, ChartVolume, Patient


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]]
    note: str = ""
    refs: list = field(default_factory=list)  # what each row is (an audit seq for restricted openings), if anything


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


def queues(desk: Desk, actor, as_of: datetime.date) -> Table:
    """What is waiting, by queue: intake, QA, requests by age, charts out and missing, deficiencies."""
    c = intake.counts(desk)
    aging = requests.aging(desk, as_of)
    rows = [["Intake: documents to index", str(c["unfiled"])], ["QA: filed documents to check", str(c["qa_pending"])],
            ["Quarantined files", str(c["quarantined"])]]
    rows += [[f"Requests open {label}", str(n)] for label, n in aging.items()]
    # Counts only: no MRN is decrypted (and no patient view audited) to say how many charts are late or missing.
    overdue = ChartVolume.select().where((ChartVolume.status == "out") & (ChartVolume.due_back_on < as_of)).count()
    missing = ChartVolume.select().where(ChartVolume.status == "missing").count()
    rows += [["Paper charts overdue", str(overdue)], ["Paper charts missing", str(missing)]]
    deficiency = _deficiency_summary(desk, actor, as_of)
    if deficiency:
        rows += deficiency
    return Table("Queues", ["Queue", "Count"], rows)


def _deficiency_summary(desk: Desk, actor, as_of: datetime.date) -> list[list[str]]:
    try:
        from recdesk.completion import deficiencies
    except ImportError:  # pragma: no cover - deficiencies ship with recdesk
        return []
    at = _moment(as_of)
    rows = deficiencies.provider_queue(desk, actor, at)
    late = deficiencies.delinquency(desk, at)  # the one figure F6 and its Q queue show too
    rate = deficiencies.delinquency_rate(desk, at)
    shown = "no discharges in 3 months" if rate.rate == float("inf") else _pct(rate.rate)
    return [["Deficiencies open", str(sum(r.open for r in rows))],
            [f"Charts delinquent (C4: a deficiency open {late.days}+ days after discharge)", str(late.charts)],
            ["Delinquency rate (C6)", f"{shown} (threshold {rate.threshold:.0%})"
                                      + (" - OVER" if rate.over else "")]]


def _moment(day: datetime.date) -> datetime.datetime:
    """The moment a day's figures are taken: now for today (as F6 takes them), else the end of that day."""
    if day == datetime.date.today():
        from recdesk.completion.rows import wall_clock

        return wall_clock()
    return datetime.datetime.combine(day, datetime.time(23, 59))


def release_requests(desk: Desk, actor, as_of: datetime.date) -> Table:
    rows = [[v.uuid[:8].upper(), v.mrn, v.status.replace("_", " "), v.due.isoformat(), v.bucket,
             ",".join(p.code for p in v.verdict.problems)] for v in requests.queue(desk, actor)]
    return Table("Requests", ["Ref", "MRN", "Status", "Due", "Aging", "Problems"], rows,
                 note="Open release-of-information requests, earliest due first.")


def charts(desk: Desk, actor, as_of: datetime.date) -> Table:
    rows = [["overdue", r["shelf"], r["mrn"], r["location"], r.get("borrower", ""), str(r["due_back_on"] or ""),
             f"{r['days_overdue']} d"] for r in reports.overdue(desk, actor, as_of)]
    rows += [["missing", r["shelf"], r["mrn"], r["location"], r.get("borrower", ""), "",
              str(r.get("missing_since") or "")] for r in reports.missing(desk, actor)]
    return Table("Paper charts", ["", "Shelf", "MRN", "Where", "Borrower", "Due back", "Late/since"], rows,
                 note="Overdue and missing paper charts.")


def borrowers(desk: Desk, actor, as_of: datetime.date) -> Table:
    rows = [[r["name"] + (f" ({r['person']})" if r["person"] else ""), r["kind"].replace("_", " "), str(r["charts"]),
             str(r["overdue"])] for r in reports.by_borrower(desk, actor, as_of)]
    return Table("Charts by borrower", ["Borrower", "Kind", "Charts out", "Overdue"], rows)


def pull_lists(desk: Desk, actor, as_of: datetime.date, days: int = 14) -> Table:
    report = reports.fill_rate(desk, actor, as_of - datetime.timedelta(days=days), as_of)
    rows = [[str(d["date"]), str(d["wanted"]), str(d["pulled"]), str(d["not_fillable"]), str(d["pending"]),
             _pct(d["fill_rate"])] for d in report["days"] if d["wanted"]]
    t = report["total"]
    rows.append(["total", str(t["wanted"]), str(t["pulled"]), str(t["not_fillable"]), str(t["pending"]),
                 _pct(t["fill_rate"])])
    return Table("Pull-list fill rate", ["Day", "Wanted", "Pulled", "Not fillable", "Pending", "Fill"], rows,
                 note=f"The last {days} days.")


def deficiencies(desk: Desk, actor, as_of: datetime.date) -> Table:
    from recdesk.completion import deficiencies

    rows = [[r.provider, r.service, str(r.open), str(r.charts), str(r.oldest_days), str(r.delinquent)]
            for r in deficiencies.provider_queue(desk, actor, _moment(as_of))]
    return Table("Deficiencies by provider", ["Provider", "Service", "Open", "Charts", "Oldest (days)",
                                              "Delinquent charts"], rows,
                 note="Aging counts from discharge; a chart is delinquent with a deficiency open "
                      f"{desk.config.completion.delinquent_days}+ days after discharge (C4).")


def productivity(desk: Desk, actor, as_of: datetime.date) -> Table:
    c = intake.counts(desk)
    rows = [[name, str(n["indexed"]), str(n["qa_done"]), str(n["qa_failed"])]
            for name, n in sorted(c["clerks"].items())]
    return Table("Clerks", ["Clerk", "Indexed", "QA done", "QA failed"], rows)


def sensitive(desk: Desk, actor, as_of: datetime.date) -> Table:
    """Restricted-record openings: those waiting for review first (oldest on top, with how long they have waited),
    then the rest, newest first. Each row names the patient by MRN and name: decrypting them for the reviewer is a
    view of those patients, audited like the paper-chart reports' (one event naming every patient shown)."""
    openings = chart.restricted_openings(desk)
    waiting = [o for o in reversed(openings) if o.open]
    shown = (waiting + [o for o in openings if not o.open])[:500]
    names = _patient_labels(desk, {o.patient for o in shown})
    now = clock.now()
    rows, refs = [], []
    for o in shown:
        mrn, name = names.get(o.patient, ("", "(no longer on the desk)"))
        state = (f"OPEN {chart.age(o.at, now)}" if o.open else f"done {o.reviewed_by}" if o.reviewed_by
                 else "-")
        said = o.reason or o.note or ("(destroyed with the record)" if o.destroyed else "")
        rows.append([state, when(o.at, desk.config.zone), o.user, mrn, name[:24], o.how, o.purpose, said])
        refs.append(o.seq)
    if names:
        with desk.audit_db.atomic():
            audit.append(desk, actor, "chart.report", object="report:restricted_access",
                         details={"report": "restricted_access", "rows": len(rows), "patients": sorted(names)})
    oldest = f", the oldest waiting {chart.age(waiting[0].at, now)}" if waiting else ""
    return Table("Restricted-record access",
                 ["Review", "When", "User", "MRN", "Patient", "How", "Purpose", "Reason or note"], rows,
                 note=f"{len(waiting)} opening(s) wait for review{oldest}. Break-glass uses are reviewed; "
                      "a supervisor marks them (Enter).", refs=refs)


def _patient_labels(desk: Desk, uuids: set[str]) -> dict[str, tuple[str, str]]:
    """MRN and "LAST, First" of each patient still on the desk (a purged one has no key left to read them)."""
    labels = {}
    for row in Patient.select().where(Patient.uuid.in_(list(uuids)) & Patient.dek_wrapped.is_null(False)):
        p = registry.decrypt(desk, row)
        labels[row.uuid] = (p.mrn, p.display_name)
    return labels


def mark_reviewed(desk: Desk, actor, seq: int, note: str) -> int:
    """The review's one write: a supervisor marks a queued restricted opening reviewed (an audit-chain append)."""
    return chart.mark_reviewed(desk, actor, seq, note)


def audit_trail(desk: Desk, actor, as_of: datetime.date, limit: int = 300) -> Table:
    events = AuditEvent.select().order_by(AuditEvent.seq.desc()).limit(limit)
    rows = [[str(e.seq), when(e.at, desk.config.zone, "%Y-%m-%d %H:%M:%S"), e.user_name, e.action, e.object[:28],
             e.patient[:8]]
            for e in events]
    with desk.audit_db.atomic():
        audit.append(desk, actor, "audit.view", object="audit_trail", details={"events": len(rows)})
    return Table("Audit trail", ["Seq", "When", "User", "Action", "Object", "Patient"], rows,
                 note="The newest events first; V verifies the whole hash chain.")


SECTIONS: dict[str, tuple[str, Callable[[Desk, object, datetime.date], Table]]] = {
    "queues": ("1 Queues", queues),
    "requests": ("2 ROI", release_requests),  # release-of-information requests: all nine tabs fit in 80 columns
    "charts": ("3 Charts", charts),
    "pulls": ("4 Pulls", pull_lists),
    "deficiencies": ("5 Deficiencies", deficiencies),
    "clerks": ("6 Clerks", productivity),
    "access": ("7 Access", sensitive),
    "audit": ("8 Audit", audit_trail),
    "borrowers": ("9 Borrowers", borrowers),
}


def section(desk: Desk, actor, name: str, as_of: datetime.date | None = None) -> Table:
    _, fn = SECTIONS[name]
    return fn(desk, actor, as_of or datetime.date.today())


def verify_chain(desk: Desk) -> str:
    report = audit.verify(desk)
    if report.intact:
        return f"audit chain intact: {report.events:,} events verified"
    return f"AUDIT CHAIN BROKEN at event {report.broken_seq}: {report.reason}"
