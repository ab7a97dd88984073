/* Siaga operator console: draws every line from the server's snapshot, keeps it live
 * through Server-Sent Events (/api/console/events, EventSource reconnects by itself),
 * and sends the operator's actions to the JSON API with the session's CSRF token.
 * When the line service has stopped (snapshot.service.running false) or the server is out
 * of reach, a banner says so and what to do, and no line is shown as if it were reported.
 * Below the lines, the call-back list (/api/callbacks): polled every few seconds and
 * whenever a line changes, each entry marked done or unreachable with one click.
 *
 * Caller ID text comes from whoever dials 112: every value reaches the page through
 * textContent or an attribute set by the DOM API, never through innerHTML.
 * Hand-written, no framework, nothing fetched from anywhere but this box.
 */
"use strict";

(function () {
  const boot = JSON.parse(document.getElementById("console-boot").textContent);
  const messages = boot.messages;
  const choices = boot.dispositions;
  const choiceByKey = new Map(choices.filter((c) => c.key).map((c) => [c.key, c]));
  const choiceByValue = new Map(choices.map((c) => [c.value, c]));
  const CALL_STATES = new Set([
    "ringing", "screening", "rejecting", "announcing", "challenging", "holding",
    "operator_ringing", "connected",
  ]);
  const NOTE_SHOWN_MS = 8000;
  const RECONNECTING_AFTER_MS = 2500; // a stream's normal end and reconnect take about 1 s
  const SERVER_LOST_AFTER_MS = 5000;
  // The server sends a snapshot at least every 5 s (its clock is in it): a live stream
  // silent this long is a server that hangs.
  const SILENT_STREAM_MS = 15000;

  const linesBox = document.getElementById("lines");
  const liveBadge = document.getElementById("live");
  const messageBox = document.getElementById("console-message");
  const noLines = document.getElementById("no-lines");
  const serviceAlert = document.getElementById("service-alert");
  const serviceAlertText = document.getElementById("service-alert-text");
  const serverAlert = document.getElementById("server-alert");
  const serverAlertText = document.getElementById("server-alert-text");
  const baseTitle = document.title;

  let snapshot = boot.snapshot;
  let clockOffsetS = snapshot.now_ts - Date.now() / 1000; // server clock minus ours
  let selectedLine = null;
  const cards = new Map(); // line name -> {key, element}
  const sentRequests = new Map(); // request id -> request, until the snapshot has it
  const actionNotes = new Map(); // line name -> {text, error, until}
  let messageTimer = null;

  // ---------------------------------------------------------------- words and times

  function t(key, values) {
    let text = Object.prototype.hasOwnProperty.call(messages, key) ? messages[key] : key;
    for (const [name, value] of Object.entries(values || {})) {
      text = text.split("{" + name + "}").join(String(value));
    }
    return text;
  }

  function named(prefix, value) {
    const key = prefix + value;
    return Object.prototype.hasOwnProperty.call(messages, key) ? messages[key] : String(value);
  }

  function dispositionName(value) {
    const choice = choiceByValue.get(value);
    return choice ? choice.label : String(value);
  }

  function serverNow() {
    return Date.now() / 1000 + clockOffsetS;
  }

  function duration(seconds) {
    const total = Math.max(0, Math.floor(seconds));
    const hours = Math.floor(total / 3600);
    const minutes = Math.floor((total % 3600) / 60);
    const secs = String(total % 60).padStart(2, "0");
    return hours ? hours + ":" + String(minutes).padStart(2, "0") + ":" + secs : minutes + ":" + secs;
  }

  function serviceRunning() {
    return !snapshot.service || snapshot.service.running;
  }

  function dateAndClockOf(isoTime) {
    return String(isoTime).slice(0, 10) + " " + clockOf(isoTime);
  }

  function clockOf(isoTime) {
    // An ISO time from the server is already in the site's zone: keep its clock part.
    const clock = String(isoTime).slice(11, 19);
    return document.documentElement.lang === "id" ? clock.split(":").join(".") : clock;
  }

  // ---------------------------------------------------------------- building blocks

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function fact(list, term, value, className) {
    list.append(el("dt", null, term));
    const dd = el("dd", className || null);
    if (value instanceof Node) dd.append(value);
    else dd.textContent = String(value);
    list.append(dd);
    return dd;
  }

  function button(text, key, className, onClick) {
    const node = el("button", className, text);
    node.type = "button";
    if (key) {
      node.append(" ", el("kbd", null, key));
      node.setAttribute("aria-keyshortcuts", key);
    }
    node.addEventListener("click", (event) => {
      event.stopPropagation();
      onClick();
    });
    return node;
  }

  function hasNumber(caller, numberClass) {
    return Boolean(caller) && (numberClass === null || numberClass === "number");
  }

  function numberText(caller, raw, numberClass) {
    if (caller) return caller;
    if (numberClass) return named("number_class.", numberClass);
    return raw || t("console.no_number");
  }

  // ---------------------------------------------------------------- one line's card

  function callFacts(line) {
    const list = el("dl", "facts call-facts");
    const number = fact(list, t("console.number"), numberText(line.caller, line.caller_raw, line.number_class), "number");
    if (line.caller_raw !== null && line.caller_raw !== line.caller) {
      number.append(el("span", "raw muted", t("console.as_given", { raw: line.caller_raw })));
    }
    if (line.decision) {
      let decision = named("decision.", line.decision) + " / " + named("reason.", line.reason || "");
      if (line.rule) decision += " (" + line.rule + ")";
      fact(list, t("console.decision"), decision, "decision");
    }
    if (line.operator) fact(list, t("console.operator"), line.operator, "operator");
    return list;
  }

  function historyPanel(line) {
    const panel = el("div", "history");
    panel.append(el("h3", null, t("console.history")));
    const history = line.history;
    if (!history || !history.available) {
      panel.append(el("p", "no-history muted", t("console.no_history")));
    } else {
      panel.append(el("h4", null, t("console.earlier_calls")));
      const list = el("dl", "facts");
      fact(list, t("console.calls_24h"), history.calls_24h, "calls-24h");
      fact(list, t("console.calls_30d"), history.calls_30d, "calls-30d");
      panel.append(list);
      panel.append(el("h4", null, t("console.past_dispositions")));
      const verdicts = el("ul", "past-dispositions");
      for (const verdict of history.dispositions) {
        const item = el("li", null, dispositionName(verdict.disposition));
        item.append(" ", el("span", "muted", verdict.at_text + (verdict.operator ? " · " + verdict.operator : "")));
        verdicts.append(item);
      }
      if (!history.dispositions.length) verdicts.append(el("li", "muted", t("console.none")));
      panel.append(verdicts);
      panel.append(el("h4", null, t("console.restrictions")));
      const rules = el("ul", "restrictions");
      for (const rule of history.rules) {
        const values = {
          kind: named("rule_kind.", rule.kind),
          action: named("decision.", rule.action),
          time: rule.expires_text || "",
          reason: rule.reason || "-",
        };
        rules.append(el("li", null, t(rule.expires_text ? "console.rule_until" : "console.rule_forever", values)));
      }
      if (!history.rules.length) rules.append(el("li", "muted", t("console.none")));
      panel.append(rules);
    }
    const screening = el("dl", "facts");
    fact(screening, t("console.challenge"), named("challenge.", line.challenge_result || "none"), "challenge-result");
    const voice = line.voice_heard === null ? t("console.not_listened") : t(line.voice_heard ? "console.yes" : "console.no");
    fact(screening, t("console.voice"), voice, "voice-heard");
    panel.append(screening);
    if (line.unverified) panel.append(el("p", "badge unverified", t("console.unverified")));
    return panel;
  }

  function dispositionButtons(line, callId) {
    const box = el("div", "dispositions");
    const genuine = el("div", "disposition-group genuine");
    genuine.append(el("span", "group-label", t("console.genuine")));
    const other = el("div", "disposition-group other");
    other.append(el("span", "group-label", t("console.other_kinds")));
    for (const choice of choices) {
      const node = button(choice.label, choice.key, "disposition", () => recordDisposition(line.line, callId, choice.value));
      node.dataset.disposition = choice.value;
      (choice.genuine ? genuine : other).append(node);
    }
    box.append(genuine, other);
    return box;
  }

  function blockButtons(line, callId, caller, numberClass) {
    const box = el("div", "block-actions");
    if (!boot.can_block || !hasNumber(caller, numberClass)) return box;
    for (const span of boot.block_durations) {
      const node = button(t("console.block_" + span), null, "danger block", () => block(line.line, callId, span));
      node.dataset.duration = span;
      box.append(node);
    }
    return box;
  }

  function endedPanel(line) {
    const call = line.recent_call;
    const panel = el("div", "ended-call");
    const number = numberText(call.caller, call.caller_raw, call.number_class);
    panel.append(el("p", null, t("console.ended_call", { number: number, time: clockOf(call.ended_at) })));
    if (call.disposition) {
      panel.append(el("p", "recorded", t("console.recorded", { disposition: dispositionName(call.disposition) })));
    }
    panel.append(dispositionButtons(line, call.call_id));
    panel.append(blockButtons(line, call.call_id, call.caller, call.number_class));
    return panel;
  }

  function callBody(main, line) {
    const body = el("div", "call-body");
    body.append(main, historyPanel(line));
    return body;
  }

  function waitingMain(line) {
    const main = el("div", "call-main");
    main.append(callFacts(line));
    const waiting = el("p", "waiting");
    waiting.dataset.since = String(line.waiting_since_ts || line.since_ts);
    waiting.dataset.template = "console.waiting";
    main.append(waiting);
    const actions = el("div", "actions");
    actions.append(button(t("console.answer"), "A", "primary answer", () => answer(line.line, line.call_id)));
    main.append(actions, blockButtons(line, line.call_id, line.caller, line.number_class));
    return main;
  }

  function connectedMain(line) {
    const main = el("div", "call-main");
    main.append(callFacts(line), dispositionButtons(line, line.call_id));
    const actions = el("div", "actions");
    actions.append(button(t("console.hang_up"), "H", "hang-up", () => hangUp(line.line, line.call_id)));
    main.append(actions, blockButtons(line, line.call_id, line.caller, line.number_class));
    return main;
  }

  function renderCard(line) {
    // With the line service stopped, its last report is no state: the line is unknown.
    const reported = serviceRunning();
    const card = el("section", "card line-card tone-" + (reported ? line.tone : "unknown"));
    card.dataset.line = line.line;
    card.dataset.state = reported ? line.state : "not_reported";
    if (line.line === selectedLine) card.classList.add("selected");
    card.addEventListener("click", () => select(line.line));
    const waiting = reported && line.state === "operator_ringing" && line.call_id !== null;
    const connected = reported && line.state === "connected" && line.call_id !== null;
    const ended = Boolean(line.recent_call) && !connected;
    if (waiting || connected || ended) card.classList.add("wide");

    const head = el("header", "line-head");
    head.append(el("h2", "line-name", t("console.line", { line: line.line })));
    head.append(el("span", "state", reported ? named("state.", line.state) : t("state.not_reported")));
    if (reported && !waiting) {
      const since = el("span", "since muted");
      since.dataset.since = String(line.since_ts);
      since.dataset.template = "console.for";
      head.append(since);
    }
    card.append(head);
    if (line.degraded && line.degraded.length) {
      // The line answers but its modem refused a setting: e.g. no caller ID.
      const words = line.degraded.map((kind) => named("state.degraded.", kind)).join(", ");
      card.append(el("p", "degraded", t("state.degraded", { what: words })));
    }

    if (waiting) card.append(callBody(waitingMain(line), line));
    else if (connected) card.append(callBody(connectedMain(line), line));
    else if (reported && line.call_id !== null && CALL_STATES.has(line.state)) card.append(callFacts(line));
    if (ended) card.append(endedPanel(line));
    if (reported && line.last_error && (line.state === "failed" || line.state === "down")) {
      const error = el("p", "muted", t("console.last_error", { error: line.last_error_text || line.last_error }));
      error.title = line.last_error;  // as the modem said it, for the technician
      card.append(error);
    }
    card.append(el("p", "note request-note"));
    card.append(el("p", "note action-note"));
    return card;
  }

  // ---------------------------------------------------------------- drawing

  function canonical(value) {
    // JSON with sorted keys: the page's first snapshot and the stream's order keys apart.
    return JSON.stringify(value, (name, item) => {
      if (!item || typeof item !== "object" || Array.isArray(item)) return item;
      const sorted = {};
      for (const key of Object.keys(item).sort()) sorted[key] = item[key];
      return sorted;
    });
  }

  function showServiceAlert() {
    const service = snapshot.service;
    const down = !serviceRunning();
    serviceAlert.hidden = !down;
    linesBox.classList.toggle("not-reported", down);
    if (down) {
      serviceAlertText.textContent = service.known && service.heartbeat_at
        ? t("console.service_down_text", { time: dateAndClockOf(service.heartbeat_at) })
        : t("console.service_never_text");
    }
    showLive();
  }

  function render() {
    showServiceAlert();
    const seen = new Set();
    let index = 0;
    for (const line of snapshot.lines) {
      seen.add(line.line);
      const key = canonical(line) + "|" + (line.line === selectedLine) + "|" + serviceRunning();
      let entry = cards.get(line.line);
      if (!entry || entry.key !== key) {
        const element = renderCard(line);
        if (entry) entry.element.replaceWith(element);
        entry = { key: key, element: element };
        cards.set(line.line, entry);
      }
      if (linesBox.children[index] !== entry.element) {
        linesBox.insertBefore(entry.element, linesBox.children[index] || null);
      }
      index += 1;
    }
    for (const [name, entry] of cards) {
      if (!seen.has(name)) {
        entry.element.remove();
        cards.delete(name);
      }
    }
    noLines.hidden = snapshot.lines.length > 0;
    const waiting = snapshot.lines.filter((line) => line.state === "operator_ringing").length;
    document.title = (waiting ? "(" + waiting + ") " : "") + baseTitle;
    callsWaiting = waiting;
    tick();
  }

  // ---------------------------------------------------------------- the chime

  // While a call waits for an operator, the console chimes every CHIME_EVERY_MS: two short
  // tones made with the Web Audio API (no sound file, nothing fetched). A browser lets a
  // page make sound only once the user has acted on it, so the operator turns the chime
  // on with its button; the choice is kept in this browser, and after a reload the first
  // click anywhere on the page lets the sound out again.
  const CHIME_EVERY_MS = 4000;
  const CHIME_KEY = "siaga.console.chime";
  const chimeToggle = document.getElementById("chime-toggle");
  let chimeOn = window.localStorage.getItem(CHIME_KEY) === "on";
  let audio = null;
  let callsWaiting = 0;
  let lastChimeAt = 0;

  function showChime() {
    chimeToggle.textContent = t(chimeOn ? "console.chime_on" : "console.chime_off");
    chimeToggle.setAttribute("aria-pressed", String(chimeOn));
    chimeToggle.classList.toggle("primary", chimeOn);
  }

  function wakeAudio() {
    if (!chimeOn) return;
    if (audio === null) audio = new AudioContext();
    if (audio.state === "suspended") audio.resume();
  }

  function chime() {
    wakeAudio();
    const start = audio.currentTime;
    [[0, 880], [0.25, 660]].forEach(([offset, hertz]) => {
      const tone = audio.createOscillator();
      const volume = audio.createGain();
      tone.frequency.value = hertz;
      volume.gain.setValueAtTime(0.25, start + offset);
      volume.gain.exponentialRampToValueAtTime(0.001, start + offset + 0.2);
      tone.connect(volume).connect(audio.destination);
      tone.start(start + offset);
      tone.stop(start + offset + 0.2);
    });
  }

  function chimeWhileWaiting() {
    if (!chimeOn || callsWaiting === 0 || Date.now() - lastChimeAt < CHIME_EVERY_MS) return;
    lastChimeAt = Date.now();
    chime();
  }

  chimeToggle.addEventListener("click", () => {
    chimeOn = !chimeOn;
    window.localStorage.setItem(CHIME_KEY, chimeOn ? "on" : "off");
    showChime();
    lastChimeAt = 0;
    chimeWhileWaiting();
  });
  document.addEventListener("click", wakeAudio);
  showChime();

  function latestRequest(lineName) {
    let latest = null;
    const all = snapshot.requests.concat(Array.from(sentRequests.values()));
    for (const request of all) {
      if (request.line !== lineName) continue;
      if (!latest || request.id > latest.id || (request.id === latest.id && request.result)) latest = request;
    }
    return latest;
  }

  function requestText(request) {
    let what = named("request.", request.kind);
    if (request.disposition) what += " (" + dispositionName(request.disposition) + ")";
    if (request.result) {
      const known = Object.prototype.hasOwnProperty.call(messages, "result." + request.result);
      const text = known ? t("result." + request.result, { what: what }) : what + ": " + request.result;
      return { text: text, error: request.result !== "ok" };
    }
    if (serverNow() - request.requested_ts >= boot.not_answering_s) {
      const key = request.kind === "disposition" ? "request.saved_for_later" : "request.not_answering";
      return { text: t(key, { what: what }), error: request.kind !== "disposition" };
    }
    return { text: t("request.pending", { what: what }), error: false };
  }

  function setNote(node, note) {
    node.textContent = note ? note.text : "";
    node.classList.toggle("error", Boolean(note && note.error));
    node.hidden = !note;
  }

  function tick() {
    watchServer();
    chimeWhileWaiting();
    const now = serverNow();
    for (const node of linesBox.querySelectorAll("[data-since]")) {
      node.textContent = t(node.dataset.template, { duration: duration(now - Number(node.dataset.since)) });
    }
    for (const [name, entry] of cards) {
      const request = latestRequest(name);
      const fresh = request && now - request.requested_ts < 120;
      setNote(entry.element.querySelector(".request-note"), fresh ? requestText(request) : null);
      const action = actionNotes.get(name);
      setNote(entry.element.querySelector(".action-note"), action && action.until > Date.now() ? action : null);
    }
  }

  function apply(next) {
    snapshot = next;
    clockOffsetS = next.now_ts - Date.now() / 1000;
    for (const request of next.requests) sentRequests.delete(request.id);
    for (const [id, request] of sentRequests) {
      if (serverNow() - request.requested_ts > 120) sentRequests.delete(id);
    }
    render();
  }

  function select(lineName) {
    if (selectedLine === lineName) return;
    selectedLine = lineName;
    render();
  }

  function say(text) {
    messageBox.textContent = text;
    messageBox.hidden = false;
    clearTimeout(messageTimer);
    messageTimer = setTimeout(() => { messageBox.hidden = true; }, NOTE_SHOWN_MS);
  }

  function noteFor(lineName, text, error) {
    actionNotes.set(lineName, { text: text, error: error, until: Date.now() + NOTE_SHOWN_MS });
    tick();
  }

  // ---------------------------------------------------------------- actions

  function refusal(data) {
    const code = data && typeof data.detail === "string" ? data.detail : "";
    if (Object.prototype.hasOwnProperty.call(messages, code)) return messages[code];
    if (data && typeof data.message === "string") return data.message;
    return t("error.invalid_input");
  }

  // POST `body` as JSON with the session's CSRF token. Resolves to {ok, data} (data: the
  // parsed answer, or null), or to null when the network failed; after a 401 it goes to
  // the login page and resolves to {ok: false, gone: true}.
  async function sendJson(url, body) {
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": boot.csrf },
        body: JSON.stringify(body),
      });
    } catch (error) {
      return null;
    }
    if (response.status === 401) {
      window.location.href = "/login?next=%2Fconsole";
      return { ok: false, data: null, gone: true };
    }
    let data = null;
    try {
      data = await response.json();
    } catch (error) {
      data = null;
    }
    return { ok: response.ok, data: data, gone: false };
  }

  async function post(path, body, lineName) {
    const answer = await sendJson("/api/console/" + path, body);
    if (answer === null) {
      noteFor(lineName, t("error.network"), true);
      return null;
    }
    if (answer.gone) return null;
    if (!answer.ok) {
      noteFor(lineName, refusal(answer.data), true);
      return null;
    }
    actionNotes.delete(lineName);
    return answer.data;
  }

  function track(request) {
    if (request && typeof request.id === "number") {
      sentRequests.set(request.id, request);
      tick();
    }
  }

  async function answer(lineName, callId) {
    selectedLine = lineName;
    render();
    track(await post("answer", { line: lineName, call_id: callId }, lineName));
  }

  async function hangUp(lineName, callId) {
    track(await post("hang_up", { line: lineName, call_id: callId }, lineName));
  }

  async function recordDisposition(lineName, callId, value) {
    track(await post("disposition", { line: lineName, call_id: callId, disposition: value }, lineName));
  }

  async function block(lineName, callId, span) {
    const data = await post("block", { line: lineName, call_id: callId, duration: span }, lineName);
    if (data && data.rule) {
      const values = { number: data.rule.pattern, time: data.rule.expires_text || "" };
      noteFor(lineName, t(data.created ? "console.blocked" : "console.block_exists", values), false);
    }
  }

  // ---------------------------------------------------------------- keys

  function callOf(line) {
    if (line.state === "connected" && line.call_id !== null) return line.call_id;
    return line.recent_call ? line.recent_call.call_id : null;
  }

  function actionLine() {
    const lines = snapshot.lines;
    const chosen = lines.find((line) => line.line === selectedLine);
    if (chosen && callOf(chosen) !== null) return chosen;
    const mine = lines.filter((line) => line.state === "connected" && line.operator === boot.me);
    if (mine.length === 1) return mine[0];
    const open = lines.filter((line) => callOf(line) !== null);
    return open.length === 1 ? open[0] : null;
  }

  function answerLongestWaiting() {
    const waiting = snapshot.lines
      .filter((line) => line.state === "operator_ringing" && line.call_id !== null)
      .sort((a, b) => (a.waiting_since_ts || a.since_ts) - (b.waiting_since_ts || b.since_ts));
    if (!waiting.length) {
      say(t("console.nothing_waiting"));
      return;
    }
    answer(waiting[0].line, waiting[0].call_id);
  }

  function onKey(event) {
    if (event.ctrlKey || event.altKey || event.metaKey || event.repeat) return;
    const target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
    const key = event.key.length === 1 ? event.key.toUpperCase() : "";
    if (key === "A") {
      event.preventDefault();
      answerLongestWaiting();
      return;
    }
    const choice = choiceByKey.get(key);
    if (key !== "H" && !choice) return;
    event.preventDefault();
    const line = actionLine();
    if (!line) {
      say(t("console.pick_line"));
      return;
    }
    if (key === "H") {
      if (line.state === "connected") hangUp(line.line, line.call_id);
      return;
    }
    recordDisposition(line.line, callOf(line), choice.value);
  }

  // ---------------------------------------------------------------- the call-back list

  const callbackList = document.getElementById("callbacks-list");
  const callbackTable = document.getElementById("callbacks-table");
  const callbackEmpty = document.getElementById("callbacks-empty");
  const callbackCount = document.getElementById("callbacks-count");
  const callbackMore = document.getElementById("callbacks-more");
  const callbackMessage = document.getElementById("callbacks-message");
  const callbackFlood = document.getElementById("callbacks-flood");
  const floodBanner = document.getElementById("flood-banner");
  const floodBannerText = document.getElementById("flood-banner-text");
  const floodLeft = document.getElementById("callbacks-flood-left");
  const floodLeftText = document.getElementById("callbacks-flood-left-text");
  const dismissFlood = document.getElementById("callbacks-dismiss-flood");
  let floodShown = null; // the flood_entries of the last poll
  const callbackRows = new Map(); // entry id -> {key, element}
  const markedCallbacks = new Map(); // entry id -> when marked here (a late poll must not bring it back)
  const MARKED_KEPT_MS = 30000;
  let callbacksLoading = false;
  let callbacksLoadedAt = 0;
  let callbackMessageTimer = null;

  function sayAboutCallbacks(text, error) {
    callbackMessage.textContent = text;
    callbackMessage.classList.toggle("error", error);
    callbackMessage.hidden = false;
    clearTimeout(callbackMessageTimer);
    callbackMessageTimer = setTimeout(() => { callbackMessage.hidden = true; }, NOTE_SHOWN_MS);
  }

  // Each cell carries its column's name, shown above it on a phone (`table.stack`).
  const callbackHeadings = [...callbackTable.querySelectorAll("thead th")].map((th) => th.textContent);

  function callbackCell(row, className, text) {
    const cell = el("td", className, text);
    cell.dataset.label = callbackHeadings[row.children.length] || "";
    row.append(cell);
    return cell;
  }

  function callbackRow(entry) {
    const row = el("tr", "callback");
    row.dataset.callback = String(entry.id);
    row.dataset.reason = entry.reason;
    const number = callbackCell(row, "number", entry.caller);
    if (entry.caller_raw !== null && entry.caller_raw !== entry.caller) {
      number.append(el("br"), el("small", "raw muted", t("callbacks.as_given", { raw: entry.caller_raw })));
    }
    const time = callbackCell(row, "nowrap when", entry.last_text);
    if (entry.attempts > 1) time.append(el("br"), el("small", "muted", t("callbacks.first", { time: entry.first_text })));
    callbackCell(row, "line", entry.line || "-");
    callbackCell(row, "reason", entry.reason_text);
    callbackCell(row, "heard", entry.heard_text);
    callbackCell(row, "attempts", entry.attempts);
    callbackCell(row, "past-calls", entry.history_text || "-");
    const mark = callbackCell(row, "callback-actions");
    const note = el("input", "callback-note");
    note.type = "text";
    note.maxLength = 500;
    note.placeholder = t("callbacks.note");
    note.setAttribute("aria-label", t("callbacks.note_for", { number: entry.caller }));
    const done = button(t("callbacks.done"), null, "primary callback-done", () => markCallback(entry, "done", row));
    const unreachable = button(t("callbacks.unreachable"), null, "callback-unreachable", () => markCallback(entry, "unreachable", row));
    const buttons = el("div", "actions");
    buttons.append(done, unreachable);
    mark.append(note, buttons);
    return row;
  }

  function renderCallbacks(data) {
    for (const [id, at] of markedCallbacks) {
      if (Date.now() - at > MARKED_KEPT_MS) markedCallbacks.delete(id);
    }
    const entries = data.entries.filter((entry) => !markedCallbacks.has(entry.id));
    const seen = new Set();
    let index = 0;
    for (const entry of entries) {
      seen.add(entry.id);
      const key = canonical(entry);
      let shown = callbackRows.get(entry.id);
      if (!shown || shown.key !== key) {
        const element = callbackRow(entry);
        if (shown) {
          // Keep what the operator was typing: a poll must never wipe a note.
          const before = shown.element.querySelector(".callback-note");
          const after = element.querySelector(".callback-note");
          after.value = before.value;
          const focused = document.activeElement === before;
          shown.element.replaceWith(element);
          if (focused) after.focus();
        }
        shown = { key: key, element: element };
        callbackRows.set(entry.id, shown);
      }
      if (callbackList.children[index] !== shown.element) {
        callbackList.insertBefore(shown.element, callbackList.children[index] || null);
      }
      index += 1;
    }
    for (const [id, shown] of callbackRows) {
      if (!seen.has(id)) {
        shown.element.remove();
        callbackRows.delete(id);
      }
    }
    callbackFlood.hidden = !data.flood_active;
    floodBanner.hidden = !data.flood_active;
    floodBannerText.textContent = data.flood_active
      ? t("callbacks.flood_text", { reason: data.flood_reason })
      : "";
    showFloodLeft(data.flood_entries);
    const open = Math.max(0, data.open_count - (data.entries.length - entries.length));
    callbackCount.textContent = t("callbacks.count", { count: open });
    callbackCount.className = "pill " + (open ? "bad" : "ok");
    callbackTable.hidden = entries.length === 0;
    callbackEmpty.hidden = entries.length > 0;
    callbackMore.hidden = open <= entries.length;
    callbackMore.textContent = t("callbacks.more", { shown: entries.length, count: open });
  }

  async function loadCallbacks() {
    if (callbacksLoading) return;
    callbacksLoading = true;
    try {
      const response = await fetch("/api/callbacks", { credentials: "same-origin" });
      if (response.status === 401) {
        window.location.href = "/login?next=%2Fconsole";
        return;
      }
      if (response.ok) renderCallbacks(await response.json());
    } catch (error) {
      // The next poll tries again; the line cards say whether the server is reachable.
    } finally {
      callbacksLoading = false;
      callbacksLoadedAt = Date.now();
    }
  }

  async function markCallback(entry, status, row) {
    const note = row.querySelector(".callback-note").value;
    const buttons = row.querySelectorAll("button");
    for (const node of buttons) node.disabled = true;
    const answer = await sendJson("/api/callbacks/" + entry.id, { status: status, note: note });
    if (answer === null) {
      for (const node of buttons) node.disabled = false;
      sayAboutCallbacks(t("error.network"), true);
      return;
    }
    if (answer.gone) return;
    if (!answer.ok) {
      for (const node of buttons) node.disabled = false;
      sayAboutCallbacks(refusal(answer.data), true);
      loadCallbacks(); // marked by someone else meanwhile: it leaves the list
      return;
    }
    markedCallbacks.set(entry.id, Date.now());
    const shown = callbackRows.get(entry.id);
    if (shown) shown.element.remove();
    callbackRows.delete(entry.id);
    sayAboutCallbacks(t("callbacks.marked_" + status, { number: entry.caller }), false);
    loadCallbacks();
  }

  function showFloodLeft(flood) {
    // After a flood: how many entries it left, and (for supervisors) one button for them all.
    floodShown = flood || null;
    floodLeft.hidden = !floodShown;
    if (!floodShown) return;
    floodLeftText.textContent = floodShown.text;
    dismissFlood.hidden = !floodShown.may_dismiss;
    dismissFlood.textContent = t("callbacks.dismiss_flood", { count: floodShown.dismissable });
  }

  async function dismissFloodEntries() {
    const flood = floodShown;
    if (!flood) return;
    const question = t("callbacks.dismiss_confirm", {
      count: flood.dismissable, started: flood.started_text, ended: flood.ended_text,
    });
    if (!window.confirm(question)) return;
    dismissFlood.disabled = true;
    const answer = await sendJson("/api/callbacks/flood/dismiss", {
      started_ts: flood.started_ts, ended_ts: flood.ended_ts,
    });
    dismissFlood.disabled = false;
    if (answer === null) {
      sayAboutCallbacks(t("error.network"), true);
      return;
    }
    if (answer.gone) return;
    sayAboutCallbacks(answer.ok ? answer.data.text : refusal(answer.data), !answer.ok);
    loadCallbacks();
  }

  dismissFlood.addEventListener("click", dismissFloodEntries);

  function callbacksMayBeStale() {
    // A line changing state is when callers are released: look again, at most once a second.
    if (Date.now() - callbacksLoadedAt > 1000) loadCallbacks();
  }

  // ---------------------------------------------------------------- live updates

  let source = null;
  let streamState = "connecting";
  let lostSince = null; // when the stream last failed, until it is live again
  let lastEventAt = Date.now();

  function showLive() {
    // The stream may be live while the line service is dead: then the badge says that.
    // data-state is the stream's own; data-service says whether the lines are reported.
    const serviceDown = streamState === "live" && !serviceRunning();
    liveBadge.dataset.state = streamState;
    liveBadge.dataset.service = serviceRunning() ? "running" : "down";
    const key = { live: "console.live", connecting: "console.connecting" }[streamState] || "console.reconnecting";
    liveBadge.textContent = t(serviceDown ? "console.service_down_badge" : key);
  }

  function setLive(state) {
    streamState = state;
    if (state === "live") {
      lastEventAt = Date.now();
      lostSince = null;
      serverAlert.hidden = true;
    }
    showLive();
  }

  function streamFailed() {
    if (lostSince === null) lostSince = Date.now();
    watchServer();
  }

  function watchServer() {
    // EventSource retries every second while the server is down, each try one more
    // "error": judge by how long the stream has been gone, not by any one error.
    if (lostSince === null && streamState === "live" && Date.now() - lastEventAt > SILENT_STREAM_MS) {
      lostSince = lastEventAt;
    }
    if (lostSince === null) return;
    const gone = Date.now() - lostSince;
    if (gone >= RECONNECTING_AFTER_MS && streamState !== "reconnecting") setLive("reconnecting");
    if (gone >= SERVER_LOST_AFTER_MS && serverAlert.hidden) {
      const since = new Date(lostSince).toLocaleTimeString(document.documentElement.lang || undefined);
      serverAlertText.textContent = t("console.server_lost_text", { time: since });
      serverAlert.hidden = false;
      linesBox.classList.add("not-reported"); // greyed until a snapshot comes again
    }
  }

  function connect() {
    source = new EventSource("/api/console/events");
    source.addEventListener("open", () => setLive("live"));
    source.addEventListener("snapshot", (event) => {
      apply(JSON.parse(event.data));
      setLive("live");
      callbacksMayBeStale();
    });
    source.addEventListener("logout", () => {
      source.close();
      window.location.href = "/login?next=%2Fconsole";
    });
    source.addEventListener("error", () => {
      streamFailed();
      if (source.readyState === EventSource.CLOSED) {
        // Refused (401, 5xx): EventSource gives up; see whether we are still logged in.
        setLive("reconnecting");
        source.close();
        setTimeout(checkThenConnect, 3000);
      }
      // Else the stream ended (a restart, its time limit): EventSource reconnects in a
      // second, and `watchServer` speaks up if it does not.
    });
  }

  async function checkThenConnect() {
    try {
      const response = await fetch("/api/me", { credentials: "same-origin" });
      if (response.status === 401) {
        window.location.href = "/login?next=%2Fconsole";
        return;
      }
    } catch (error) {
      setTimeout(checkThenConnect, 3000);
      return;
    }
    connect();
  }

  document.addEventListener("keydown", onKey);
  render();
  setInterval(tick, 1000);
  connect();
  loadCallbacks();
  setInterval(() => { if (!document.hidden) loadCallbacks(); }, boot.callbacks_poll_s * 1000);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) loadCallbacks(); });
})();
