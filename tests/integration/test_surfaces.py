"""``showctl run --sim`` with every operator surface on, driven by the real things: Debian's
chromium (headless, through its chromedriver: nothing is downloaded), a mosquitto broker on a free
loopback port, and OSC datagrams on a real UDP socket.

Set ``SHOWCTL_SCREENSHOTS=FOLDER`` to keep the page's screenshot there (the README's picture
is made so).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.select import Select

from tests.conftest import ROOT
from tests.harness.broker import Broker, Listener, free_port, retained, running_broker
from tests.harness.running import Running

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
#: How long the page, the broker or a reply may take (s).
WAIT = 15.0
#: The browser's time zone: never UTC (the log's), so that a time shown in UTC is seen wrong.
BROWSER_TZ = "Pacific/Auckland"
#: The page's token: needed on loopback too, as soon as one is set.
TOKEN = "room1-token"


def wait_for(what: str, check: Callable[[], Any], timeout: float = WAIT) -> Any:
    """Poll ``check()`` until it returns something true; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g} s"
        time.sleep(0.05)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    folder = tmp_path / "broker"
    folder.mkdir()
    with running_broker(folder) as b:
        yield b


@pytest.fixture
def room(tmp_path: Path, escape_room: Path, broker: Broker) -> Iterator[Running]:
    """The escape room, with the page (and its token), MQTT and OSC on free loopback ports."""
    settings = tmp_path / "settings.toml"
    settings.write_text(
        f'[web]\nport = {free_port()}\ntoken = "{TOKEN}"\n'
        f'[mqtt]\nhost = "{broker.host}"\nport = {broker.port}\nbase = "room1"\n'
        '[mqtt.events]\n"room1/props/start-button" = "input:start"\n'
        f"[osc]\nport = {free_udp_port()}\n"
        '[osc.targets]\nlighting-desk = "127.0.0.1:9"\n'
    )
    running = Running(tmp_path, escape_room, settings=settings)
    yield running
    running.stop()


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    for path in (CHROMIUM, CHROMEDRIVER):
        assert path.exists(), (
            f"{path} is missing: the browser tests need Debian's chromium and chromium-driver; "
            "run make setup-test (deploy/apt-packages-test.txt lists them)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    service = Service(str(CHROMEDRIVER), env={**os.environ, "TZ": BROWSER_TZ})
    driver = webdriver.Chrome(options=options, service=service)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()


def page_url(room: Running) -> str:
    line = wait_for("web_listening", lambda: logged(room, "web_listening"))
    return str(line["url"])


def logged(room: Running, event: str, nth: int = 1) -> dict[str, Any] | None:
    """The ``nth`` line of ``event`` in the room's log, if there are so many yet."""
    lines = [line for line in room.logs() if line.get("event") == event]
    return lines[nth - 1] if len(lines) >= nth else None


def lit(driver: WebDriver) -> list[bool]:
    cells = driver.find_elements(By.CSS_SELECTOR, "#matrix .led")
    return [("on" in (c.get_attribute("class") or "").split()) for c in cells]


def test_the_page_shows_the_room_live_and_its_buttons_move_it(
    room: Running, browser: WebDriver, tmp_path: Path
) -> None:
    """Open the page, give it the token, press the room's inputs: the scene changes and the
    matrix follows, without a reload; the game clock counts, large, and its buttons bend it;
    hints go out from their buttons and the text box; a button that does nothing says why; the
    emergency
    button releases the door's lock at once and shows a red banner, a relay refuses to be
    powered until the all-clear (asked first); the page fits a phone's width."""
    browser.set_window_size(1280, 1000)
    browser.get(page_url(room))
    scene = browser.find_element(By.ID, "scene")
    wait_for("the idle scene on the page", lambda: scene.text == "idle")
    wait_for("the live link", lambda: browser.find_element(By.ID, "link").text == "live")
    for token in ("a wrong one", TOKEN):  # the page asks for it, and again when it is wrong
        give_token(browser, token)
        browser.find_element(By.XPATH, "//div[@id='inputs']/button[.='start']").click()
    why = "in scene 'idle', input 'start' needs door_closed, which did not hold"  # door open
    message = browser.find_element(By.ID, "message")
    wait_for("why start did nothing", lambda: message.text == f"Nothing happened: {why}.")
    # idle breathes the pendulum lamp (the middle LED) and nothing else
    for _ in range(20):  # two seconds of idle: only the middle LED ever lights
        assert not any(on for i, on in enumerate(lit(browser)) if i != 4)
        time.sleep(0.1)
    browser.find_element(By.XPATH, "//div[@id='inputs']/button[.='door']").click()
    wait_for("the door flag", lambda: "door_closed" in browser.find_element(By.ID, "flags").text)
    browser.find_element(By.XPATH, "//div[@id='inputs']/button[.='start']").click()
    wait_for("the intro scene on the page", lambda: scene.text == "intro")
    assert room.answer("status")["scene"] == "intro"
    # intro cycles through every LED: the corners light up now
    wait_for("a corner LED lit by intro's cycle", lambda: lit(browser)[0] or lit(browser)[8])
    wait_for(
        "a log line of the scene",
        lambda: "scene_entered" in browser.find_element(By.ID, "log").text,
    )
    assert browser.find_element(By.ID, "description").text == (
        "The clockmaker's voice tells the story; the door locks."
    )
    left = browser.find_element(By.CSS_SELECTOR, "[data-clock='game'] .left")
    wait_for("the game clock counting on the page", lambda: left.text.startswith("59:"))
    give_hints(room, browser)
    shot = tmp_path / "escape-room-page.png"  # the README's picture
    browser.save_screenshot(str(shot))
    if "SHOWCTL_SCREENSHOTS" in os.environ:
        shutil.copy(shot, Path(os.environ["SHOWCTL_SCREENSHOTS"]) / shot.name)
    browser.find_element(By.ID, "pause").click()
    wait_for("paused on the page", lambda: browser.find_element(By.ID, "paused").is_displayed())
    assert room.answer("status")["paused"] is True
    browser.find_element(By.ID, "pause").click()  # now "Resume"
    wait_for("resumed", lambda: not room.answer("status")["paused"])
    bend_the_clock(room, browser)
    release_the_room(room, browser)
    browser.set_window_size(400, 860)  # a phone
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth"
    ), "the page is wider than a phone's screen"


def release_the_room(room: Running, browser: WebDriver) -> None:
    """The emergency button releases the door's lock at once under a red banner; a relay then
    refuses to be powered until the all-clear, which is asked first."""
    message = browser.find_element(By.ID, "message")
    relay_state = "//div[@data-relay='door-lock']/span[@class='state on']"
    wait_for("the door's lock powered", lambda: browser.find_elements(By.XPATH, relay_state))
    browser.find_element(By.ID, "emergency").click()  # at once: no question asked
    banner = browser.find_element(By.ID, "released")
    wait_for("the emergency's red banner", banner.is_displayed)
    assert "the emergency command" in banner.text
    assert room.answer("status")["relays"] == {"door-lock": False, "drawer": False}
    power = "//div[@data-relay='door-lock']//button[.='Power']"
    browser.find_element(By.XPATH, power).click()
    wait_for("the refusal", lambda: "clear it first (all-clear)" in message.text)
    browser.find_element(By.ID, "all-clear").click()
    browser.switch_to.alert.dismiss()  # asked first: no
    assert room.answer("status")["emergency"] is not None
    browser.find_element(By.ID, "all-clear").click()
    browser.switch_to.alert.accept()
    wait_for("the banner gone", lambda: not banner.is_displayed())
    browser.find_element(By.XPATH, power).click()
    wait_for("the lock powered again", lambda: browser.find_elements(By.XPATH, relay_state))


def give_hints(room: Running, browser: WebDriver) -> None:
    """A hint of the show from its button (shown with its text, then marked given), and one
    typed: both in the page's history, the latest first, and in the count."""
    portrait = browser.find_element(By.XPATH, "//div[@id='hints']/button[@data-hint='portrait']")
    assert "shine the lamp behind the portrait" in portrait.text, "the button shows its text"
    portrait.click()
    wait_for("the hint marked given", lambda: "given" in (portrait.get_attribute("class") or ""))
    typed = browser.find_element(By.ID, "hint-text")
    typed.send_keys("Count the gears on the left wall.\n")
    history = browser.find_element(By.ID, "hints-given")
    wait_for("two hints in the history", lambda: len(history.find_elements(By.TAG_NAME, "li")) == 2)
    given = history.find_elements(By.TAG_NAME, "li")
    assert [[part.text for part in li.find_elements(By.XPATH, "b|span")] for li in given] == [
        ["#2", "Count the gears on the left wall."],
        ["#1", "The clockmaker's eyes want light: shine the lamp behind the portrait."],
    ], "the latest first"
    assert typed.get_attribute("value") == "", "the box is emptied once the hint went out"
    assert browser.find_element(By.ID, "hints-count").text == "2 given"
    assert room.answer("status")["counters"]["hints"] == 2


def bend_the_clock(room: Running, browser: WebDriver) -> None:
    """The game master's buttons on the game clock: five minutes more, stopped, started."""
    left = browser.find_element(By.CSS_SELECTOR, "[data-clock='game'] .left")
    browser.find_element(By.XPATH, "//div[@data-clock='game']//button[.='+5 min']").click()
    wait_for("five minutes more", lambda: left.text.startswith("64:"))
    assert 3840 < room.answer("status")["clocks"]["game"]["left"] <= 3900
    browser.find_element(By.XPATH, "//div[@data-clock='game']//button[.='Stop']").click()
    wait_for("the clock stopped", lambda: not room.answer("status")["clocks"]["game"]["running"])
    stopped = left.text
    time.sleep(1.2)
    assert left.text == stopped, "a stopped clock stands on the page too"
    browser.find_element(By.XPATH, "//div[@data-clock='game']//button[.='Start']").click()
    wait_for("the clock going again", lambda: room.answer("status")["clocks"]["game"]["running"])


def test_the_page_names_the_next_scene_follows_the_current_one_and_shows_local_times(
    room: Running, browser: WebDriver
) -> None:
    """The Next button names where it leads; the go-to list follows the current scene, but
    keeps a scene the operator picked until they go there; the log's times are shown in the
    browser's time zone."""
    browser.get(page_url(room))
    assert browser.execute_script("return Intl.DateTimeFormat().resolvedOptions().timeZone") == (
        BROWSER_TZ
    )
    go = browser.find_element(By.ID, "go")
    scenes = Select(browser.find_element(By.ID, "scenes"))
    wait_for("the Next button", lambda: go.text == "Next: intro")
    give_token(browser, TOKEN)
    room.answer("goto", "puzzles")
    wait_for("puzzles on the page", lambda: go.text == "Next: finale")  # puzzles' first `to`
    assert scenes.first_selected_option.text == "puzzles"
    xpath = "//ol[@id='log']/li[b='scene_entered' and contains(span, 'scene=puzzles')]/time"
    shown = wait_for("puzzles' log line", lambda: browser.find_elements(By.XPATH, xpath))
    entered = wait_for("puzzles' log line in the file", lambda: logged(room, "scene_entered", 2))
    assert entered["scene"] == "puzzles"
    assert [t.text for t in shown] == [local_time(entered["timestamp"])]  # not UTC's
    scenes.select_by_visible_text("game-over")  # the operator's choice, kept while the room moves
    browser.find_element(By.ID, "show").click()  # away from the list
    room.answer("goto", "finale")
    wait_for("finale on the page", lambda: go.text == "Next: reset")
    assert scenes.first_selected_option.text == "game-over"
    browser.find_element(By.ID, "goto").click()
    wait_for("game-over", lambda: room.answer("status")["scene"] == "game-over")
    room.answer("goto", "reset")  # the list follows the room again
    wait_for("the list on reset", lambda: scenes.first_selected_option.text == "reset")
    assert go.text == "Next: idle"


def give_token(browser: WebDriver, token: str) -> None:
    """Type ``token`` into the page's token form once the page asks for it."""
    field = browser.find_element(By.ID, "token")
    wait_for("the page asking for its token", field.is_displayed)
    field.send_keys(token + "\n")


def local_time(timestamp: str) -> str:
    """A log line's timestamp (ISO, UTC) as a clock in the browser's time zone shows it."""
    return datetime.fromisoformat(timestamp).astimezone(ZoneInfo(BROWSER_TZ)).strftime("%H:%M:%S")


def test_text_from_the_show_is_shown_as_text_never_run(
    tmp_path: Path, escape_room: Path, browser: WebDriver
) -> None:
    """A show whose name, scene description and hint carry HTML: the page shows it as text,
    and no element or script of it comes to life."""
    sneaky = '<img src=x onerror="window.pwned=1">'
    text = escape_room.read_text()
    text = (
        text.replace("name: The Clockmaker's Study (escape room)", f"name: '{sneaky}'")
        .replace(
            "description: The room waits; the pendulum lamp breathes.",
            f"description: '<script>window.pwned=2</script>{sneaky}'",
        )
        .replace(
            "  door: {text: The way out",
            f"  door: {{text: '{sneaky}'}}\n  way: {{text: The way out",
        )
    )
    escape_room.write_text(text)
    settings = tmp_path / "settings.toml"
    settings.write_text(
        f'[web]\nport = {free_port()}\n[osc.targets]\nlighting-desk = "127.0.0.1:9"\n'
    )
    room = Running(tmp_path, escape_room, settings=settings)
    try:
        browser.get(page_url(room))
        wait_for("the show's name", lambda: browser.find_element(By.ID, "show").text == sneaky)
        wait_for(
            "the description",
            lambda: browser.find_element(By.ID, "description").text.endswith(sneaky),
        )
        door = browser.find_element(By.XPATH, "//div[@id='hints']/button[@data-hint='door']")
        assert door.find_element(By.TAG_NAME, "small").text == sneaky
        assert browser.execute_script("return window.pwned === undefined")
        assert browser.find_elements(By.CSS_SELECTOR, "main img, header img, main script") == []
    finally:
        room.stop()


def test_mqtt_moves_the_running_room_and_survives_the_broker_going_away(
    room: Running, broker: Broker
) -> None:
    """Events through the broker move ``showctl run``; the broker is restarted mid-show; the
    show went on meanwhile and the retained state is published again."""
    with Listener(broker, "room1/#") as listen:
        wait_for(
            "presence online", lambda: (m := listen.last("room1/online")) and m.payload == b"online"
        )
        listen.publish("room1/input/door")
        wait_for("door_closed", lambda: "door_closed" in room.answer("status")["flags"])
        listen.publish("room1/props/start-button")  # a prop's own topic, from the settings
        wait_for("intro", lambda: room.answer("status")["scene"] == "intro")
        wait_for("the state published", lambda: state(listen, "intro"))
    broker.stop()
    assert room.answer("goto", "finale")["scene"] == "finale"  # the show goes on meanwhile
    broker.start()  # empty: nothing retained
    with Listener(broker, "room1/#") as listen:
        wait_for("the state republished, retained", lambda: state(listen, "finale"), timeout=40)
        kept = retained(broker, "room1/state")
        assert kept is not None
        assert json.loads(kept.payload)["scene"] == "finale"
        wait_for("presence online again", lambda: listen.last("room1/online"))
        assert listen.last("room1/online").payload == b"online"
        listen.publish("room1/trigger", json.dumps({"event": "nothing-such"}))
        listen.publish("room1/input/door")
    refused = wait_for("the refusal logged", lambda: logged(room, "mqtt_message_refused"))
    assert "nothing-such" in refused["error"]
    assert room.process.poll() is None


def state(listen: Listener, scene: str) -> bool:
    message = listen.last("room1/state")
    return message is not None and json.loads(message.payload)["scene"] == scene


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_osc_addresses_move_the_running_room_and_reply_its_state(room: Running) -> None:
    """A desk sends the addresses; each gets ``/showctl/state`` (or ``/showctl/error``) back."""
    listening = wait_for("osc_listening", lambda: logged(room, "osc_listening"))
    port = int(listening["port"])
    desk = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    desk.bind(("127.0.0.1", 0))
    desk.settimeout(WAIT)

    def send(address: str) -> tuple[str, list[Any]]:
        desk.sendto(OscMessageBuilder(address).build().dgram, ("127.0.0.1", port))
        reply = OscMessage(desk.recv(65536))
        return reply.address, list(reply.params)

    try:
        assert send("/showctl/scene/puzzles")[1][0] == "puzzles"
        assert send("/showctl/go")[1][0] == "finale"  # puzzles' first way out with a scene
        assert send("/showctl/pause")[1][:2] == ["finale", 1]
        assert send("/showctl/resume")[1][:2] == ["finale", 0]
        assert send("/showctl/input/door")[1][0] == "finale"
        assert send("/showctl/reset")[1][0] == "idle"
        address, (error, *_) = send("/showctl/scene/nowhere")
        assert (address, "no scene 'nowhere'" in error) == ("/showctl/error", True)
        assert room.answer("status")["scene"] == "idle"
    finally:
        desk.close()


def test_the_status_over_http_is_the_control_sockets(room: Running) -> None:
    """``GET /api/v1/status`` of the running room says what ``showctl status`` says."""
    url = page_url(room)
    with urllib.request.urlopen(url + "api/v1/status", timeout=WAIT) as r:
        status = json.load(r)
    assert status["scene"] == room.answer("status")["scene"]
    assert set(status["outputs"]) == {"room", "hint"}


def test_the_page_tells_a_technician_the_hours_and_sets_the_levels(
    tmp_path: Path, browser: WebDriver
) -> None:
    """The gallery on a box whose clock the kernel has not synchronised: the page says the
    hours wait for the clock, and why; a level typed for the left speaker is set (and saved),
    the show file's level shown beside it, and the button back to it restores it."""
    settings = tmp_path / "settings.toml"
    settings.write_text(f"[web]\nport = {free_port()}\n")
    gallery = Running(tmp_path, ROOT / "shows" / "gallery.yaml", settings=settings)
    try:
        browser.get(page_url(gallery))
        hours = browser.find_element(By.ID, "hours")
        wait_for("the hours on the page", lambda: hours.text)
        trusted = gallery.answer("status")["wall_clock"]["trusted"]
        if not trusted:  # this machine's kernel: no NTP (a box just booted, say)
            assert hours.text == (
                "Opening hours: the clock is not known good yet, so the hours wait and the "
                "show plays (Europe/London)"
            )
            untrusted = browser.find_element(By.ID, "clock-untrusted")
            assert untrusted.text.startswith("The box's clock is not trusted (since ")
        row = browser.find_element(By.CSS_SELECTOR, "form.level[data-level='left']")
        note = row.find_element(By.CSS_SELECTOR, ".note")
        wait_for("the left level", lambda: note.text)
        assert note.text == "show file: -2 dB · plays at -5 dB"
        field = row.find_element(By.TAG_NAME, "input")
        field.clear()
        field.send_keys("-8.5")
        row.find_element(By.XPATH, ".//button[.='Set']").click()
        wait_for(
            "the level set", lambda: gallery.answer("status")["levels"]["left"]["live"] == -8.5
        )
        wait_for("the page says so", lambda: "set here: -8.5 dB" in note.text)
        assert json.loads(gallery.state.read_text())["levels"] == {"left": -8.5}
        row.find_element(By.CSS_SELECTOR, "button.back").click()
        wait_for(
            "back to the file's", lambda: gallery.answer("status")["levels"]["left"]["live"] is None
        )
    finally:
        gallery.stop()
