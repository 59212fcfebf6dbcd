"""The calsync integration on Home Assistant 2024.3.3's real test harness (phcc)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from custom_components.calsync.const import DOMAIN
from custom_components.calsync.diagnostics import async_get_config_entry_diagnostics
from freezegun.api import FrozenDateTimeFactory
from homeassistant import config_entries
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from .conftest import Feed

GOLDEN = json.loads((Path(__file__).parent / "data" / "example-plan.json").read_text())
NOW = datetime.fromisoformat(GOLDEN["now"])
PLAN = GOLDEN["plan"]["plans"][0]
BERLIN = "Europe/Berlin"


def example_data(feed: Feed, **extra: Any) -> dict[str, Any]:
    """What the form gets for the bundled example (config/example.toml)."""
    return {"name": "example", "ics_url": feed.url, "time_zone": BERLIN, "horizon_weeks": 24, **extra}


async def add_entry(
    hass: HomeAssistant, data: dict[str, Any], options: dict[str, Any] | None = None
) -> MockConfigEntry:
    entry = MockConfigEntry(
        domain=DOMAIN, title=data["name"], data=data, options=options or {}, unique_id=data["name"]
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def calendar_events(
    hass_client: ClientSessionGenerator, entity_id: str = "calendar.example"
) -> list[dict[str, Any]]:
    """Over HA's REST API, with a fresh token (tests move the clock past a token's 30 minutes)."""
    client = await hass_client()
    answer = await client.get(
        f"/api/calendars/{entity_id}", params={"start": "2026-01-01T00:00:00Z", "end": "2028-01-01T00:00:00Z"}
    )
    assert answer.status == 200, await answer.text()
    return list(await answer.json())


def _instant(text: str) -> datetime | str:
    return datetime.fromisoformat(text) if "T" in text else text


def _event_value(value: dict[str, str]) -> datetime | str:
    return datetime.fromisoformat(value["dateTime"]) if "dateTime" in value else value["date"]


def _berlin_day(value: datetime | str) -> str:
    """The day in the plan's zone (HA answers in its own zone)."""
    return value.astimezone(ZoneInfo(BERLIN)).date().isoformat() if isinstance(value, datetime) else value


@pytest.fixture
def frozen(freezer: FrozenDateTimeFactory) -> FrozenDateTimeFactory:
    freezer.move_to(NOW)
    return freezer


# --- the config flow -----------------------------------------------------------------------------


async def test_flow_with_an_ics_url_creates_the_entry(hass: HomeAssistant, feed: Feed) -> None:
    flow = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    assert flow["type"] is FlowResultType.FORM
    assert flow["errors"] == {}
    done = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {"name": "Ana", "ics_url": feed.url, "time_zone": BERLIN, "a_race": "2027-04-17"}
    )
    assert done["type"] is FlowResultType.CREATE_ENTRY, done
    assert done["title"] == "Ana"
    assert done["data"] == {
        "name": "Ana",
        "ics_url": feed.url,
        "time_zone": BERLIN,
        "a_race": "2027-04-17",
        "horizon_weeks": 16,
    }
    assert feed.answers[0] == 200  # the URL was fetched to check it
    await hass.async_block_till_done()


async def test_flow_defaults_to_home_assistants_time_zone(hass: HomeAssistant) -> None:
    await hass.config.async_update(time_zone="Australia/Perth")
    flow = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    fields = {str(key): key for key in flow["data_schema"].schema}
    assert fields["time_zone"].default() == "Australia/Perth"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"status": 404}, "cannot_fetch"),
        ({"status": 500}, "cannot_fetch"),
        ({"body": b"<html><body>Sign in</body></html>", "content_type": "text/html"}, "not_a_calendar"),
    ],
)
async def test_flow_rejects_a_url_that_gives_no_calendar(
    hass: HomeAssistant, feed: Feed, change: dict[str, Any], error: str
) -> None:
    for key, value in change.items():
        setattr(feed, key, value)
    flow = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    shown = await hass.config_entries.flow.async_configure(flow["flow_id"], example_data(feed))
    assert shown["type"] is FlowResultType.FORM
    assert shown["errors"] == {"ics_url": error}
    assert not hass.config_entries.async_entries(DOMAIN)


async def test_flow_rejects_an_unreachable_url_and_a_bad_scheme(hass: HomeAssistant, feed: Feed) -> None:
    flow = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    closed = feed.base.rsplit(":", 1)[0] + ":9/plan.ics"  # the discard port: nothing listens
    shown = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {**example_data(feed), "ics_url": closed}
    )
    assert shown["errors"] == {"ics_url": "cannot_fetch"}
    shown = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {**example_data(feed), "ics_url": "ftp://example.org/plan.ics"}
    )
    assert shown["errors"] == {"ics_url": "bad_url"}


async def test_flow_rejects_an_unknown_entity_and_two_or_no_sources(hass: HomeAssistant, feed: Feed) -> None:
    assert await async_setup_component(hass, "calendar", {})
    flow = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    base = {"name": "Ana", "time_zone": BERLIN}
    shown = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {**base, "source_entity": "calendar.nobody_has_this"}
    )
    assert shown["errors"] == {"source_entity": "unknown_entity"}
    shown = await hass.config_entries.flow.async_configure(flow["flow_id"], base)
    assert shown["errors"] == {"base": "one_source"}
    shown = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {**base, "source_entity": "calendar.x", "ics_url": feed.url}
    )
    assert shown["errors"] == {"base": "one_source"}
    shown = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {**base, "ics_url": feed.url, "time_zone": "Mars/Olympus"}
    )
    assert shown["errors"] == {"time_zone": "unknown_time_zone"}


async def test_flow_aborts_a_second_entry_for_the_same_plan(
    hass: HomeAssistant, feed: Feed, frozen: Any
) -> None:
    await add_entry(hass, example_data(feed))
    flow = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    done = await hass.config_entries.flow.async_configure(flow["flow_id"], example_data(feed, name="Example"))
    assert done["type"] is FlowResultType.ABORT
    assert done["reason"] == "already_configured"
    flow = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    other = await hass.config_entries.flow.async_configure(flow["flow_id"], example_data(feed, name="Ben"))
    assert other["type"] is FlowResultType.CREATE_ENTRY  # another athlete
    await hass.async_block_till_done()
    assert len(hass.config_entries.async_entries(DOMAIN)) == 2


async def test_every_form_field_and_option_has_an_english_label(
    hass: HomeAssistant, feed: Feed, frozen: Any
) -> None:
    strings = json.loads(
        (Path(__file__).parents[1] / "custom_components" / "calsync" / "strings.json").read_text()
    )
    flow = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    assert {str(k) for k in flow["data_schema"].schema} == set(strings["config"]["step"]["user"]["data"])
    entry = await add_entry(hass, example_data(feed))
    options = await hass.config_entries.options.async_init(entry.entry_id)
    assert {str(k) for k in options["data_schema"].schema} == set(strings["options"]["step"]["init"]["data"])


# --- the calendar entity ------------------------------------------------------------------------


async def test_calendar_events_equal_calsync_plan_for_the_bundled_example(
    hass: HomeAssistant, feed: Feed, frozen: Any, hass_client: ClientSessionGenerator
) -> None:
    await add_entry(hass, example_data(feed))
    events = await calendar_events(hass_client)
    assert len(events) == len(PLAN["sessions"]) > 40
    for event, session in zip(events, PLAN["sessions"], strict=True):
        assert event["uid"] == session["uid"]
        assert event["summary"] == session["title"]
        assert event["description"] == GOLDEN["descriptions"][session["uid"]]
        assert "calsync:" not in event["description"].lower().split("placed by calsync")[0]  # no marker line
        assert _event_value(event["start"]) == _instant(session["start"])
        assert _event_value(event["end"]) == _instant(session["end"])


def move_long_run(feed: Feed, moved: dict[str, Any]) -> None:
    """The coach moves the long run of Saturday 12 December 2026 to Wednesday 9 December."""
    assert moved["start"] == "2026-12-12"  # Saturday, all day
    assert moved["end"] == "2026-12-13"
    text = feed.body.decode()
    block_start = text.index(f"UID:{moved['uid']}")
    block_end = text.index("END:VEVENT", block_start)
    block = text[block_start:block_end]
    new_block = block.replace("DTSTART;VALUE=DATE:20261212", "DTSTART;VALUE=DATE:20261209").replace(
        "DTEND;VALUE=DATE:20261213", "DTEND;VALUE=DATE:20261210"
    )
    assert "DATE:20261209\r\n" in new_block
    assert "DATE:20261210\r\n" in new_block
    feed.body = (text[:block_start] + new_block + text[block_end:]).encode()


async def test_a_moved_run_moves_the_sessions_at_the_next_update(
    hass: HomeAssistant, feed: Feed, frozen: FrozenDateTimeFactory, hass_client: ClientSessionGenerator
) -> None:
    entry = await add_entry(hass, example_data(feed), options={"refresh_minutes": 1})
    before = await calendar_events(hass_client)
    requests = len(feed.requests)
    # nothing changed: the refresh is a conditional GET answered 304, and the plan stays
    frozen.tick(timedelta(minutes=2))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert feed.answers[requests:] == [304]
    assert feed.requests[-1]["If-None-Match"] == feed.etag
    assert await calendar_events(hass_client) == before
    # the long run of the week of 2026-12-07 moves from Saturday to Wednesday
    long_runs = [r for r in PLAN["runs"] if r["kind"] == "long" and r["start"].startswith("2026-12-1")]
    assert long_runs, PLAN["runs"]
    moved = long_runs[0]
    move_long_run(feed, moved)
    frozen.tick(timedelta(minutes=2))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert feed.answers[-1] == 200
    after = await calendar_events(hass_client)
    assert after != before
    # R8: heavy lower body 3 full days before the long run, now Wednesday 9 December: the
    # Monday 7 December heavy session of week 50 cannot stay
    runs = hass.data[DOMAIN][entry.entry_id].data.result.runs
    assert [str(r.start)[:10] for r in runs if r.uid == moved["uid"]] == ["2026-12-09"]
    before_w50 = {e["uid"]: _event_value(e["start"]) for e in before if "-2026W50-" in e["uid"]}
    after_w50 = {e["uid"]: _event_value(e["start"]) for e in after if "-2026W50-" in e["uid"]}
    assert _berlin_day(before_w50["calsync-example-2026W50-s1"]) == "2026-12-07"
    assert after_w50 != before_w50
    for event in after:
        if "heavy lower" in event["summary"].lower():
            assert not "2026-12-06" <= _berlin_day(_event_value(event["start"])) <= "2026-12-08", event


# --- a Home Assistant calendar as the source ----------------------------------------------------


async def test_a_local_calendar_entity_is_read_and_its_changes_followed(
    hass: HomeAssistant, frozen: FrozenDateTimeFactory, hass_client: ClientSessionGenerator, tmp_path: Path
) -> None:
    hass.config.config_dir = str(tmp_path)  # Local Calendar keeps its .ics file there
    (tmp_path / ".storage").mkdir()
    local = MockConfigEntry(domain="local_calendar", data={"calendar_name": "Runs"})
    local.add_to_hass(hass)
    assert await hass.config_entries.async_setup(local.entry_id)
    await hass.async_block_till_done()
    for week in range(4):
        monday = datetime(2026, 11, 30, 7, 0) + timedelta(weeks=week)
        for offset, title, minutes in (
            (1, "Easy run 40 min", 40),
            (3, "Tempo run 50 min", 50),
            (5, "Long run 100 min", 100),
        ):
            start = monday + timedelta(days=offset)
            await hass.services.async_call(
                "calendar",
                "create_event",
                {
                    "summary": title,
                    "start_date_time": start.isoformat(),
                    "end_date_time": (start + timedelta(minutes=minutes)).isoformat(),
                },
                target={"entity_id": "calendar.runs"},
                blocking=True,
            )
    entry = await add_entry(
        hass, {"name": "Ana", "source_entity": "calendar.runs", "time_zone": BERLIN, "horizon_weeks": 5}
    )
    coordinator = hass.data[DOMAIN][entry.entry_id]
    result = coordinator.data.result
    assert len([r for r in result.runs if r.kind.value == "long"]) == 4
    assert any(s.kind.value != "rest" for s in result.sessions)
    assert len(await calendar_events(hass_client, "calendar.ana")) == len(result.sessions)
    reads = coordinator.data.generated_at
    # a run now: the source calendar's state turns on, and calsync reads it again without a poll
    await hass.services.async_call(
        "calendar",
        "create_event",
        {
            "summary": "Easy run 30 min",
            "start_date_time": (NOW - timedelta(minutes=5)).isoformat(),
            "end_date_time": (NOW + timedelta(minutes=25)).isoformat(),
        },
        target={"entity_id": "calendar.runs"},
        blocking=True,
    )
    frozen.tick(timedelta(seconds=1))
    async_fire_time_changed(hass)  # the local calendar's own alarm: its state changes to on
    await hass.async_block_till_done()
    assert hass.states.get("calendar.runs").state == STATE_ON
    frozen.tick(timedelta(seconds=11))  # the coordinator's request debouncer (10 s)
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert coordinator.data.generated_at > reads
    assert any(r.title == "Easy run 30 min" for r in coordinator.data.result.runs)


# --- sensors, problems, restarts ----------------------------------------------------------------


async def test_sensors_show_the_next_session_and_this_week(
    hass: HomeAssistant, feed: Feed, frozen: Any
) -> None:
    entry = await add_entry(hass, example_data(feed))
    # strength sessions only: a rest day is no session to get ready for
    upcoming = [
        s for s in PLAN["sessions"] if s["kind"] != "rest" and datetime.fromisoformat(s["start"]) >= NOW
    ]
    first = upcoming[0]
    assert first["kind"] != "rest"
    state = hass.states.get("sensor.example_next_session")
    assert state is not None
    assert datetime.fromisoformat(state.state) == datetime.fromisoformat(first["start"])
    assert state.attributes["title"] == first["title"]
    assert state.attributes["kind"] == first["kind"]
    assert state.attributes["minutes"] == first["minutes"]
    assert state.attributes["reasons"] == first["reasons"]
    assert state.attributes["exercises"] == [f"{e['name']}: {e['prescription']}" for e in first["exercises"]]
    assert state.attributes["device_class"] == "timestamp"
    # Friday 27 November: the plan starts with the next week, which the sensor then shows
    assert PLAN["weeks"][0]["start"] == "2026-11-30"
    week = PLAN["weeks"][0]
    this_week = hass.states.get("sensor.example_this_week")
    assert this_week.state == week["phase"]
    assert this_week.attributes["week"] == week["week"]
    assert this_week.attributes["run_minutes"] == week["run_minutes"]
    assert this_week.attributes["strength_minutes"] == week["strength_minutes"]
    assert this_week.attributes["rest_day"] == week["rest_day"]
    assert hass.states.get("binary_sensor.example_source_problem").state == STATE_OFF
    registry = er.async_get(hass)
    ids = {e.unique_id for e in er.async_entries_for_config_entry(registry, entry.entry_id)}
    assert ids == {
        f"{entry.entry_id}_{k}" for k in ("calendar", "next_session", "this_week", "source_problem")
    }
    devices = {e.device_id for e in er.async_entries_for_config_entry(registry, entry.entry_id)}
    assert len(devices) == 1
    assert None not in devices


async def test_a_failing_source_raises_the_problem_and_keeps_the_plan(
    hass: HomeAssistant, feed: Feed, frozen: FrozenDateTimeFactory, hass_client: ClientSessionGenerator
) -> None:
    entry = await add_entry(hass, example_data(feed))
    before = await calendar_events(hass_client)
    feed.status = 503
    frozen.tick(timedelta(minutes=16))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    problem = hass.states.get("binary_sensor.example_source_problem")
    assert problem.state == STATE_ON
    assert "503" in problem.attributes["error"]
    assert await calendar_events(hass_client) == before  # the old plan stays
    assert hass.states.get("sensor.example_next_session").state != STATE_UNAVAILABLE
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"source_failed_{entry.entry_id}")
    assert issue is not None
    assert issue.translation_placeholders["name"] == "example"
    feed.status = 200
    frozen.tick(timedelta(minutes=16))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert hass.states.get("binary_sensor.example_source_problem").state == STATE_OFF
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"source_failed_{entry.entry_id}") is None


async def test_after_a_restart_with_the_source_down_the_last_plan_comes_back(
    hass: HomeAssistant, feed: Feed, frozen: Any, hass_client: ClientSessionGenerator
) -> None:
    entry = await add_entry(hass, example_data(feed))
    before = await calendar_events(hass_client)
    next_session = hass.states.get("sensor.example_next_session").state
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get("calendar.example").state == STATE_UNAVAILABLE
    feed.status = 500
    assert await hass.config_entries.async_setup(entry.entry_id)  # HA starting again
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert await calendar_events(hass_client) == before
    assert hass.states.get("sensor.example_next_session").state == next_session
    assert hass.states.get("binary_sensor.example_source_problem").state == STATE_ON


async def test_the_plan_after_a_move_survives_a_restart_with_the_source_down(
    hass: HomeAssistant, feed: Feed, frozen: FrozenDateTimeFactory, hass_client: ClientSessionGenerator
) -> None:
    """Sessions that stayed where they were when a run moved (Stability) stay there after Home
    Assistant restarts: the last plan is kept in storage with the last read."""
    entry = await add_entry(hass, example_data(feed), options={"refresh_minutes": 1})
    first = await calendar_events(hass_client)
    move_long_run(feed, next(r for r in PLAN["runs"] if r["uid"].startswith("long-20261212@")))
    frozen.tick(timedelta(minutes=2))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert feed.answers[-1] == 200
    after_move = await calendar_events(hass_client)
    assert after_move != first
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    feed.status = 500
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get("binary_sensor.example_source_problem").state == STATE_ON
    assert await calendar_events(hass_client) == after_move


async def test_without_any_good_read_the_entry_retries(hass: HomeAssistant, feed: Feed) -> None:
    feed.status = 500
    entry = MockConfigEntry(domain=DOMAIN, title="example", data=example_data(feed), unique_id="example")
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_RETRY


# --- options, actions, diagnostics, unload ------------------------------------------------------


async def test_options_change_the_rules_without_removing_the_entry(
    hass: HomeAssistant, feed: Feed, frozen: Any
) -> None:
    entry = await add_entry(hass, example_data(feed))
    timed = [s for s in hass.data[DOMAIN][entry.entry_id].data.result.sessions if s.kind.value != "rest"]
    assert any(s.start.hour < 18 for s in timed)
    flow = await hass.config_entries.options.async_init(entry.entry_id)
    assert flow["type"] is FlowResultType.FORM
    shown = await hass.config_entries.options.async_configure(
        flow["flow_id"],
        {
            "ics_url": feed.url,
            "time_zone": BERLIN,
            "horizon_weeks": 24,
            "strength_sessions_per_week": 2,
            "strength_windows": "18:00 to 19:00",
            "rest_day": "fri",
            "same_day_order": "lift_first",
            "refresh_minutes": 30,
        },
    )
    assert shown["errors"] == {"strength_windows": "bad_windows"}
    done = await hass.config_entries.options.async_configure(
        flow["flow_id"],
        {
            "ics_url": feed.url,
            "time_zone": BERLIN,
            "horizon_weeks": 24,
            "strength_sessions_per_week": 2,
            "strength_windows": "18:00-19:30",
            "rest_day": "fri",
            "same_day_order": "lift_first",
            "refresh_minutes": 30,
        },
    )
    assert done["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    coordinator = hass.data[DOMAIN][entry.entry_id]
    assert coordinator.update_interval == timedelta(minutes=30)
    berlin = coordinator.settings.zone
    timed = [s for s in coordinator.data.result.sessions if s.kind.value != "rest" and not s.fixed]
    assert timed
    for session in timed:
        start, end = session.start.astimezone(berlin), session.end.astimezone(berlin)
        assert (start.hour, start.minute) >= (18, 0), session
        assert (end.hour, end.minute) <= (19, 30), session
    rest_days = [w.rest_day for w in coordinator.data.result.weeks if w.rest_day]
    assert sum(d.weekday() == 4 for d in rest_days) > len(rest_days) / 2


async def test_plan_action_returns_calsync_plan_json_and_rebuild_reads_again(
    hass: HomeAssistant, feed: Feed, frozen: Any
) -> None:
    entry = await add_entry(hass, example_data(feed))
    answer = await hass.services.async_call(DOMAIN, "plan", {}, blocking=True, return_response=True)
    assert answer["plans"] == GOLDEN["plan"]["plans"]
    only = await hass.services.async_call(
        DOMAIN, "plan", {"entry_id": entry.entry_id}, blocking=True, return_response=True
    )
    assert only["plans"] == GOLDEN["plan"]["plans"]
    fetched = len(feed.requests)
    await hass.services.async_call(DOMAIN, "rebuild", {"entry_id": entry.entry_id}, blocking=True)
    assert feed.answers[fetched:] == [200]  # in full: no If-None-Match
    assert "If-None-Match" not in feed.requests[-1]
    from homeassistant.exceptions import ServiceValidationError

    with pytest.raises(ServiceValidationError):
        await hass.services.async_call(DOMAIN, "rebuild", {"entry_id": "nope"}, blocking=True)


async def test_diagnostics_redact_the_url(hass: HomeAssistant, feed: Feed, frozen: Any) -> None:
    secret = feed.url + "?token=s3cr3t"
    entry = await add_entry(hass, example_data(feed, ics_url=secret))
    found = await async_get_config_entry_diagnostics(hass, entry)
    text = json.dumps(found)
    assert "s3cr3t" not in text
    assert feed.base not in text
    assert found["data"]["ics_url"] == "**REDACTED**"
    assert found["plan"]["sessions"] == len(PLAN["sessions"])


async def test_unloading_removes_the_entities_and_the_plan(
    hass: HomeAssistant, feed: Feed, frozen: Any
) -> None:
    entry = await add_entry(hass, example_data(feed))
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
    for entity_id in (
        "calendar.example",
        "sensor.example_next_session",
        "binary_sensor.example_source_problem",
    ):
        assert hass.states.get(entity_id).state == STATE_UNAVAILABLE
    answer = await hass.services.async_call(DOMAIN, "plan", {}, blocking=True, return_response=True)
    assert answer["plans"] == []
