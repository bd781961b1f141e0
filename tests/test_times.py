"""Times are stored in UTC and shown in the desk's own time zone ([desk] timezone, default this machine's)."""

import datetime
from zoneinfo import ZoneInfo

import pytest

from recdesk import config as config_mod
from recdesk.display import local, utc_iso, when
from recdesk.errors import DeskError
from recdesk.vault.models import AuditEvent
from screens.chart import ChartScreen
from tests.test_ui import SIZE, app_for, backend, clinic, settle, type_query, until  # noqa: F401 (fixtures)

DESK_ID = "0123456789abcdef0123456789abcdef"
CHICAGO = ZoneInfo("America/Chicago")


def _parse(tmp_path, text: str):
    return config_mod.parse(tmp_path, f'[desk]\nid = "{DESK_ID}"\n{text}')


def test_the_desk_time_zone_is_read_from_the_desk_section_and_round_trips(tmp_path):
    config = _parse(tmp_path, 'timezone = "America/Chicago"')
    assert config.timezone == "America/Chicago" and config.zone == CHICAGO
    assert 'timezone = "America/Chicago"' in config.to_toml()
    assert config_mod.parse(tmp_path, config.to_toml()).timezone == "America/Chicago"


def test_without_a_time_zone_the_desk_shows_this_machines_own(tmp_path):
    config = _parse(tmp_path, "")
    assert config.timezone == "" and config.zone is None
    at = datetime.datetime(2026, 7, 1, 12, 0)
    assert when(at, config.zone) == at.replace(tzinfo=datetime.UTC).astimezone().strftime("%Y-%m-%d %H:%M")


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "CST6CDT/../x", "America/chicago "])
def test_a_bad_time_zone_name_is_one_line_naming_the_setting(tmp_path, name):
    with pytest.raises(DeskError) as caught:
        _parse(tmp_path, f'timezone = "{name}"')
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith('config.toml: [desk] timezone must be an IANA time zone name such as "America/Chicago"')


@pytest.mark.parametrize(("utc", "shown"), [
    (datetime.datetime(2026, 3, 8, 7, 59), "2026-03-08 01:59"),  # CST, a minute before the clocks go forward
    (datetime.datetime(2026, 3, 8, 8, 0), "2026-03-08 03:00"),  # CDT: 02:00-02:59 never happens
    (datetime.datetime(2026, 11, 1, 6, 30), "2026-11-01 01:30"),  # CDT, the first 01:30
    (datetime.datetime(2026, 11, 1, 7, 30), "2026-11-01 01:30"),  # CST, the second 01:30 an hour later
    (datetime.datetime(2026, 1, 15, 3, 0), "2026-01-14 21:00"),  # the day before, in Chicago
])
def test_a_stored_utc_time_is_shown_in_the_desks_zone_across_daylight_saving(utc, shown):
    assert when(utc, CHICAGO) == shown
    assert when(utc.replace(tzinfo=datetime.UTC), CHICAGO) == shown  # aware or naive: the same moment


def test_the_second_one_thirty_is_told_apart_by_its_offset_and_json_stays_utc():
    first, second = local(datetime.datetime(2026, 11, 1, 6, 30), CHICAGO), local(datetime.datetime(2026, 11, 1, 7, 30),
                                                                                  CHICAGO)
    assert first.utcoffset() == datetime.timedelta(hours=-5) and second.utcoffset() == datetime.timedelta(hours=-6)
    assert utc_iso(datetime.datetime(2026, 11, 1, 7, 30)) == "2026-11-01T07:30:00+00:00"
    assert utc_iso(second) == "2026-11-01T07:30:00+00:00"
    assert utc_iso(None) is None and when(None, CHICAGO) == ""


async def test_the_chart_shows_who_opened_it_in_the_desks_local_time(clinic):  # noqa: F811
    clinic.config.timezone = "America/Chicago"
    app = app_for(clinic)
    async with app.run_test(size=SIZE) as pilot:
        await type_query(app, pilot, "100234")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ChartScreen), "the chart opens")
        await settle(app, pilot)
        await pilot.press("7")
        await settle(app, pilot)
        opened = AuditEvent.select().where(AuditEvent.action == "chart.open").order_by(AuditEvent.seq.desc()).get()
        cell = str(app.screen.query_one("#access-table").get_row_at(0)[0])
        assert cell == when(opened.at, CHICAGO)
        assert cell != opened.at.strftime("%Y-%m-%d %H:%M")  # not the stored UTC: Chicago is 5 or 6 hours behind
