"""The demo desk's retention worklist shows every reason a chart is due or kept."""

import datetime

from recdesk.demo import builder, synthetic
from recdesk.retention import worklist


def test_the_demo_worklist_shows_every_reason(tmp_path):
    desk = builder.build(tmp_path / "demo", 60, 1)
    try:
        clerk = desk.sign_on("demo")
        today = datetime.date.today()
        rows = worklist.candidates(desk, clerk, as_of=today, include_blocked=True)
        found = {b.code for c in rows for b in c.blocked_by}
        assert found == {"T2-HOLD", "T2-REQUEST", "C4", "PAPER-OUT", "PAPER-MISSING", "KEEP"}
        assert any(w.code == "D2" for c in rows if c.eligible for w in c.warnings)
        due = [c for c in rows if c.eligible]
        assert any(c.rule == "TX-HOSPITAL" and (today - c.last_encounter).days > 12 * 365 for c in due)
        assert any(c.rule == "TX-HOSPITAL-MINOR" for c in due)  # a minor kept past the adult period, now due
        # the other minor's period still runs past the adult one: not due now, due after the 20th birthday
        kept = synthetic.patient(1, next(i for i, r in synthetic.RETENTION_SLOTS.items() if r == "minor_kept"))
        assert kept.mrn not in {c.mrn for c in rows}
        later = worklist.candidates(desk, clerk, as_of=kept.dob.replace(year=kept.dob.year + 20)
                                    + datetime.timedelta(days=1), mrns=[kept.mrn])
        assert [(c.mrn, c.rule) for c in later] == [(kept.mrn, "TX-HOSPITAL-MINOR")]
        # built once: a second build adds no second hold
        desk.close()
        desk = builder.build(tmp_path / "demo", 60, 1)
        again = worklist.candidates(desk, desk.sign_on("demo"), as_of=today, include_blocked=True)
        assert sum(b.code == "T2-HOLD" for c in again for b in c.blocked_by) == 1
    finally:
        desk.close()
