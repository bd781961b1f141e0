"""Fees (R3, R5): the estimate a requester is told before the copy is made, from the schedule in data/fees.toml."""

from __future__ import annotations

import json

from recdesk import clock, reference
from recdesk.desk import Desk
from recdesk.errors import DeskError
from recdesk.release import letters, log, rules
from recdesk.roles import CHANGERS
from recdesk.vault import audit
from recdesk.vault.models import Release

MAX_PAGES = 100_000  # more pages than a whole record of a long stay: a count beyond this is mistyped


def check_pages(pages: int) -> None:
    """A fee is estimated for 1 to MAX_PAGES pages (99,999,999,999 is a typing slip, never a $3.00 fee)."""
    if isinstance(pages, bool) or not isinstance(pages, int) or not 1 <= pages <= MAX_PAGES:
        raise DeskError(f"a fee estimate is for 1 to {MAX_PAGES:,} pages, not {pages!r}: count the pages again")


def fee_estimate(desk: Desk, actor, release_uuid: str, pages: int, *, flat: bool = False,
                 mailed: bool = True) -> tuple[list[rules.FeeLine], int]:
    """The fee lines for this release from the schedule in data/fees.toml, checked (R3, R5) and recorded before
    fulfilment, with a fee-estimate letter."""
    actor.require(*CHANGERS)
    check_pages(pages)
    release = log.release_row(release_uuid)
    if release.status in log.CLOSED:
        raise DeskError(f"this request is {release.status}: no fee to estimate")
    v = log.view(desk, release)
    schedule = reference.load("fees", desk.config.home)
    access = v.verdict.basis == "individual"
    electronic = v.delivery in ("electronic", "portal")
    numbers = rules.clocks(desk.config.home, log.state_of(desk, v.asked))
    lines = fee_lines(schedule, access=access, electronic=electronic, pages=pages, flat=flat,
                      mailed=mailed and not electronic, numbers=numbers)
    problems = rules.check_fees(lines, access=access, electronic=electronic, pages=pages, numbers=numbers)
    if problems:
        raise DeskError(f"{problems[0].code}: {problems[0].message}")
    total = sum(line.cents for line in lines)
    record = {"lines": [line.__dict__ for line in lines], "total_cents": total,
              "estimated_on": clock.today().isoformat(), "pages": pages}
    with desk.write():
        Release.update(fee_json=json.dumps(record)).where(Release.id == release.id).execute()
        log.record_event(desk, actor, release, "fee", f"estimate ${total / 100:.2f} for {pages} pages")
        audit.append(desk, actor, "roi.fee.estimate", object=f"release:{release.uuid}", patient=v.patient_uuid,
                     details={"total_cents": total})
        letters.draft(desk, actor, release, v, "fee_estimate",
                      {"fee_lines": [f"{line.description}: ${line.cents / 100:.2f}" for line in lines],
                       "total": f"${total / 100:.2f}", "pages": str(pages)})
    return lines, total


def fee_lines(schedule: dict, *, access: bool, electronic: bool, pages: int, flat: bool, mailed: bool,
              numbers: dict) -> list[rules.FeeLine]:
    """The lines of a fee from the schedule: cost-based (or the flat fee) for the patient's own copy, the
    retrieval and per-page schedule for anyone else; postage when mailed."""
    Line = rules.FeeLine
    if access:
        s = schedule["access"]
        if flat:
            if not electronic:
                raise DeskError("the flat fee is only for electronic copies: choose the cost-based schedule")
            return [Line("flat", "electronic copy, all-inclusive flat fee", int(numbers["flat_fee_cents"]))]
        if electronic:
            lines = [Line("labor", "preparing the electronic copy", int(s["electronic_labor_cents"]))]
        else:
            per_page = int(s["labor_per_page_cents"])
            cap = int(numbers.get("per_page_cap_cents") or 0)
            supplies = int(s["supplies_per_page_cents"])
            if cap and per_page + supplies > cap:  # R5: a state's page cap covers copying and paper together
                per_page, supplies = max(cap - supplies, 0), min(supplies, cap)
            lines = [Line("labor", f"copying {pages} pages", per_page * pages),
                     Line("supplies", f"paper for {pages} pages", supplies * pages)]
    else:
        s = schedule["other"]
        lines = [Line("retrieval", "search and retrieval", int(s["retrieval_cents"])),
                 Line("labor", f"copying {pages} pages", int(s["per_page_cents"]) * pages)]
    if mailed:
        lines.append(Line("postage", "first-class postage", int(schedule["postage_cents"])))
    return lines
