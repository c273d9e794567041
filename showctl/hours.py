"""Opening hours: when a show is open, worked out from its ``hours`` on the wall clock.

The hours are local times in a time zone (the show's ``hours.zone``, else the box's own), so a
gallery that opens at 10:00 opens at 10:00 on both sides of a change of daylight-saving time.
Each day has the spans of its date if ``hours.dates`` names it, else those of its weekday; a
day not given is closed. A span ends by 24:00 of its day; one that ends at 24:00 and one of the
next day that starts at 00:00 are one opening (no closing at midnight). A span may start or end
at sunrise or sunset with an offset (``sunset-30min``), worked out by the ``astral`` library
for the show's latitude and longitude; on a day when such a span would close before it opens
(or the sun does not rise or set there), it is closed that day.

:class:`OpeningHours` answers whether the show is open at a wall-clock time and when that
changes next; :func:`problems` finds what a show file gets wrong about its hours.
:class:`Verdict` is what the controller acts on: the hours, or, while the box's clock is not
yet known good, the show's ``unknown_clock``.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import os
import re
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from showctl.show._convert import parse_duration
from showctl.show.model import TIME_OF_DAY, Hours
from showctl.wall_clock import WallClock

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: How far ahead the next opening is looked for (days): a show closed for longer says none.
LOOKAHEAD = 400
#: Where the box keeps its time zone.
LOCALTIME = "/etc/localtime"

_SPAN = re.compile(rf"^\s*(?P<start>{TIME_OF_DAY})\s*(-|to)\s*(?P<end>{TIME_OF_DAY})\s*$")
_SUN = re.compile(r"^(sunrise|sunset)\s*(.*)$")

#: Where a problem is, under ``hours``, and the sentence for it.
Problem = tuple[tuple[str | int, ...], str]


@dataclass(frozen=True)
class TimeOfDay:
    """A time a span opens or closes: minutes after midnight, or the sun's rise or set with an
    offset (s)."""

    minutes: int = 0
    sun: Literal["sunrise", "sunset"] | None = None
    offset: float = 0.0


@dataclass(frozen=True)
class SpanTimes:
    """A span as written (``text``), and its two times."""

    text: str
    start: TimeOfDay
    end: TimeOfDay


@dataclass(frozen=True)
class Day:
    """What the hours say for one date: its spans (wall-clock seconds, in order), where they
    come from (``weekly tue-sun``, ``2026-12-25``) and any notes (a sun span empty that day)."""

    date: dt.date
    spans: tuple[tuple[float, float], ...]
    source: str
    notes: tuple[str, ...] = ()


def parse_time(text: str) -> TimeOfDay | str:
    """A time of day as a span gives it (``10:00``, ``24:00``, ``sunset-30min``), or why not."""
    text = text.strip()
    sun = _SUN.match(text)
    if sun:
        offset = parse_duration(sun.group(2).replace(" ", "")) if sun.group(2) else 0.0
        if offset is None:
            return f"{text!r} is not the sun's time with an offset such as sunset-30min"
        return TimeOfDay(sun=sun.group(1), offset=offset)  # type: ignore[arg-type]
    hours, _, minutes = text.partition(":")
    h, m = int(hours), int(minutes)
    if m > 59 or h > 24 or (h == 24 and m):
        return f"{text} is not a time of day (00:00 to 24:00)"
    return TimeOfDay(minutes=h * 60 + m)


def parse_span(text: str) -> SpanTimes | str:
    """A span (``10:00-18:00``, ``sunset-30min to 23:00``), or why it is not one."""
    match = _SPAN.match(text)
    if match is None:
        return f"{text!r} is not a span such as 10:00-18:00 or sunset-30min to 23:00"
    start, end = parse_time(match.group("start")), parse_time(match.group("end"))
    for part in (start, end):
        if isinstance(part, str):
            return part
    assert isinstance(start, TimeOfDay)
    assert isinstance(end, TimeOfDay)
    if start.sun is None and start.minutes == 24 * 60:
        return f"the span {text} opens at 24:00, the end of its day; open at 00:00 of the next"
    if start.sun is None and end.sun is None and end.minutes <= start.minutes:
        if end.minutes == start.minutes:
            return f"the span {text} closes as it opens; give it a length or remove it"
        return (
            f"the span {text} ends before it starts; a span past midnight is two, one to 24:00 "
            "on its day and one from 00:00 on the next"
        )
    return SpanTimes(text.strip(), start, end)


def weekdays_of(key: str) -> list[int]:
    """The days (0: Monday) of a ``weekly`` key: ``daily``, ``sat``, or a run (``fri-mon``)."""
    if key == "daily":
        return list(range(7))
    first, _, last = key.partition("-")
    a = WEEKDAYS.index(first)
    b = WEEKDAYS.index(last or first)
    return [(a + i) % 7 for i in range((b - a) % 7 + 1)]


def dates_of(key: str) -> tuple[dt.date, dt.date] | str:
    """The first and last date of a ``dates`` key (``2026-12-25``, ``2026-12-24 to
    2027-01-01``), or why it is not a date."""
    texts = key.split(" to ")
    days: list[dt.date] = []
    for text in texts:
        try:
            days.append(dt.date.fromisoformat(text))
        except ValueError:
            return f"there is no date {text}; correct it (YYYY-MM-DD)"
    if days[-1] < days[0]:
        return f"{key} ends before it starts; give the first date first"
    return days[0], days[-1]


def zone_named(name: str | None) -> dt.tzinfo | str:
    """The time zone called ``name`` (``None``: the box's own), or why there is none."""
    if name is None:
        return box_zone()
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        from showctl.show._convert import suggest  # noqa: PLC0415  (only for this sentence)

        hint = suggest(name, zoneinfo.available_timezones()) or " (such as Europe/London)"
        return (
            f"unknown time zone {name!r}{hint}; give a name of the tz database "
            "(timedatectl list-timezones lists them), or leave it out for the box's own"
        )


def box_zone() -> dt.tzinfo:
    """The box's time zone, with its daylight-saving rules: ``TZ`` if set, else the system's
    (``/etc/localtime``), else UTC."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    try:
        with open(LOCALTIME, "rb") as f:
            return zoneinfo.ZoneInfo.from_file(f, key=_zone_key())
    except (OSError, ValueError):
        return dt.UTC


def _zone_key() -> str:
    """The name of the box's zone, for people (``Europe/London``), from its link."""
    target = os.path.realpath(LOCALTIME)
    _, found, name = target.partition("zoneinfo/")
    return name if found else "local"


def problems(hours: Hours) -> Iterator[Problem]:
    """What the hours get wrong, each with its place under ``hours``: an unknown zone, a day
    given twice, a date that does not exist, dates given twice, a span that ends before it
    starts, spans that overlap, a time of the sun with no place on Earth."""
    zone = zone_named(hours.zone)
    if isinstance(zone, str):
        yield ("zone",), zone
    if (hours.latitude is None) != (hours.longitude is None):
        yield ((), "give both latitude and longitude (where the show is), or neither")
    days_given: dict[int, str] = {}
    for key, spans in hours.weekly.items():
        for day in weekdays_of(key):
            if day in days_given:
                yield (
                    ("weekly", key),
                    f"{WEEKDAYS[day]} is given twice (in {days_given[day]} and {key}); give each "
                    "day once (tue-sun: 10:00-18:00, mon: closed)",
                )
            days_given.setdefault(day, key)
        yield from _day_problems(hours, ("weekly", key), spans)
    runs: list[tuple[dt.date, dt.date, str]] = []
    for key, spans in hours.dates.items():
        run = dates_of(key)
        if isinstance(run, str):
            yield ("dates", key), run
            continue
        for first, last, other in runs:
            if run[0] <= last and first <= run[1]:
                yield (
                    ("dates", key),
                    f"{key} and {other} share dates; give each date once",
                )
        runs.append((*run, key))
        yield from _day_problems(hours, ("dates", key), spans)


def _day_problems(
    hours: Hours, where: tuple[str | int, ...], spans: tuple[str, ...]
) -> Iterator[Problem]:
    if "closed" in spans:
        if len(spans) > 1:
            yield where, "a day is either closed or has spans, not both; remove 'closed'"
        return
    fixed: list[SpanTimes] = []
    for i, text in enumerate(spans):
        span = parse_span(text)
        place: tuple[str | int, ...] = (*where, i) if len(spans) > 1 else where
        if isinstance(span, str):
            yield place, span
            continue
        if (span.start.sun or span.end.sun) and hours.latitude is None:
            yield (
                place,
                f"the span {text} follows the sun, which rises and sets by where the show is; "
                "give hours.latitude and hours.longitude",
            )
        if span.start.sun is None and span.end.sun is None:
            fixed.append(span)
    fixed.sort(key=lambda s: s.start.minutes)
    for a, b in itertools.pairwise(fixed):
        if b.start.minutes < a.end.minutes:
            yield (
                where,
                f"the spans {a.text} and {b.text} overlap; make them one, or part them",
            )


class OpeningHours:
    """The hours of a show, worked out day by day (each day once) in their time zone. The
    hours must be free of :func:`problems`; what is wrong is left out."""

    def __init__(self, hours: Hours, zone: dt.tzinfo | None = None) -> None:
        self.hours = hours
        named = zone_named(hours.zone) if zone is None else zone
        self.zone: dt.tzinfo = dt.UTC if isinstance(named, str) else named
        self._weekly: dict[int, tuple[str, list[SpanTimes]]] = {}
        for key, spans in hours.weekly.items():
            for day in weekdays_of(key):
                self._weekly.setdefault(day, (f"weekly {key}", _spans(spans)))
        self._dates: list[tuple[dt.date, dt.date, str, list[SpanTimes]]] = []
        for key, spans in hours.dates.items():
            run = dates_of(key)
            if not isinstance(run, str):
                self._dates.append((*run, key, _spans(spans)))
        self._observer = None
        if hours.latitude is not None and hours.longitude is not None:
            from astral import Observer  # noqa: PLC0415  (a show without hours never needs it)

            self._observer = Observer(latitude=hours.latitude, longitude=hours.longitude)

    @property
    def zone_name(self) -> str:
        return str(getattr(self.zone, "key", None) or self.zone)

    @functools.lru_cache(maxsize=LOOKAHEAD + 8)  # noqa: B019  (one per show, living as long)
    def day(self, date: dt.date) -> Day:
        """What the hours say for ``date``."""
        source, spans = next(
            ((key, spans) for first, last, key, spans in self._dates if first <= date <= last),
            self._weekly.get(date.weekday(), ("weekly: not given", [])),
        )
        times: list[tuple[float, float]] = []
        notes: list[str] = []
        for span in spans:
            start, why = self._moment(date, span.start)
            end, why_end = self._moment(date, span.end)
            if start is None or end is None:
                notes.append(f"{span.text}: {why or why_end}, so closed")
            elif end <= start:
                notes.append(f"{span.text}: it would close before it opens, so closed")
            else:
                times.append((start, end))
        return Day(date, tuple(sorted(times)), source, tuple(notes))

    def _moment(self, date: dt.date, time: TimeOfDay) -> tuple[float | None, str]:
        """Wall-clock seconds of ``time`` on ``date``, or ``None`` and why (no sunset)."""
        if time.sun is None:
            day = date + dt.timedelta(days=time.minutes // 1440)
            minutes = time.minutes % 1440
            local = dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60), self.zone)
            return local.timestamp(), ""
        from astral import sun  # noqa: PLC0415  (see __init__)

        assert self._observer is not None  # problems() asks for a place first
        try:
            at = getattr(sun, time.sun)(self._observer, date, tzinfo=self.zone)
        except ValueError:
            return None, f"the sun does not {time.sun[3:]} on {date} there"
        return at.timestamp() + time.offset, ""

    def openings(self, t: float) -> Iterator[tuple[float, float]]:
        """The openings (from, to: wall-clock s) that end after ``t``, in order, spans that
        meet made one, as far as :data:`LOOKAHEAD` days."""
        first = dt.datetime.fromtimestamp(t, self.zone).date() - dt.timedelta(days=1)
        current: tuple[float, float] | None = None
        for i in range(LOOKAHEAD + 2):
            for start, end in self.day(first + dt.timedelta(days=i)).spans:
                if current is not None and start <= current[1]:
                    current = (current[0], max(current[1], end))
                    continue
                if current is not None and current[1] > t:
                    yield current
                current = (start, end)
        if current is not None and current[1] > t:
            yield current

    def at(self, t: float) -> tuple[bool, float | None]:
        """Whether the show is open at ``t`` (wall-clock s), and when that changes next
        (``None``: not within :data:`LOOKAHEAD` days)."""
        for start, end in self.openings(t):
            return (True, end) if start <= t else (False, start)
        return False, None

    def when(self, t: float) -> str:
        """``t`` for people, in the hours' zone: ``Wed 2 Dec 10:00``."""
        local = dt.datetime.fromtimestamp(t, self.zone)
        return f"{local:%a} {local.day} {local:%b %H:%M}"

    def timetable(self, first: dt.date, days: int) -> Iterator[str]:
        """``days`` days from ``first``, a line each for people: the date, its spans in local
        time (or closed), where they come from, and anything to know (a change of
        daylight-saving time, a span the sun leaves empty)."""
        for i in range(days):
            date = first + dt.timedelta(days=i)
            day = self.day(date)
            spans = ", ".join(self._local_span(date, s, e) for s, e in day.spans) or "closed"
            notes = list(day.notes)
            start = dt.datetime.combine(date, dt.time(), self.zone)
            end = dt.datetime.combine(date + dt.timedelta(days=1), dt.time(), self.zone)
            if start.utcoffset() != end.utcoffset():
                notes.append(f"the clocks change: {start.tzname()} to {end.tzname()}")
            yield f"{date:%a %Y-%m-%d}  {spans:<24} ({'; '.join([day.source, *notes])})"

    def _local_span(self, date: dt.date, start: float, end: float) -> str:
        def local(t: float) -> str:
            at = dt.datetime.fromtimestamp(t, self.zone)
            return "24:00" if at.date() > date and at.time() == dt.time() else f"{at:%H:%M}"

        return f"{local(start)}-{local(end)}"


def _spans(texts: tuple[str, ...]) -> list[SpanTimes]:
    return [span for text in texts if not isinstance(span := parse_span(text), str)]


@dataclass(frozen=True)
class Verdict:
    """Whether the show is to be open now, and why, in a sentence; ``change``: when the
    hours say otherwise next (wall-clock s; ``None``: not within a year, or the clock not
    trusted)."""

    open: bool
    why: str
    change: float | None = None
    trusted: bool = True


def verdict(hours: OpeningHours, t: float, trusted: bool) -> Verdict:
    """What the hours say at ``t``, or, with the clock not trusted, the show's
    ``unknown_clock``."""
    if not trusted:
        if hours.hours.unknown_clock == "play":
            why = "the clock is not known good yet, so the hours wait and the show plays"
        else:
            why = "the clock is not known good yet, so the show stays closed until it is"
        return Verdict(hours.hours.unknown_clock == "play", why, None, trusted=False)
    is_open, change = hours.at(t)
    if change is None:
        return Verdict(is_open, "closed, and no opening within a year" if not is_open else "open")
    state = "open until" if is_open else "closed until"
    return Verdict(is_open, f"{state} {hours.when(change)}", change)


class ShowHours:
    """What the hours of a running show say now, on the wall clock as ``wall_clock`` judges it
    (each show's hours worked out once)."""

    def __init__(self, wall_clock: WallClock) -> None:
        self.wall_clock = wall_clock
        self._hours: OpeningHours | None = None
        #: What they said when last asked (``None``: nothing yet).
        self.said: Verdict | None = None
        self._since = 0.0  # the wall-clock time ``said`` was worked out at

    def now(self, hours: Hours | None) -> Verdict | None:
        """What ``hours`` say now; ``None``: the show has none. Asked every second: worked out
        again only when the hours or the clock's trust changed, or the clock left the stretch
        where the last answer holds (past its change, or stepped back before it was made)."""
        if hours is None:
            self.said = None
            return None
        wall, trusted = self.wall_clock.wall(), self.wall_clock.trusted
        said = self.said
        if self._hours is not None and self._hours.hours is hours and said is not None:
            holds = said.change is None or wall < said.change
            if said.trusted == trusted and holds and wall >= self._since and trusted:
                return said
        if self._hours is None or self._hours.hours is not hours:
            self._hours = OpeningHours(hours)
        self.said, self._since = verdict(self._hours, wall, trusted), wall
        return self.said

    @property
    def zone(self) -> str | None:
        return self._hours.zone_name if self._hours is not None else None

    def state(self, closed: bool) -> dict[str, Any]:
        """For the status: the wall clock, and what the hours said last (``closed``: whether
        they closed the show)."""
        state: dict[str, Any] = {"wall_clock": self.wall_clock.state()}
        if self.said is not None:
            state["hours"] = {
                "open": self.said.open,
                "why": self.said.why,
                "change": self.said.change,
                "zone": self.zone,
                "closed": closed,
            }
        return state
