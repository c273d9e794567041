"""Opening hours: read from the show file, checked, and worked out on an injected wall clock and
time zone (no sleeps): every kind of span, dates, the sun, daylight-saving time both ways."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from showctl.cli import main
from showctl.hours import OpeningHours, verdict
from showctl.show import loader
from showctl.show.loader import check_text
from showctl.show.model import Hours, Show
from showctl.testing import write_wav
from tests.harness.room import Room, play

LONDON = zoneinfo.ZoneInfo("Europe/London")
SHOW = """\
version: 1
initial: gallery
scenes:
  gallery: {}
  night: {}
hours:
  closed: night
"""


def at(text: str, zone: dt.tzinfo = LONDON) -> float:
    """Wall-clock seconds of a local time ``2026-12-01 10:00``."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()


def hours_of(yaml: str) -> Hours:
    show, problems = check_text(SHOW + yaml, check_media=False)
    assert [str(p) for p in problems if p.path.startswith("hours")] == []
    assert show is not None
    assert show.hours is not None
    return show.hours


def opening(yaml: str) -> OpeningHours:
    return OpeningHours(hours_of(yaml), LONDON)


def test_weekly_hours_open_and_close_at_their_times() -> None:
    """Open 10:00-18:00 except Mondays: Tuesday 2026-12-01 opens at 10:00 and closes at 18:00,
    and after Sunday's closing the next opening is Tuesday's."""
    hours = opening("  weekly:\n    tue-sun: 10:00-18:00\n")
    assert hours.at(at("2026-12-01 09:59:59")) == (False, at("2026-12-01 10:00"))
    assert hours.at(at("2026-12-01 10:00")) == (True, at("2026-12-01 18:00"))
    assert hours.at(at("2026-12-01 17:59:59")) == (True, at("2026-12-01 18:00"))
    assert hours.at(at("2026-12-01 18:00")) == (False, at("2026-12-02 10:00"))
    assert hours.at(at("2026-12-06 18:30")) == (False, at("2026-12-08 10:00"))  # Sun -> Tue
    assert hours.at(at("2026-12-07 12:00")) == (False, at("2026-12-08 10:00"))  # Monday


def test_several_spans_a_day_and_runs_of_days_that_wrap() -> None:
    hours = opening(
        "  weekly:\n    fri-mon: [10:00-13:00, 14:00-18:00]\n    wed: 12:00 to 24:00\n"
        "    thu: 00:00-02:00\n"
    )
    friday = "2026-12-04"
    assert hours.at(at(f"{friday} 13:30")) == (False, at(f"{friday} 14:00"))
    assert hours.at(at("2026-12-07 11:00"))[0]  # Monday, in fri-mon
    assert not hours.at(at("2026-12-08 11:00"))[0]  # Tuesday: not given, closed
    # Wednesday until 24:00 and Thursday from 00:00 are one opening: no closing at midnight.
    assert hours.at(at("2026-12-02 23:00")) == (True, at("2026-12-03 02:00"))


def test_dates_take_the_place_of_their_weekday() -> None:
    hours = opening(
        "  weekly:\n    daily: 10:00-18:00\n"
        "  dates:\n    2026-12-25: closed\n    2026-12-24: 10:00-14:00\n"
        "    2026-12-30 to 2027-01-01: closed\n    2027-05-14: 18:00-22:00\n"
    )
    assert hours.at(at("2026-12-24 15:00")) == (False, at("2026-12-26 10:00"))
    assert hours.at(at("2026-12-29 18:00")) == (False, at("2027-01-02 10:00"))
    assert hours.at(at("2027-05-14 12:00")) == (False, at("2027-05-14 18:00"))  # a private view
    day = hours.day(dt.date(2026, 12, 31))
    assert (day.spans, day.source) == ((), "2026-12-30 to 2027-01-01")


def test_daylight_saving_time_both_ways() -> None:
    """The hours are local: 10:00 is 10:00 BST in summer and 10:00 GMT in winter; a span across
    the change at night is an hour shorter in spring and an hour longer in autumn."""
    hours = opening("  weekly:\n    daily: [00:00-04:00, 10:00-18:00]\n")
    utc = dt.UTC
    # Spring forward, Sunday 2026-03-29 at 01:00 GMT: 10:00 BST is 09:00 UTC.
    assert hours.at(at("2026-03-29 08:00", utc))[1] == at("2026-03-29 09:00", utc)
    assert hours.at(at("2026-03-28 08:00", utc))[1] == at("2026-03-28 10:00", utc)
    spring = hours.day(dt.date(2026, 3, 29)).spans[0]
    assert spring[1] - spring[0] == 3 * 3600
    # Fall back, Sunday 2026-10-25 at 02:00 BST: 10:00 GMT is 10:00 UTC again.
    assert hours.at(at("2026-10-25 08:00", utc))[1] == at("2026-10-25 10:00", utc)
    autumn = hours.day(dt.date(2026, 10, 25)).spans[0]
    assert autumn[1] - autumn[0] == 5 * 3600


def test_spans_that_follow_the_sun() -> None:
    """An outdoor piece from half an hour before sunset to 23:00 in London, as astral works
    out the sun; a span the sun leaves empty is closed that day (Svalbard in midsummer)."""
    hours = opening(
        "  latitude: 51.5\n  longitude: -0.12\n  weekly:\n    daily: sunset-30min to 23:00\n"
    )
    opens = hours.at(at("2026-12-02 12:00"))[1]
    assert opens is not None
    assert dt.datetime.fromtimestamp(opens, LONDON).strftime("%H:%M") == "15:24"  # sunset 15:54
    summer = hours.at(at("2026-06-21 12:00"))[1]
    assert summer is not None
    assert dt.datetime.fromtimestamp(summer, LONDON).strftime("%H:%M") == "20:51"
    north = OpeningHours(
        hours_of("  latitude: 78.2\n  longitude: 15.6\n  weekly:\n    daily: sunset to 23:00\n"),
        zoneinfo.ZoneInfo("Arctic/Longyearbyen"),
    )
    midsummer = north.day(dt.date(2026, 6, 21))
    assert midsummer.spans == ()
    assert midsummer.notes == (
        "sunset to 23:00: the sun does not set on 2026-06-21 there, so closed",
    )


def test_the_verdict_waits_for_a_trusted_clock() -> None:
    hours = opening("  weekly:\n    tue-sun: 10:00-18:00\n")
    night = at("2026-12-01 22:00")
    assert verdict(hours, night, trusted=True).why == "closed until Wed 2 Dec 10:00"
    assert not verdict(hours, night, trusted=True).open
    playing = verdict(hours, night, trusted=False)
    assert (playing.open, playing.trusted, playing.change) == (True, False, None)
    closed = OpeningHours(hours_of("  unknown_clock: closed\n  weekly:\n    daily: 00:00-24:00\n"))
    assert not verdict(closed, night, trusted=False).open
    assert verdict(closed, night, trusted=True).open


@pytest.mark.parametrize(
    ("yaml", "path", "message"),
    [
        (
            "  zone: Europe/Londn\n",
            "hours.zone",
            "unknown time zone 'Europe/Londn' (did you mean 'Europe/London'?); give a name of "
            "the tz database (timedatectl list-timezones lists them), or leave it out for the "
            "box's own",
        ),
        (
            "  weekly:\n    daily: 22:00-02:00\n",
            "hours.weekly.daily",
            "the span 22:00-02:00 ends before it starts; a span past midnight is two, one to "
            "24:00 on its day and one from 00:00 on the next",
        ),
        (
            "  weekly:\n    mon: [10:00-14:00, 13:00-18:00]\n",
            "hours.weekly.mon",
            "the spans 10:00-14:00 and 13:00-18:00 overlap; make them one, or part them",
        ),
        (
            "  weekly:\n    daily: 10:00-18:00\n    mon: closed\n",
            "hours.weekly.mon",
            "mon is given twice (in daily and mon); give each day once (tue-sun: 10:00-18:00, "
            "mon: closed)",
        ),
        (
            "  dates:\n    2026-02-30: closed\n",
            'hours.dates["2026-02-30"]',
            "there is no date 2026-02-30; correct it (YYYY-MM-DD)",
        ),
        (
            "  dates:\n    2026-12-24 to 2026-12-26: closed\n    2026-12-25: 10:00-12:00\n",
            'hours.dates["2026-12-25"]',
            "2026-12-25 and 2026-12-24 to 2026-12-26 share dates; give each date once",
        ),
        (
            "  weekly:\n    daily: sunset to 23:00\n",
            "hours.weekly.daily",
            "the span sunset to 23:00 follows the sun, which rises and sets by where the show "
            "is; give hours.latitude and hours.longitude",
        ),
        (
            "  weekly:\n    daily: 10:00-25:00\n",
            "hours.weekly.daily",
            "25:00 is not a time of day (00:00 to 24:00)",
        ),
        (
            "  weekly:\n    daily: 10-18\n",
            "hours.weekly.daily",
            "expected closed, or a span such as 10:00-18:00 or sunset-30min to 23:00, found "
            "'10-18'",
        ),
        (
            "  weekly:\n    mon-fry: 10:00-18:00\n",
            "hours.weekly.mon-fry",
            "expected a weekday (mon ... sun), a run such as tue-sun, or daily, found 'mon-fry'",
        ),
    ],
)
def test_bad_hours_get_one_sentence_at_their_place(yaml: str, path: str, message: str) -> None:
    _, problems = check_text(
        SHOW + yaml + ("" if "weekly" in yaml else "  weekly: {}\n"), check_media=False
    )
    errors = [(p.path, p.message) for p in problems if p.severity == "error"]
    assert errors == [(path, message)]


def test_a_closed_scene_the_show_has_not_is_named() -> None:
    _, problems = check_text(SHOW.replace("closed: night", "closed: nite"), check_media=False)
    assert [(p.path, p.message, p.severity) for p in problems if p.path.startswith("hours")] == [
        (
            "hours",
            "the hours open on no day, so the show is always closed; add weekly hours "
            "(tue-sun: 10:00-18:00)",
            "warning",
        ),
        ("hours.closed", "unknown scene 'nite' (did you mean 'night'?)", "error"),
    ]


# --- the controller follows the hours ----------------------------------------------------------

GALLERY = """\
version: 1
initial: gallery
media: media
restart: {restart}
outputs:
  left: {{device: "hw:CARD=a"}}
scenes:
  gallery:
    audio: {{left: {{clip: waves.wav, loop: true}}}}
    transitions:
      - {{after: 10min, to: storm}}
  storm:
    audio: {{left: {{clip: storm.wav, loop: true}}}}
  night: {{}}
hours:
  closed: night
  zone: Europe/London
  unknown_clock: {unknown}
  weekly:
    tue-sun: 10:00-18:00
"""


def gallery(tmp_path: Path, restart: str = "start-over", unknown: str = "play") -> Show:
    write_wav(tmp_path / "media" / "waves.wav", seconds=1.0)
    write_wav(tmp_path / "media" / "storm.wav", seconds=1.0)
    path = tmp_path / "gallery.yaml"
    path.write_text(GALLERY.format(restart=restart, unknown=unknown))
    return loader.load(path)


def starting(text: str) -> float:
    """The Room's wall offset that makes its fake clock (at 1000 s) read local ``text``."""
    return at(text) - 1000.0


def test_booted_in_the_hours_it_plays_and_closes_and_opens_on_time(tmp_path: Path) -> None:
    """Booted at 17:59 on a Tuesday the gallery plays; at 18:00 it goes to its night scene
    (silent) and says why; on Wednesday at 10:00 it starts over."""

    async def body(room: Room) -> None:
        assert room.scene == "gallery"
        assert room.controller.status()["hours"]["why"] == "open until Tue 1 Dec 18:00"
        with capture_logs() as logs:
            await room.wait(61.0, step=1.0)
        assert room.scene == "night"
        closed = next(e for e in logs if e["event"] == "show_closed")
        assert closed["why"] == "closed until Wed 2 Dec 10:00"
        assert room.outputs.stops[-1] == (pytest.approx(room.controller.t0), "left")
        await room.wait(16 * 3600, step=1.0)  # 10:00:01 the next day
        assert room.scene == "gallery"
        assert room.played("left") == ["waves.wav", "waves.wav"]
        assert room.controller.status()["hours"]["open"]

    play(gallery(tmp_path), body, wall_offset=starting("2026-12-01 17:59:00"))


def test_booted_outside_the_hours_it_is_closed_from_the_start(tmp_path: Path) -> None:
    """A box switched on on a Monday plays nothing of the show: its first scene is the night
    scene, and the log says when the gallery opens."""

    async def body(room: Room) -> None:
        assert room.scene == "night"
        assert room.played("left") == []
        assert room.controller.status()["hours"] == {
            "open": False,
            "why": "closed until Tue 1 Dec 10:00",
            "change": at("2026-12-01 10:00"),
            "zone": "Europe/London",
            "closed": True,
        }

    with capture_logs() as logs:
        play(gallery(tmp_path), body, wall_offset=starting("2026-11-30 12:00"))
    hours = next(e for e in logs if e["event"] == "hours")
    assert (hours["open"], hours["why"]) == (False, "closed until Tue 1 Dec 10:00")


def test_a_resumed_show_opens_where_the_hours_closed_it(tmp_path: Path) -> None:
    """With restart: resume, the next opening takes the scene up where the closing left it,
    even across a restart of showctl at night."""
    show = gallery(tmp_path, restart="resume")
    state = tmp_path / "state.json"

    async def evening(room: Room) -> None:
        await room.wait(11 * 60, step=1.0)  # 17:49 -> 18:00: storm from 17:59, then closed
        assert room.scene == "night"
        # The timer fired at the first 1-s step past 17:59:00.015: storm ran 58.985 s.
        assert room.controller.reopen == ("storm", pytest.approx(58.985))

    async def morning(room: Room) -> None:
        assert room.scene == "night"  # booted at 09:59:30: still closed
        await room.wait(31.0, step=1.0)
        assert room.scene == "storm"
        taken_up = room.outputs.plays[-1]
        assert taken_up.clip is not None
        assert taken_up.clip.name == "storm.wav"
        assert 58.985 <= room.clock.now - taken_up.t0 <= 58.985 + 1.0  # opened 0-1 s ago

    play(show, evening, state_path=state, wall_offset=starting("2026-12-01 17:49:00"))
    play(show, morning, state_path=state, wall_offset=starting("2026-12-02 09:59:30"))


def test_a_step_of_the_clock_is_followed_at_once(tmp_path: Path) -> None:
    """NTP steps the clock forward past the closing time, then back into the hours: each step
    is logged, and the show closes and opens again at the next look."""

    async def body(room: Room) -> None:
        with capture_logs() as logs:
            room.wall_offset += 3 * 3600  # 15:00 -> 18:00
            await room.wait(1.0, step=1.0)
        assert room.scene == "night"
        assert [e["seconds"] for e in logs if e["event"] == "wall_clock_stepped"] == [10800.0]
        room.wall_offset -= 2 * 3600
        await room.wait(1.0, step=1.0)
        assert room.scene == "gallery"

    play(gallery(tmp_path), body, wall_offset=starting("2026-12-01 15:00:00"))


def test_until_the_clock_is_trusted_the_show_does_what_it_says(tmp_path: Path) -> None:
    """A box booted at night without NTP: with unknown_clock: play, it plays, and closes once
    the clock is synchronised; with unknown_clock: closed, it is closed until then, and then
    opens if the hours say so."""

    def untrusted(room: Room) -> Room:
        room.synchronised = False
        return room

    async def plays(room: Room) -> None:
        room.synchronised = False
        assert room.scene == "gallery"
        status = room.controller.status()
        assert status["wall_clock"]["trusted"] is False
        assert status["hours"]["why"] == (
            "the clock is not known good yet, so the hours wait and the show plays"
        )
        room.synchronised = True
        await room.wait(1.0, step=1.0)
        assert room.scene == "night"

    async def waits(room: Room) -> None:
        assert room.scene == "night"
        room.synchronised = True
        await room.wait(1.0, step=1.0)
        assert room.scene == "gallery"

    for unknown, body, when in (
        ("play", plays, "2026-12-01 23:00"),
        ("closed", waits, "2026-12-01 12:00"),
    ):
        show = gallery(tmp_path, unknown=unknown)
        play(show, body, wall_offset=starting(when), synchronised=False)


def test_schedule_prints_the_days_for_a_technician(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``showctl schedule`` lists each day's spans with where they come from, the change of
    daylight-saving time, and the scene the show is in while closed."""
    show = gallery(tmp_path)
    path = show.path.with_name("dated.yaml")
    path.write_text(show.path.read_text() + "  dates:\n    2027-03-28: closed\n")
    assert main(["schedule", str(path), "--from", "2027-03-28", "--days", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:5] == [
        "dated: opening hours in Europe/London (the show's time zone)",
        "Sun 2027-03-28  closed                   (2027-03-28; the clocks change: GMT to BST)",
        "Mon 2027-03-29  closed                   (weekly: not given)",
        "Tue 2027-03-30  10:00-18:00              (weekly tue-sun)",
        "Closed, the show is in its scene 'night'.",
    ]
    assert lines[5].startswith("Now, by this machine's clock (")
    with pytest.raises(SystemExit, match="2"):
        main(["schedule", str(path), "--days", "0"])
    assert "must be a number of days from 1 to 400, not 0" in capsys.readouterr().err


def test_a_reload_does_what_the_new_hours_say_now(tmp_path: Path) -> None:
    """The gallery open at 12:00 on a Tuesday; its file reloaded with Tuesday closed: it
    closes at once; reloaded without hours: it opens (starts over) at once."""
    show = gallery(tmp_path)

    async def body(room: Room) -> None:
        c = room.controller
        assert room.scene == "gallery"
        show.path.write_text(
            GALLERY.format(restart="start-over", unknown="play").replace("tue-sun", "wed-sun")
        )
        assert (await c.reload())["ok"]
        await room.wait(1.0, step=1.0)
        assert room.scene == "night"
        assert c.status()["hours"]["why"] == "closed until Wed 2 Dec 10:00"
        text = show.path.read_text()
        show.path.write_text(text[: text.index("hours:")])
        assert (await c.reload())["ok"]
        await room.wait(1.0, step=1.0)
        assert room.scene == "gallery"
        assert "hours" not in c.status()

    play(show, body, wall_offset=starting("2026-12-01 12:00"))
