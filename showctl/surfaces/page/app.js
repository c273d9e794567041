// The game-master page: reads /api/v1/show once, then follows /api/v1/ws.
// Every text from the show or the log is set with textContent: it is shown, never run.
"use strict";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "showctl-token";
const LOG_LINES = 40;
let tokenRequired = false;
let status = null;
let statusAt = 0;  // performance.now() when status came
let descriptions = {};
// The go-to list follows the current scene until the operator picks another one in it; it
// follows again once they go there (or pick the current scene back).
let scenePicked = false;
let hintsOffered = false;  // the show has hints, or a clock (a game)
let hintsShown = "";  // the hints given that the history shows
let levelsShown = "";  // the outputs the levels section has a row for

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function say(text, bad) {
  const m = $("message");
  m.textContent = text;
  m.className = bad ? "bad" : "";
  m.hidden = !text;
}

// A log line's time (ISO, UTC) as the browser's clock shows it: in its own time zone.
function localTime(timestamp) {
  const d = new Date(timestamp);
  if (isNaN(d)) return "";
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
}

// A game clock's time left, counted down: whole seconds rounded up, so 0:00 is zero.
function countdown(seconds) {
  const s = Math.max(0, Math.ceil(seconds - 0.005));
  return String(Math.floor(s / 60)).padStart(2, "0") + ":" + String(s % 60).padStart(2, "0");
}

function clock(seconds) {
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = h ? String(m).padStart(2, "0") : String(m);
  return (h ? h + ":" : "") + mm + ":" + String(r).padStart(2, "0");
}

// Ask the controller; whether it did it.
async function control(action, body) {
  if (tokenRequired && !localStorage.getItem(TOKEN_KEY)) {
    askToken("Type the token first.");
    return false;
  }
  const headers = { "Content-Type": "application/json" };
  const token = localStorage.getItem(TOKEN_KEY);
  if (tokenRequired && token) headers.Authorization = "Bearer " + token;
  let answer;
  try {
    const r = await fetch("/api/v1/" + action, {
      method: "POST", headers, body: JSON.stringify(body || {}),
    });
    answer = await r.json();
    if (r.status === 401 || r.status === 403) {
      localStorage.removeItem(TOKEN_KEY);
      askToken(answer.error);
      return false;
    }
  } catch (e) {
    say("The controller does not answer: " + e.message, true);
    return false;
  }
  if (!answer.ok) {
    say(answer.error, true);
    return false;
  }
  if (action === "reload") say("The show file is read; it takes over at the next scene.");
  else if (action === "emergency") say("");
  else say(answer.moved === false ? "Nothing happened: " + answer.why + "." : "");
  showStatus(answer);
  return true;
}

function askToken(why) {
  say(why || "", true);
  $("token-form").hidden = false;
  $("token").value = "";  // a wrong one is not typed over
  $("token").focus();
}

function button(text, onClick, cls) {
  const b = el("button", text, cls);
  b.type = "button";
  b.addEventListener("click", onClick);
  return b;
}

function showShow(show) {
  tokenRequired = show.token_required;
  $("show").textContent = show.name;
  document.title = show.name + " · showctl";
  const scenes = $("scenes");
  scenes.replaceChildren(...show.scenes.map((s) => {
    const o = el("option", s.name);
    o.value = s.name;
    return o;
  }));
  descriptions = Object.fromEntries(show.scenes.map((s) => [s.name, s.description]));
  scenePicked = false;
  $("events").replaceChildren(...show.events.map((name) =>
    button(name, () => control("trigger", { name }), "event")));
  if (!show.events.length) $("events").replaceChildren(el("span", "none", "none"));
  $("inputs").replaceChildren(...show.inputs.map((name) =>
    button(name, () => control("trigger", { name: "input:" + name }), "input")));
  if (!show.inputs.length) $("inputs").replaceChildren(el("span", "none", "none"));
  $("room-section").hidden = !show.relays.length && !show.props.length && !show.actions.length && !show.sounds.length;
  $("sounds").replaceChildren(...show.sounds.map((s) => {
    const b = button("▶ " + s.name, () => control("sound", { name: s.name }), "event");
    b.title = "over what " + s.output + " plays";
    return b;
  }));
  $("sounds-title").hidden = $("sounds").hidden = !show.sounds.length;
  $("actions").replaceChildren(...show.actions.map((name) =>
    button(name, () => control("action", { name }), "event")));
  $("actions-title").hidden = $("actions").hidden = !show.actions.length;
  $("emergency").hidden = !show.relays.length;
  $("relays").replaceChildren(...show.relays.map(relayRow));
  if (!show.relays.length) $("relays").replaceChildren(el("span", "none", "none"));
  $("props-title").hidden = $("props").hidden = !show.props.length;
  $("hints").replaceChildren(...show.hints.map(hintButton));
  hintsShown = "";
  // A show with a game clock is a game: the game master may type a hint even without named ones.
  hintsOffered = show.hints.length > 0 || show.clocks.length > 0;
  $("clocks-section").hidden = !show.clocks.length;
  $("clocks").replaceChildren(...show.clocks.map(clockPanel));
  const matrix = $("matrix");
  $("matrix-section").hidden = !show.matrix;
  if (show.matrix) {
    matrix.style.gridTemplateColumns = "repeat(" + show.matrix.columns + ", 1fr)";
    const cells = [];
    for (let i = 0; i < show.matrix.rows * show.matrix.columns; i++) cells.push(el("div", undefined, "led"));
    matrix.replaceChildren(...cells);
  }
  if (tokenRequired && !localStorage.getItem(TOKEN_KEY)) askToken("");
}

// A relay's row: its state (filled in by showStatus) and the game master's hands on it.
function relayRow(relay) {
  const row = el("div", undefined, "relay");
  row.dataset.relay = relay.name;
  const state = el("span", "", "state");
  row.append(el("span", relay.name + " (safe " + relay.safe + ")", "name"), state);
  const time = el("input");
  time.value = relay.max_on !== null && relay.max_on < 0.5 ? relay.max_on + "s" : "500ms";
  time.setAttribute("aria-label", "pulse length of " + relay.name);
  const buttons = el("div", undefined, "buttons");
  buttons.append(
    button("Power", () => control("power", { relay: relay.name })),
    button("Unpower", () => control("unpower", { relay: relay.name })),
    button("Pulse", () => control("pulse", { relay: relay.name, duration: time.value })),
    time,
  );
  row.append(buttons);
  return row;
}

// A game clock, large, with the game master's hands on it: start or stop, and time given or
// taken (the field takes any time: 90s, -2min).
function clockPanel(name) {
  const panel = el("div", undefined, "game-clock stopped");
  panel.dataset.clock = name;
  const add = (time) => control("add-time", { clock: name, time });
  const time = el("input");
  time.value = "5min";
  time.setAttribute("aria-label", "time to add to " + name);
  const buttons = el("div", undefined, "buttons");
  const toggle = button("Start", () => control(panel.dataset.running === "true" ? "stop-clock" : "start-clock", { clock: name }), "event");
  toggle.classList.add("toggle");
  buttons.append(
    toggle,
    button("−1 min", () => add("-1min")),
    button("+1 min", () => add("1min")),
    button("+5 min", () => add("5min")),
    time,
    button("Add", () => add(time.value)),
  );
  panel.append(el("div", name, "label"), el("div", "--:--", "left"), buttons);
  return panel;
}

// A hint of the show: its name, and what the players will read (or that it is a clip).
function hintButton(hint) {
  const b = button(hint.name, () => control("hint", { name: hint.name }), "hint event");
  b.dataset.hint = hint.name;
  b.append(el("small", hint.text || "(a clip only)"));
  if (hint.clip && hint.text) b.title = "and its clip";
  return b;
}

// The hints given, the latest first; each named one's button marked as given.
function showHints(s) {
  const given = s.hints || [];
  $("hints-section").hidden = !hintsOffered && !given.length;
  $("hints-count").textContent = (s.counters.hints || 0) + " given";
  const key = JSON.stringify(given.at(-1) || null) + given.length;
  if (key === hintsShown) return;  // rebuilt only when a hint came (not at every status)
  hintsShown = key;
  const names = new Set(given.map((h) => h.name));
  for (const b of $("hints").querySelectorAll("button.hint")) b.classList.toggle("given", names.has(b.dataset.hint));
  $("hints-given").replaceChildren(...given.slice().reverse().map((h) => {
    const li = el("li");
    const when = el("time", localTime(h.at * 1000));
    li.append(when, el("b", "#" + h.count), el("span", h.text || "(" + h.name + ": a clip)"));
    return li;
  }));
}

function showClocks() {
  const clocks = (status && status.clocks) || {};
  const since = (performance.now() - statusAt) / 1000;
  for (const panel of $("clocks").querySelectorAll(".game-clock")) {
    const c = clocks[panel.dataset.clock];
    if (!c) continue;
    const left = c.running ? Math.max(0, c.left - since) : c.left;
    panel.querySelector(".left").textContent = countdown(left);
    panel.dataset.running = String(c.running);
    panel.classList.toggle("stopped", !c.running);
    panel.classList.toggle("low", c.running && left < 300);
    panel.querySelector(".toggle").textContent = c.running ? "Stop" : "Start";
  }
}

function showRoom(s) {
  const released = Boolean(s.emergency);
  $("released").hidden = !released;
  $("released-why").textContent = released ? "Emergency release: every relay held safe (" + s.emergency + ")" : "";
  $("emergency").disabled = released;
  $("relays-failed").hidden = !s.relays_failed;
  $("relays-failed").textContent = s.relays_failed ? "The relays cannot be switched: " + s.relays_failed : "";
  for (const row of $("relays").querySelectorAll(".relay")) {
    const powered = s.relays[row.dataset.relay];
    const state = row.querySelector(".state");
    state.textContent = powered ? "powered" : "unpowered";
    state.classList.toggle("on", Boolean(powered));
  }
  $("props").replaceChildren(...Object.entries(s.props || {}).map(([name, presence]) =>
    el("span", name + " " + presence, "chip " + presence)));
}

function dB(value) {
  return (value > 0 ? "+" : "") + value + " dB";
}

// A row to set a level (an output's, or the master's) by ear; filled in by showLevels.
function levelRow(name) {
  const row = el("form", undefined, "level");
  row.dataset.level = name;
  const input = el("input");
  input.type = "number";
  input.step = "0.5";
  input.min = "-60";
  input.max = name === "master" ? "0" : "12";
  input.setAttribute("aria-label", "the level of " + name + " in dB");
  const set = el("button", "Set");
  set.type = "submit";
  const back = button("Show file's", () => control("level", { output: name, db: "show" }));
  back.classList.add("back");
  row.addEventListener("submit", (event) => {
    event.preventDefault();
    control("level", { output: name, db: input.value });
  });
  row.append(el("span", name, "name"), input, el("span", "dB"), set, back, el("p", "", "note"));
  return row;
}

function showLevels(levels) {
  const names = Object.keys(levels || {});
  $("levels-section").hidden = names.length < 2;  // the master alone: a show with no outputs
  if (names.join("\n") !== levelsShown) {
    levelsShown = names.join("\n");
    $("levels").replaceChildren(...names.map(levelRow));
  }
  for (const row of $("levels").children) {
    const level = levels[row.dataset.level];
    const input = row.querySelector("input");
    // Only a level that changed on the box replaces what is in the field: a status that
    // comes while the technician types, or clicks Set, leaves their number alone.
    const value = String(level.live ?? level.show);
    if (row.dataset.shown !== value && document.activeElement !== input) {
      input.value = value;
      row.dataset.shown = value;
    }
    const said = ["show file: " + dB(level.show)];
    if (level.live !== null) said.push("set here: " + dB(level.live));
    if (level.db !== undefined) said.push("plays at " + dB(level.db));
    row.querySelector(".note").textContent = said.join(" · ");
    row.querySelector(".back").disabled = level.live === null;
  }
}

// The opening hours, the box's clock (when the hours wait for it) and the box's health.
function showBox(s) {
  const hours = s.hours;
  $("hours").hidden = !hours;
  $("hours").textContent = hours
    ? (hours.closed ? "Closed by the opening hours: " : "Opening hours: ") + hours.why + " (" + hours.zone + ")"
    : "";
  const untrusted = Boolean(hours) && !s.wall_clock.trusted;
  $("clock-untrusted").hidden = !untrusted;
  $("clock-untrusted").textContent = untrusted
    ? "The box's clock is not trusted (since " + localTime(s.wall_clock.since * 1000) + "): " + s.wall_clock.why
    : "";
  const problems = s.health ? s.health.findings.filter((f) => f.state === "problem") : [];
  $("health").hidden = !problems.length;
  $("health").replaceChildren(...problems.map((f) => el("li", f.check + ": " + f.says + ". " + f.fix)));
}

// A show across boxes (on its leader): every box, what it does, and its clock.
function showBoxes(boxes) {
  $("boxes-section").hidden = !boxes;
  if (!boxes) return;
  $("boxes").replaceChildren(...Object.entries(boxes).map(([name, b]) => {
    const row = el("div", undefined, "output box");
    row.dataset.box = name;
    const said = [b.state === "silent" ? "silent: its outputs failed" : b.state];
    for (const rival of b.rivals || []) said.push(rival + " leads too");
    if (b.state === "follows") said.push("heard " + b.heard_s_ago + " s ago");
    if (b.clock) said.push("clock " + (b.clock.offset_ms > 0 ? "+" : "") + b.clock.offset_ms.toFixed(2) + " ms" + (b.clock.flagged ? ", off" : ""));
    if (b.clock_error_ms !== null) said.push("its estimate ±" + b.clock_error_ms + " ms");
    const bad = b.state === "silent" || b.state === "unheard" || Boolean(b.clock && b.clock.flagged) || Boolean(b.rivals && b.rivals.length);
    row.append(el("span", name, "name"), el("span", said.join(" · "), bad ? "state bad" : "state"));
    row.append(el("span", b.outputs.join(", ") || "no outputs", "state"));
    return row;
  }));
}

function showStatus(s) {
  status = s;
  statusAt = performance.now();
  $("scene").textContent = s.scene;
  $("description").textContent = descriptions[s.scene] || "";
  const scenes = $("scenes");
  if (!scenePicked && document.activeElement !== scenes && Object.hasOwn(descriptions, s.scene)) {
    scenes.value = s.scene;
  }
  const go = $("go");
  go.disabled = !s.next;
  go.textContent = s.next ? "Next: " + s.next : "No next scene";
  $("go-why").hidden = Boolean(s.next);
  $("go-why").textContent = s.next ? "" : "Scene " + s.scene + " leads to no other scene: go to one by name.";
  $("paused").hidden = !s.paused;
  const pause = $("pause");
  pause.textContent = s.paused ? "Resume" : "Pause";
  pause.dataset.action = s.paused ? "resume" : "pause";
  $("fault").hidden = !s.fault;
  $("fault").textContent = s.fault ? "Fault: " + s.fault : "";
  showRoom(s);
  showHints(s);
  showBox(s);
  showBoxes(s.boxes);
  showLevels(s.levels);
  const ledsFailed = s.leds && s.leds !== "ok";
  $("leds-failed").hidden = !ledsFailed;
  $("leds-failed").textContent = ledsFailed ? "The LEDs stopped: " + s.leds : "";
  const chips = s.flags.map((f) => el("span", f, "chip"));
  for (const [name, count] of Object.entries(s.counters)) chips.push(el("span", name + " " + count, "chip"));
  $("flags").replaceChildren(...(chips.length ? chips : [el("span", "none", "none")]));
  $("outputs").replaceChildren(...Object.entries(s.outputs).map(([name, h]) => {
    const row = el("div", undefined, "output");
    let state = h.failed ? "failed: " + h.failed : (h.alive === false ? "restarting" : (h.playing ? "playing" : "idle"));
    if (h.delay) state += " · delayed " + (h.delay * 1000).toFixed(2) + " ms";
    if (h.trim) state += " · trimmed " + (h.trim * 1000).toFixed(3) + " ms";
    row.append(el("span", name, "name"), el("span", state, h.failed ? "state bad" : "state"));
    const meter = el("div", undefined, "meter");
    const bar = el("div", undefined, "bar");
    const db = typeof h.level === "number" ? h.level : -90;
    bar.style.width = Math.max(0, Math.min(100, (db + 60) / 60 * 100)) + "%";
    meter.append(bar);
    meter.title = typeof h.level === "number" ? h.level.toFixed(1) + " dBFS" : "silent";
    row.append(meter);
    return row;
  }));
  tick();
}

function showLeds(rows) {
  const cells = $("matrix").children;
  let i = 0;
  for (const row of rows) for (const on of row) {
    if (cells[i]) cells[i].classList.toggle("on", on === "1");
    i++;
  }
}

function showLog(lines) {
  const log = $("log");
  for (const line of lines) {
    const li = el("li", undefined, "level-" + (line.level || "info"));
    const data = Object.entries(line)
      .filter(([k]) => !["timestamp", "level", "event", "logger"].includes(k))
      .map(([k, v]) => k + "=" + (typeof v === "string" ? v : JSON.stringify(v)))
      .join(" ");
    const when = el("time", localTime(line.timestamp));
    when.dateTime = line.timestamp || "";
    when.title = line.timestamp || "";
    li.append(when, el("b", String(line.event)), el("span", data));
    log.prepend(li);
  }
  while (log.children.length > LOG_LINES) log.lastChild.remove();
}

function tick() {
  if (!status) return;
  const running = status.paused ? 0 : (performance.now() - statusAt) / 1000;
  $("seconds").textContent = clock(status.seconds + running);
  showClocks();
}

function follow() {
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const ws = new WebSocket(scheme + location.host + "/api/v1/ws");
  ws.onopen = () => { $("link").textContent = "live"; $("link").dataset.state = "live"; };
  ws.onmessage = (m) => {
    const news = JSON.parse(m.data);
    if (news.type === "status") showStatus(news.status);
    else if (news.type === "leds") showLeds(news.rows);
    else if (news.type === "log") showLog(news.lines);
  };
  ws.onclose = () => {
    $("link").textContent = "reconnecting…";
    $("link").dataset.state = "lost";
    setTimeout(start, 2000);
  };
}

async function start() {
  try {
    const r = await fetch("/api/v1/show");
    showShow(await r.json());
  } catch (e) {
    $("link").textContent = "reconnecting…";
    $("link").dataset.state = "lost";
    setTimeout(start, 2000);
    return;
  }
  follow();
}

document.addEventListener("DOMContentLoaded", () => {
  for (const b of document.querySelectorAll("button[data-action]")) {
    b.addEventListener("click", () => {
      const action = b.dataset.action;
      if (action === "reset" && !confirm("Reset the room? Every flag is cleared and the show starts over.")) return;
      control(action);
    });
  }
  $("emergency").addEventListener("click", () => control("emergency"));
  $("all-clear").addEventListener("click", () => {
    if (confirm("All clear? The relays stay safe until the show or you switch them; check the room first.")) control("all-clear");
  });
  $("scenes").addEventListener("change", () => { scenePicked = status === null || $("scenes").value !== status.scene; });
  $("hint-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = $("hint-text");
    if (text.value.trim() && await control("hint-text", { text: text.value })) text.value = "";
  });
  $("goto").addEventListener("click", () => {
    scenePicked = false;
    control("goto", { scene: $("scenes").value });
  });
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    localStorage.setItem(TOKEN_KEY, $("token").value);
    $("token-form").hidden = true;
    say("");
  });
  setInterval(tick, 100);  // a game clock's second changes on time, within a tenth
  start();
});
