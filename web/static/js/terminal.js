/* examhall seat terminal: the exam screen (R-CLOCK-1…9, R-SEC-2, R-SCORE-4/7, R-INC-4).
 *
 * Driven by the JSON API under /api/v1/attempt and its websocket. Answers are never lost:
 * every change gets a per-attempt sequence number and is written to localStorage before it is
 * sent; it stays there until the server acknowledges it (or refuses it for good). The clock
 * shows only what the server says, ticking locally from the last message with
 * performance.now() (never the PC's wall clock).
 *
 * localStorage keys (per attempt id):
 *   examhall.attempt.<id>.pending  {position: {position, response, flagged, seq}} not yet acknowledged
 *   examhall.attempt.<id>.seq      the last sequence number used
 *   examhall.attempt.<id>.current  the question on screen (to come back to it after a reload)
 */
(function () {
  "use strict";

  var app = document.getElementById("terminal-app");
  if (!app) return;

  // --- strings, time formatting, small helpers ---------------------------------------------------

  var STRINGS = {};
  try {
    STRINGS = JSON.parse(document.getElementById("terminal-strings").textContent || "{}");
  } catch (e) {
    STRINGS = {};
  }

  function t(key, params) {
    var text = Object.prototype.hasOwnProperty.call(STRINGS, key) ? STRINGS[key] : key;
    if (!params) return text;
    return text.replace(/%\((\w+)\)s/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole;
    });
  }

  function $(id) {
    return document.getElementById(id);
  }

  function csrfToken() {
    if (app.dataset.csrf) return app.dataset.csrf;
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["x-csrftoken"] || "";
    } catch (e) {
      return "";
    }
  }

  var TIMEZONE = app.dataset.timezone || undefined;

  /** An ISO instant from the server as HH:MM in the site's time zone. */
  function siteTime(iso) {
    if (!iso) return "";
    var options = { hour: "2-digit", minute: "2-digit", hour12: false };
    if (TIMEZONE) options.timeZone = TIMEZONE;
    try {
      return new Date(iso).toLocaleTimeString("zh-CN", options);
    } catch (e) {
      delete options.timeZone;
      return new Date(iso).toLocaleTimeString("zh-CN", options);
    }
  }

  function hms(seconds) {
    var s = Math.max(0, Math.floor(seconds));
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    var sec = s % 60;
    return h + ":" + (m < 10 ? "0" : "") + m + ":" + (sec < 10 ? "0" : "") + sec;
  }

  function show(el, visible) {
    if (el) el.hidden = !visible;
  }

  function keys(obj) {
    return Object.keys(obj);
  }

  // --- localStorage (may be full or disabled: memory still works) --------------------------------

  var store = {
    get: function (key, fallback) {
      try {
        var raw = window.localStorage.getItem(key);
        return raw === null ? fallback : JSON.parse(raw);
      } catch (e) {
        return fallback;
      }
    },
    set: function (key, value) {
      try {
        window.localStorage.setItem(key, JSON.stringify(value));
        return true;
      } catch (e) {
        return false;
      }
    },
    remove: function (key) {
      try {
        window.localStorage.removeItem(key);
      } catch (e) {
        /* nothing to do */
      }
    },
  };

  // --- state ----------------------------------------------------------------------------------

  var attemptId = null;
  var last = null; // the last attempt state from the server
  var anchor = null; // {remaining, serverNow, startsAt, perf}: the clock as of the last message
  var phase = "";
  var started = false;
  var paper = null; // {sections, items}
  var paperId = null; // the server's id of the paper on screen (it changes if the chief replaces it, R-CLOCK-9)
  var saved = {}; // position -> {response, flagged, seq} as acknowledged by the server
  var pending = {}; // position -> {position, response, flagged, seq} not yet acknowledged
  var sent = {}; // "pos:seq" -> {flagged, at}: what was sent and when (resend after a silence)
  var errors = {}; // position -> refusal message of that question's last change
  var seq = 0;
  var current = 1;
  var done = false; // the receipt (or a final message) is on screen
  var screenName = "loading";
  var paperLoading = false;
  var lastStartButtonShown = false;
  var endedTimer = null;

  var ws = null;
  var wsOpen = false;
  var backoff = 0;
  var BACKOFF_MS = [1000, 2000, 5000];
  var lastMessageAt = 0;
  var httpOk = true;

  var WAITING_PHASES = ["not_open", "check_in", "waiting"];
  var WORKING_PHASES = ["running", "final_minutes"];

  function storageKey(name) {
    return "examhall.attempt." + attemptId + "." + name;
  }

  function persistPending() {
    if (attemptId === null) return;
    if (keys(pending).length) store.set(storageKey("pending"), pending);
    else store.remove(storageKey("pending"));
  }

  function loadLocal() {
    var stored = store.get(storageKey("pending"), {});
    if (stored && typeof stored === "object") {
      keys(stored).forEach(function (k) {
        var e = stored[k];
        if (e && typeof e.position === "number" && typeof e.seq === "number" && typeof e.response === "string") {
          pending[e.position] = {
            position: e.position,
            response: e.response,
            flagged: !!e.flagged,
            seq: e.seq,
          };
        }
      });
    }
    seq = Math.max(seq, Number(store.get(storageKey("seq"), 0)) || 0, maxPendingSeq());
    var cur = Number(store.get(storageKey("current"), 1));
    if (cur >= 1) current = cur;
  }

  function maxPendingSeq() {
    var m = 0;
    keys(pending).forEach(function (k) {
      if (pending[k].seq > m) m = pending[k].seq;
    });
    return m;
  }

  function nextSeq() {
    seq += 1;
    store.set(storageKey("seq"), seq);
    return seq;
  }

  function forgetLocal() {
    if (attemptId === null) return;
    store.remove(storageKey("pending"));
    store.remove(storageKey("seq"));
    store.remove(storageKey("current"));
  }

  // --- HTTP ----------------------------------------------------------------------------------

  function api(method, path, body) {
    var init = {
      method: method,
      credentials: "same-origin",
      cache: "no-store",
      headers: { accept: "application/json" },
    };
    if (method !== "GET") init.headers["x-csrftoken"] = csrfToken();
    if (body !== undefined) {
      init.headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(
      function (res) {
        setHttpOk(true);
        return res.text().then(function (text) {
          var data = null;
          try {
            data = text ? JSON.parse(text) : null;
          } catch (e) {
            data = null;
          }
          return { ok: res.ok, status: res.status, data: data };
        });
      },
      function () {
        setHttpOk(false);
        return { ok: false, status: 0, data: null };
      }
    );
  }

  function setHttpOk(value) {
    if (httpOk !== value) {
      httpOk = value;
      renderConnection();
    }
  }

  /** A refusal of the attempt itself (wrong seat, not a terminal, login ended…). */
  function attemptRefused(res) {
    if (res.status === 401) {
      sessionEnded();
      return true;
    }
    if (res.status === 403 && res.data && res.data.code) {
      showMessage(res.data.message || "", true);
      return true;
    }
    return false;
  }

  function sessionEnded() {
    showMessage(t("session_ended"), true);
  }

  // --- the clock ------------------------------------------------------------------------------

  function elapsedSeconds() {
    return anchor ? (performance.now() - anchor.perf) / 1000 : 0;
  }

  var lastSyncAsked = 0;

  function tick() {
    if (!anchor || !last) return;
    var c = last.clock;
    var caption = t("time_left");
    var value = anchor.remaining;
    var sub = "";
    var untilStart = (anchor.startsAt - anchor.serverNow) / 1000 - elapsedSeconds();
    if (done) {
      value = 0;
    } else if (!started && WAITING_PHASES.concat(["paused"]).indexOf(phase) >= 0 && untilStart > 0) {
      caption = t("time_to_start");
      value = untilStart;
      sub = t("starts_at", { time: siteTime(c.starts_at) });
    } else if (phase === "paused") {
      value = anchor.remaining; // the clock is stopped (R-CLOCK-6)
    } else if (WORKING_PHASES.indexOf(phase) >= 0 || (phase === "waiting" && !started)) {
      value = anchor.remaining - elapsedSeconds();
    } else {
      value = Math.max(0, anchor.remaining);
    }
    if (started && c.end_time && !done) sub = t("ends_at", { time: siteTime(c.end_time) });
    $("clock-caption").textContent = caption;
    $("clock").textContent = hms(value);
    if (phase === "paused") $("paused-clock").textContent = hms(value);
    $("clock-sub").textContent = sub;
    // The server decides; ask it soon after a boundary the local tick has reached.
    var now = performance.now();
    var crossed =
      (WORKING_PHASES.indexOf(phase) >= 0 && (value <= 0 || crossing(value, 1800) || crossing(value, 900))) ||
      (!started && WAITING_PHASES.indexOf(phase) >= 0 && untilStart <= 0 && !c.may_start);
    if (crossed && now - lastSyncAsked > 2000) {
      lastSyncAsked = now;
      sync();
    }
  }

  function crossing(value, boundary) {
    return value <= boundary && value > boundary - 1.5 && anchor.remaining > boundary;
  }

  // --- applying the server's state ------------------------------------------------------------

  function applyState(s) {
    if (!s || !s.clock) return;
    if (attemptId === null) {
      attemptId = s.attempt_id;
      loadLocal();
      renderPending();
    }
    last = s;
    if (paper && s.paper_id && paperId !== null && s.paper_id !== paperId) {
      // R-CLOCK-9: the chief gave this candidate a new paper; the old answers do not apply to it.
      paper = null;
      saved = {};
      pending = {};
      persistPending();
      paperId = s.paper_id;
      loadPaper();
    }
    if (paperId === null && s.paper_id) paperId = s.paper_id;
    var c = s.clock;
    anchor = {
      remaining: Number(c.remaining_s) || 0,
      serverNow: Date.parse(c.server_now),
      startsAt: Date.parse(c.starts_at),
      perf: performance.now(),
    };
    var previous = phase;
    phase = c.phase;
    started = started || s.state === "running" || s.state === "paused" || WORKING_PHASES.indexOf(phase) >= 0;
    var chip = $("phase");
    chip.dataset.phase = phase;
    chip.textContent = t("phase_" + phase);
    app.dataset.phase = phase;

    if (s.receipt_code) {
      showReceipt(s.receipt_code);
      return;
    }
    showErrata(s.errata || []);

    if (phase === "submitted" || phase === "ended") {
      // R-CLOCK-5: the server hands in at E; fetch the receipt as soon as it exists.
      showMessage(t("time_up"), false);
      if (!endedTimer) {
        endedTimer = setTimeout(function () {
          endedTimer = null;
          fetchState();
        }, 1500);
      }
    } else if (phase === "withdrawn") {
      finish(t("withdrawn"));
    } else if (phase === "rescheduled") {
      finish(t("rescheduled"));
    } else if (phase === "barred") {
      finish(t("barred"));
    } else if (started) {
      if (paper) showScreen("exam");
      else loadPaper();
    } else {
      showWaiting(c);
    }

    renderPaused();
    renderWarning(c);
    renderSubmit(c);
    if (previous === "paused" && phase !== "paused") flushPending(true);
    tick();
  }

  function showWaiting(c) {
    showScreen("wait");
    var status = $("wait-status");
    var button = $("btn-start");
    if (c.may_start) {
      status.textContent =
        t("may_start") + (c.start_deadline ? " " + t("start_deadline", { time: siteTime(c.start_deadline) }) : "");
      show(button, true);
      if (!lastStartButtonShown) {
        lastStartButtonShown = true;
        if (!anyDialogOpen()) button.focus();
      }
    } else {
      status.textContent = t("waiting_for_start");
      show(button, false);
      lastStartButtonShown = false;
    }
  }

  function renderPaused() {
    var overlay = $("paused");
    var paused = phase === "paused" && !done;
    var wasHidden = overlay.hidden;
    show(overlay, paused);
    ["screen-exam", "screen-wait"].forEach(function (id) {
      $(id).inert = paused;
    });
    if (paused && wasHidden && !anyDialogOpen()) overlay.focus();
    if (!paused && !wasHidden && screenName === "exam") focusHeading();
  }

  function renderWarning(c) {
    var banner = $("warning");
    var on = !!c.warning && !done;
    var text = on ? t("warning_text", { time: siteTime(c.end_time) }) : "";
    // Only on a change, so that screen readers announce it once (R-CLOCK-4).
    if (banner.textContent !== text) banner.textContent = text;
    show(banner, on);
  }

  function renderSubmit(c) {
    var button = $("btn-submit");
    var reason = $("submit-reason");
    var may = !!c.may_submit && !done && phase !== "paused";
    button.disabled = !may;
    if (may) reason.textContent = "";
    else if (phase === "paused") reason.textContent = t("submit_paused");
    else if (c.submit_opens_at) reason.textContent = t("submit_opens", { time: siteTime(c.submit_opens_at) });
    else reason.textContent = "";
  }

  function fetchState() {
    return api("GET", "/api/v1/attempt").then(function (res) {
      if (res.ok && res.data) applyState(res.data);
      else if (res.status) attemptRefused(res);
      return res;
    });
  }

  function sync() {
    if (wsOpen && ws) {
      try {
        ws.send(JSON.stringify({ t: "sync" }));
        return;
      } catch (e) {
        /* fall back to HTTP */
      }
    }
    fetchState();
  }

  // --- screens ----------------------------------------------------------------------------------

  function showScreen(name, again) {
    if (screenName === name && !again) return;
    screenName = name;
    ["loading", "wait", "exam", "receipt", "message"].forEach(function (n) {
      show($("screen-" + n), n === name);
    });
    if (name === "exam") focusHeading();
    else if (name === "wait") $("wait-title").focus();
    else if (name === "receipt") $("receipt-title").focus();
    else if (name === "message") $("message-title").focus();
  }

  function showMessage(text, withLogin) {
    $("message-text").textContent = text;
    var link = $("message-login");
    link.textContent = t("log_in_again");
    show($("message-link"), !!withLogin);
    showScreen("message");
  }

  /** A final state without a receipt: nothing more is sent from here. */
  function finish(text) {
    done = true;
    app.classList.add("finished");
    pending = {};
    persistPending();
    renderPending();
    show($("warning"), false);
    showMessage(text, false);
  }

  function showReceipt(code) {
    done = true;
    app.classList.add("finished");
    $("receipt-code").textContent = code;
    closeDialog($("confirm-dialog"));
    pending = {};
    forgetLocal();
    renderPending();
    show($("warning"), false);
    show($("paused"), false);
    $("btn-submit").disabled = true;
    showScreen("receipt");
    if (ws) {
      var sock = ws;
      ws = null;
      wsOpen = false;
      try {
        sock.close();
      } catch (e) {
        /* already closed */
      }
    }
    renderConnection();
  }

  // --- starting and loading the paper -------------------------------------------------------------

  function startExam() {
    var button = $("btn-start");
    var error = $("start-error");
    button.disabled = true;
    show(error, false);
    api("POST", "/api/v1/attempt/start").then(function (res) {
      button.disabled = false;
      if (res.ok && res.data) {
        started = true;
        var opened = res.data.paper && !paper ? res.data.paper : null;
        if (opened) paperLoading = true; // the paper came with the answer: no second request
        applyState(res.data);
        if (opened) {
          paperLoading = false;
          if (!paper) receivePaper(opened);
        }
      } else if (!attemptRefused(res)) {
        error.textContent = (res.data && res.data.message) || t("network_error");
        show(error, true);
        if (res.status) fetchState();
      }
    });
  }

  function loadPaper() {
    if (paperLoading || paper) return;
    paperLoading = true;
    if (screenName !== "exam") {
      $("screen-loading").querySelector("p").textContent = t("loading");
      showScreen("loading");
    }
    api("GET", "/api/v1/attempt/paper").then(function (res) {
      paperLoading = false;
      if (res.ok && res.data && res.data.items) {
        receivePaper(res.data);
      } else if (res.status === 409 && res.data && res.data.code === "closed") {
        fetchState();
      } else if (!attemptRefused(res)) {
        // Sealed, not started yet or no network: try again shortly.
        if (res.data && res.data.message) showProblem(res.data.message);
        setTimeout(function () {
          if (!paper && !done) loadPaper();
        }, 3000);
      }
    });
  }

  function receivePaper(data) {
    paper = { sections: data.sections || [], items: data.items || [] };
    // Acknowledgements may arrive before the paper (pending answers are resent at once after a
    // reload): keep any acknowledged answer newer than the paper's copy.
    var acknowledged = saved;
    saved = {};
    var answers = data.answers || {};
    keys(answers).forEach(function (k) {
      var a = answers[k];
      saved[Number(k)] = { response: a.response || "", flagged: !!a.flagged, seq: a.seq || 0 };
    });
    keys(acknowledged).forEach(function (k) {
      if (!saved[k] || saved[k].seq < acknowledged[k].seq) saved[k] = acknowledged[k];
    });
    // Sequence numbers continue after everything the server has (another PC, R-CLOCK-7).
    seq = Math.max(seq, Number(data.last_seq) || 0, Number(store.get(storageKey("seq"), 0)) || 0, maxPendingSeq());
    store.set(storageKey("seq"), seq);
    keys(pending).forEach(function (k) {
      var s = saved[k];
      if (s && s.seq >= pending[k].seq) delete pending[k];
      else if (!itemAt(Number(k))) delete pending[k];
    });
    persistPending();
    if (current < 1 || current > paper.items.length) current = 1;
    showProblem("");
    buildNavigator();
    renderQuestion(false);
    showScreen("exam", true);
    renderPending();
    flushPending(true);
  }

  function refreshSaved() {
    api("GET", "/api/v1/attempt/paper").then(function (res) {
      if (!(res.ok && res.data && res.data.answers)) return;
      var answers = res.data.answers;
      keys(answers).forEach(function (k) {
        var a = answers[k];
        var pos = Number(k);
        if (!saved[pos] || saved[pos].seq <= a.seq) saved[pos] = { response: a.response, flagged: !!a.flagged, seq: a.seq };
        if (pending[pos] && pending[pos].seq <= a.seq) delete pending[pos];
      });
      persistPending();
      renderAll();
    });
  }

  var refreshTimer = null;
  function refreshSavedSoon() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(function () {
      refreshTimer = null;
      refreshSaved();
    }, 800);
  }

  function showProblem(text) {
    var el = $("problem");
    el.textContent = text || "";
    show(el, !!text);
  }

  // --- questions ---------------------------------------------------------------------------------

  function itemAt(position) {
    return paper ? paper.items[position - 1] || null : null;
  }

  function answerOf(position) {
    return pending[position] || saved[position] || { response: "", flagged: false, seq: 0 };
  }

  function optionsOf(item) {
    if (item.type === "judge") {
      return [
        { letter: "T", text: t("judge_true"), mark: "√" },
        { letter: "F", text: t("judge_false"), mark: "×" },
      ];
    }
    return (item.options || []).map(function (o) {
      return { letter: o.letter, text: o.text, mark: o.letter };
    });
  }

  function renderQuestion(focus) {
    var item = itemAt(current);
    if (!item) return;
    var section = paper.sections[item.section];
    var sectionText = section ? section.title : "";
    if (section && section.points_each) sectionText += " (" + t("points_each", { points: section.points_each }) + ")";
    $("q-section").textContent = sectionText;
    $("q-heading").textContent = t("question_of", { n: item.position, total: paper.items.length });
    $("q-hint").textContent =
      item.type === "judge" ? t("judge_hint") : item.type === "multiple" ? t("multiple_hint") : t("single_hint");
    $("q-stem").textContent = item.stem;

    var list = $("q-option-list");
    list.textContent = "";
    var kind = item.type === "multiple" ? "checkbox" : "radio";
    optionsOf(item).forEach(function (o, index) {
      var id = "opt-" + o.letter;
      var label = document.createElement("label");
      label.className = "option";
      label.htmlFor = id;
      var input = document.createElement("input");
      input.type = kind;
      input.name = "answer";
      input.id = id;
      input.value = o.letter;
      input.setAttribute("data-testid", "option-" + o.letter);
      input.addEventListener("change", onOptionChange);
      var letter = document.createElement("span");
      letter.className = "letter";
      if (item.type === "judge") letter.setAttribute("aria-hidden", "true");
      letter.textContent = o.mark;
      var text = document.createElement("span");
      text.className = "option-text";
      text.textContent = o.text;
      var digit = document.createElement("kbd");
      digit.className = "option-key";
      digit.setAttribute("aria-hidden", "true");
      digit.textContent = String(index + 1);
      label.appendChild(input);
      label.appendChild(letter);
      label.appendChild(text);
      label.appendChild(digit);
      list.appendChild(label);
    });
    $("q-keys").textContent = keysHint(item);
    $("btn-prev").disabled = current <= 1;
    $("btn-next").disabled = current >= paper.items.length;
    syncAnswerView();
    renderNavigator();
    store.set(storageKey("current"), current);
    if (focus) focusHeading();
  }

  function keysHint(item) {
    if (item.type === "judge") return t("keys_judge");
    var letters = optionsOf(item).map(function (o) {
      return o.letter;
    });
    var params = {
      letters: letters[0] + "–" + letters[letters.length - 1],
      digits: "1–" + letters.length,
    };
    return letters.indexOf("F") >= 0 ? t("keys_choice_m", params) : t("keys_choice", params);
  }

  function focusHeading() {
    var heading = $("q-heading");
    if (heading && !anyDialogOpen() && $("paused").hidden) heading.focus();
  }

  /** The inputs, flag button and status of the question on screen, from the latest local answer. */
  function syncAnswerView() {
    var item = itemAt(current);
    if (!item) return;
    var answer = answerOf(current);
    var chosen = answer.response || "";
    var inputs = $("q-option-list").querySelectorAll("input");
    for (var i = 0; i < inputs.length; i++) {
      var checked = chosen.indexOf(inputs[i].value) >= 0;
      inputs[i].checked = checked;
      inputs[i].parentNode.classList.toggle("chosen", checked);
    }
    var flag = $("btn-flag");
    flag.setAttribute("aria-pressed", answer.flagged ? "true" : "false");
    flag.classList.toggle("on", !!answer.flagged);
    $("flag-text").textContent = answer.flagged ? t("unflag") : t("flag");
    var status = $("q-status");
    if (pending[current]) {
      status.textContent = t("saving");
      status.dataset.state = "saving";
    } else if (saved[current] && saved[current].response) {
      status.textContent = "✓ " + t("saved");
      status.dataset.state = "saved";
    } else if (saved[current]) {
      status.textContent = t("saved") + " · " + t("not_answered");
      status.dataset.state = "saved";
    } else {
      status.textContent = t("not_answered");
      status.dataset.state = "none";
    }
    var error = $("q-error");
    error.textContent = errors[current] || "";
    show(error, !!errors[current]);
  }

  function go(position) {
    if (!paper) return;
    var target = Math.min(Math.max(1, position), paper.items.length);
    if (target === current) return;
    current = target;
    renderQuestion(true);
  }

  function onOptionChange() {
    var item = itemAt(current);
    if (!item) return;
    var inputs = $("q-option-list").querySelectorAll("input");
    var letters = [];
    for (var i = 0; i < inputs.length; i++) if (inputs[i].checked) letters.push(inputs[i].value);
    letters.sort();
    change(current, letters.join(""), !!answerOf(current).flagged);
  }

  function choose(letter) {
    var item = itemAt(current);
    if (!item) return;
    var answer = answerOf(current);
    var response;
    if (item.type === "multiple") {
      var set = (answer.response || "").split("").filter(function (l) {
        return l;
      });
      var at = set.indexOf(letter);
      if (at >= 0) set.splice(at, 1);
      else set.push(letter);
      set.sort();
      response = set.join("");
    } else {
      response = letter;
      if (answer.response === response) return;
    }
    change(current, response, !!answer.flagged);
  }

  function toggleFlag() {
    if (!itemAt(current)) return;
    var answer = answerOf(current);
    change(current, answer.response || "", !answer.flagged);
  }

  // --- the navigator ---------------------------------------------------------------------------

  function buildNavigator() {
    var grid = $("nav-grid");
    grid.textContent = "";
    paper.items.forEach(function (item) {
      var li = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "nav-cell";
      button.setAttribute("data-testid", "nav-" + item.position);
      button.dataset.position = String(item.position);
      var num = document.createElement("span");
      num.className = "num";
      num.textContent = String(item.position);
      var mark = document.createElement("span");
      mark.className = "mark";
      mark.setAttribute("aria-hidden", "true");
      button.appendChild(num);
      button.appendChild(mark);
      button.addEventListener("click", function () {
        go(item.position);
      });
      li.appendChild(button);
      grid.appendChild(li);
    });
  }

  function renderNavigator() {
    if (!paper) return;
    var cells = $("nav-grid").querySelectorAll("button.nav-cell");
    var answered = 0;
    var flagged = 0;
    for (var i = 0; i < cells.length; i++) {
      var pos = Number(cells[i].dataset.position);
      var a = answerOf(pos);
      var isAnswered = !!a.response;
      var isFlagged = !!a.flagged;
      var isCurrent = pos === current;
      if (isAnswered) answered++;
      if (isFlagged) flagged++;
      cells[i].classList.toggle("answered", isAnswered);
      cells[i].classList.toggle("flagged", isFlagged);
      cells[i].classList.toggle("current", isCurrent);
      cells[i].classList.toggle("unsent", !!pending[pos]);
      cells[i].dataset.state = isAnswered ? "answered" : "unanswered";
      cells[i].dataset.answered = isAnswered ? "true" : "false";
      cells[i].dataset.flagged = isFlagged ? "true" : "false";
      if (isCurrent) cells[i].setAttribute("aria-current", "step");
      else cells[i].removeAttribute("aria-current");
      cells[i].querySelector(".mark").textContent = (isAnswered ? "✓" : "") + (isFlagged ? "⚑" : "");
      var words = [t("nav_label", { n: pos }), isAnswered ? t("nav_answered") : t("nav_unanswered")];
      if (isFlagged) words.push(t("nav_flagged"));
      if (isCurrent) words.push(t("nav_current"));
      cells[i].setAttribute("aria-label", words.join(", "));
    }
    var cur = $("nav-grid").querySelector("button.current");
    if (cur) keepInView($("nav-grid"), cur.parentNode);
    $("nav-count").textContent =
      answered + " / " + paper.items.length + " " + t("nav_answered") + (flagged ? " · " + flagged + " ⚑" : "");
  }

  /** Scroll the navigator (not the page) so that the current question's cell shows. */
  function keepInView(box, el) {
    var top = el.offsetTop;
    var bottom = top + el.offsetHeight;
    if (top < box.scrollTop) box.scrollTop = top - 4;
    else if (bottom > box.scrollTop + box.clientHeight) box.scrollTop = bottom - box.clientHeight + 4;
  }

  function renderAll() {
    if (paper) {
      syncAnswerView();
      renderNavigator();
    }
    renderPending();
  }

  // --- saving answers ------------------------------------------------------------------------------

  /** Every change: sequence number, stored locally first, then sent (R-SEC-5: nothing is lost). */
  function change(position, response, flagged) {
    if (done || attemptId === null) return;
    var entry = { position: position, response: response, flagged: !!flagged, seq: nextSeq() };
    pending[position] = entry;
    persistPending();
    delete errors[position];
    renderAll();
    send(entry);
  }

  function renderPending() {
    var count = keys(pending).length;
    var el = $("pending");
    el.dataset.count = String(count);
    el.textContent = count ? t("pending_count", { count: count }) : "";
    el.classList.toggle("has-pending", count > 0);
  }

  function canSend() {
    return !done && attemptId !== null && started && phase !== "paused";
  }

  function send(entry) {
    if (!canSend()) return;
    var key = entry.position + ":" + entry.seq;
    if (sent[key] && sent[key].inflight) return; // a PUT of this very change is on its way
    if (wsOpen && ws) {
      try {
        ws.send(
          JSON.stringify({
            t: "save",
            position: entry.position,
            response: entry.response,
            flagged: entry.flagged,
            seq: entry.seq,
          })
        );
        sent[key] = { flagged: entry.flagged, at: performance.now(), via: "ws" };
        return;
      } catch (e) {
        /* fall back to HTTP */
      }
    }
    sent[key] = { flagged: entry.flagged, at: performance.now(), via: "http", inflight: true };
    api("PUT", "/api/v1/attempt/answers/" + entry.position, {
      response: entry.response,
      seq: entry.seq,
      flagged: entry.flagged,
    }).then(function (res) {
      if (sent[key]) sent[key].inflight = false;
      if (res.data && res.data.t === "ack") handleAck(res.data);
      else if (res.data && res.data.t === "refused") handleRefused(res.data);
      else if (res.status) attemptRefused(res);
      // status 0 (no network) or 5xx: the entry stays pending and the resend timer retries.
    });
  }

  /** Resend what is pending: everything (after a reconnect, a resume, a reload) or what went unanswered. */
  function flushPending(all) {
    if (!canSend()) return;
    var now = performance.now();
    keys(pending).forEach(function (k) {
      var entry = pending[k];
      var info = sent[entry.position + ":" + entry.seq];
      if (all || !info || (!info.inflight && now - info.at > 8000)) send(entry);
    });
  }

  /** A save sent over the websocket that has had no answer for ``ms``: the socket is probably dead. */
  function unackedOverWs(ms) {
    var now = performance.now();
    return keys(sent).some(function (k) {
      return sent[k].via === "ws" && now - sent[k].at > ms;
    });
  }

  function flagOfSent(position, s) {
    var info = sent[position + ":" + s];
    if (info) return info.flagged;
    if (pending[position] && pending[position].seq === s) return pending[position].flagged;
    return saved[position] ? saved[position].flagged : false;
  }

  function forgetSent(position, upTo) {
    keys(sent).forEach(function (k) {
      var parts = k.split(":");
      if (Number(parts[0]) === position && Number(parts[1]) <= upTo) delete sent[k];
    });
  }

  function handleAck(msg) {
    var pos = msg.position;
    if (typeof pos !== "number") return;
    if (!saved[pos] || saved[pos].seq <= msg.seq) {
      saved[pos] = { response: msg.response || "", flagged: flagOfSent(pos, msg.seq), seq: msg.seq };
    }
    if (pending[pos] && pending[pos].seq <= msg.seq) {
      delete pending[pos];
      persistPending();
    }
    forgetSent(pos, msg.seq);
    renderAll();
  }

  function handleRefused(msg) {
    var pos = msg.position;
    var code = msg.code;
    if (typeof pos !== "number") return;
    var entry = pending[pos];
    var covers = entry && typeof msg.seq === "number" && entry.seq <= msg.seq;
    if (code === "paused" || code === "not_started") {
      // Kept; sent again when the exam continues.
      forgetSent(pos, msg.seq);
      if (code === "paused") sync();
      return;
    }
    if (code === "closed" || code === "ended") {
      pending = {};
      persistPending();
      renderAll();
      fetchState();
      return;
    }
    if (code === "stale") {
      // The server holds this or a newer answer: ask which.
      if (covers) {
        delete pending[pos];
        persistPending();
      }
      forgetSent(pos, msg.seq);
      refreshSavedSoon();
      renderAll();
      return;
    }
    // A refusal for good (bad option, out-of-date page…): show it at the question.
    if (covers) {
      delete pending[pos];
      persistPending();
    }
    forgetSent(pos, msg.seq);
    errors[pos] = msg.message || code;
    renderAll();
  }

  /** Resolve when nothing is pending, or after ``ms``. */
  function waitForAcks(ms) {
    flushPending(true);
    var until = performance.now() + ms;
    return new Promise(function (resolve) {
      (function check() {
        if (!keys(pending).length || performance.now() >= until) resolve(keys(pending).length);
        else setTimeout(check, 150);
      })();
    });
  }

  // --- the websocket --------------------------------------------------------------------------------

  function connect() {
    if (done) return;
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/v1/attempt/ws";
    var sock;
    try {
      sock = new WebSocket(url);
    } catch (e) {
      scheduleReconnect();
      return;
    }
    ws = sock;
    sock.onopen = function () {
      if (ws !== sock) return;
      wsOpen = true;
      httpOk = true;
      backoff = 0;
      lastMessageAt = performance.now();
      renderConnection();
      // What went over the old socket is resent; PUTs still on their way are left alone.
      keys(sent).forEach(function (k) {
        if (!sent[k].inflight) delete sent[k];
      });
      flushPending(true);
    };
    sock.onmessage = function (event) {
      if (ws !== sock) return;
      lastMessageAt = performance.now();
      if (!event.data) return;
      var msg;
      try {
        msg = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      if (!msg || typeof msg !== "object") return;
      if (msg.t === "state") applyState(msg);
      else if (msg.t === "ack") handleAck(msg);
      else if (msg.t === "refused") handleRefused(msg);
    };
    sock.onclose = function (event) {
      if (ws !== sock) return;
      dropSocket();
      if (event.code === 1008) fetchState(); // refused: find out why (login ended, other seat…)
      else fetchState();
    };
    sock.onerror = function () {
      /* onclose follows */
    };
  }

  function dropSocket() {
    var sock = ws;
    ws = null;
    wsOpen = false;
    if (sock) {
      sock.onopen = sock.onmessage = sock.onclose = sock.onerror = null;
      try {
        sock.close();
      } catch (e) {
        /* already closed */
      }
    }
    renderConnection();
    scheduleReconnect();
  }

  var reconnectTimer = null;
  function scheduleReconnect() {
    if (done || reconnectTimer) return;
    var delay = BACKOFF_MS[Math.min(backoff, BACKOFF_MS.length - 1)];
    backoff += 1;
    reconnectTimer = setTimeout(function () {
      reconnectTimer = null;
      connect();
    }, delay);
  }

  function renderConnection() {
    var offline = !done && !wsOpen && !httpOk;
    show($("offline"), offline);
    app.dataset.online = offline ? "false" : "true";
  }

  // --- errata (R-INC-4) --------------------------------------------------------------------------

  var erratumOpen = null;
  var acknowledged = {};

  function showErrata(errata) {
    if (erratumOpen !== null) return;
    var next = errata.filter(function (e) {
      return !e.acknowledged && !acknowledged[e.id];
    })[0];
    if (!next) return;
    erratumOpen = next.id;
    $("erratum-text").textContent = next.text;
    $("erratum-time").textContent = t("erratum_published", { time: siteTime(next.published_at) });
    show($("erratum-error"), false);
    openDialog($("erratum-dialog"));
    $("btn-erratum-ack").focus();
  }

  function acknowledgeErratum() {
    if (erratumOpen === null) return;
    var id = erratumOpen;
    var button = $("btn-erratum-ack");
    button.disabled = true;
    api("POST", "/api/v1/attempt/errata/" + id + "/ack").then(function (res) {
      button.disabled = false;
      if (res.ok || (res.data && res.data.code === "no_erratum")) {
        acknowledged[id] = true;
        erratumOpen = null;
        closeDialog($("erratum-dialog"));
        if (last) showErrata(last.errata || []);
        if (erratumOpen === null && screenName === "exam") focusHeading();
      } else if (!attemptRefused(res)) {
        var error = $("erratum-error");
        error.textContent = (res.data && res.data.message) || t("network_error");
        show(error, true);
      }
    });
  }

  // --- dialogs -------------------------------------------------------------------------------------

  function openDialog(dialog) {
    if (dialog.open) return;
    if (typeof dialog.showModal === "function") dialog.showModal();
    else dialog.setAttribute("open", "");
  }

  function closeDialog(dialog) {
    if (!dialog.open) return;
    if (typeof dialog.close === "function") dialog.close();
    else dialog.removeAttribute("open");
  }

  function anyDialogOpen() {
    return $("confirm-dialog").open || $("erratum-dialog").open;
  }

  /** Keep Tab inside an open dialog. */
  function trapFocus(dialog, event) {
    var focusable = dialog.querySelectorAll("button:not([disabled]), a[href], input:not([disabled])");
    if (!focusable.length) return;
    var first = focusable[0];
    var lastEl = focusable[focusable.length - 1];
    if (event.shiftKey && document.activeElement === first) {
      lastEl.focus();
      event.preventDefault();
    } else if (!event.shiftKey && document.activeElement === lastEl) {
      first.focus();
      event.preventDefault();
    } else if (!dialog.contains(document.activeElement)) {
      first.focus();
      event.preventDefault();
    }
  }

  // --- handing in (R-CLOCK-3, R-SCORE-4/7) ------------------------------------------------------------

  function openConfirm() {
    if (!paper || done || $("btn-submit").disabled) return;
    var unanswered = [];
    var flagged = [];
    paper.items.forEach(function (item) {
      var a = answerOf(item.position);
      if (!a.response) unanswered.push(item.position);
      if (a.flagged) flagged.push(item.position);
    });
    var body = $("confirm-body");
    body.textContent = "";
    function line(text, testid) {
      var p = document.createElement("p");
      p.textContent = text;
      if (testid) p.setAttribute("data-testid", testid);
      body.appendChild(p);
    }
    if (unanswered.length) {
      line(t("confirm_unanswered", { count: unanswered.length, list: unanswered.join(", ") }), "confirm-unanswered");
    } else {
      line(t("confirm_all_answered"), "confirm-unanswered");
    }
    if (flagged.length) {
      line(t("confirm_flagged", { count: flagged.length, list: flagged.join(", ") }), "confirm-flagged");
    }
    line(t("confirm_final"));
    $("confirm-status").textContent = "";
    $("btn-confirm-yes").disabled = false;
    openDialog($("confirm-dialog"));
    $("btn-confirm-no").focus();
  }

  function cancelConfirm() {
    closeDialog($("confirm-dialog"));
    if (screenName === "exam") $("btn-submit").focus();
  }

  function submitPaper() {
    var yes = $("btn-confirm-yes");
    var status = $("confirm-status");
    yes.disabled = true;
    status.textContent = t("flushing");
    waitForAcks(6000).then(function (left) {
      if (left) {
        // Handing in now would lose these answers: wait for the connection instead.
        status.textContent = t("still_pending", { count: left });
        yes.disabled = false;
        return;
      }
      status.textContent = t("submitting");
      api("POST", "/api/v1/attempt/submit", { confirm: true }).then(function (res) {
        if (res.ok && res.data && res.data.receipt_code) {
          showReceipt(res.data.receipt_code);
        } else if (res.data && res.data.code === "closed") {
          closeDialog($("confirm-dialog"));
          fetchState();
        } else if (res.status === 401) {
          closeDialog($("confirm-dialog"));
          sessionEnded();
        } else {
          status.textContent = (res.data && res.data.message) || t("network_error");
          yes.disabled = false;
          if (res.status) fetchState();
        }
      });
    });
  }

  // --- keyboard -----------------------------------------------------------------------------------

  function onKey(event) {
    if (event.key === "Tab") {
      var open = $("erratum-dialog").open ? $("erratum-dialog") : $("confirm-dialog").open ? $("confirm-dialog") : null;
      if (open) trapFocus(open, event);
      else if (!$("paused").hidden) event.preventDefault();
      return;
    }
    if (event.ctrlKey || event.altKey || event.metaKey) return;
    if (screenName !== "exam" || anyDialogOpen() || !$("paused").hidden || done || !paper) return;
    var target = event.target;
    if (target && (target.tagName === "TEXTAREA" || (target.tagName === "INPUT" && target.type === "text"))) return;
    var key = event.key;
    if (key === "ArrowLeft") {
      event.preventDefault();
      go(current - 1);
      return;
    }
    if (key === "ArrowRight") {
      event.preventDefault();
      go(current + 1);
      return;
    }
    if (!key || key.length !== 1) return;
    var item = itemAt(current);
    if (!item) return;
    var up = key.toUpperCase();
    var letters = optionsOf(item).map(function (o) {
      return o.letter;
    });
    var chosen = null;
    if (item.type === "judge") {
      if (up === "T" || key === "1") chosen = "T";
      else if (up === "F" || key === "2") chosen = "F";
    } else if (/^[1-8]$/.test(key) && Number(key) <= letters.length) {
      chosen = letters[Number(key) - 1];
    } else if (letters.indexOf(up) >= 0) {
      chosen = up;
    }
    if (chosen) {
      event.preventDefault();
      choose(chosen);
      return;
    }
    if (up === "M" || (up === "F" && letters.indexOf("F") < 0)) {
      event.preventDefault();
      toggleFlag();
    }
  }

  // --- wiring --------------------------------------------------------------------------------------

  $("btn-start").addEventListener("click", startExam);
  $("btn-prev").addEventListener("click", function () {
    go(current - 1);
  });
  $("btn-next").addEventListener("click", function () {
    go(current + 1);
  });
  $("btn-flag").addEventListener("click", toggleFlag);
  $("btn-submit").addEventListener("click", openConfirm);
  $("btn-confirm-no").addEventListener("click", cancelConfirm);
  $("btn-confirm-yes").addEventListener("click", submitPaper);
  $("btn-erratum-ack").addEventListener("click", acknowledgeErratum);
  // A notice must be acknowledged: Escape does not close it.
  $("erratum-dialog").addEventListener("cancel", function (event) {
    event.preventDefault();
  });
  window.addEventListener("keydown", onKey, true);

  setInterval(tick, 250);
  // Resend what went unanswered; drop a silent websocket (the server ticks every 10 seconds).
  setInterval(function () {
    if (wsOpen && (performance.now() - lastMessageAt > 25000 || unackedOverWs(6000))) dropSocket();
    flushPending(false);
  }, 3000);
  // Keep the login alive and resynchronise even when the websocket is fine.
  setInterval(function () {
    if (!done) fetchState();
  }, 60000);
  window.addEventListener("online", function () {
    if (!wsOpen) {
      backoff = 0;
      fetchState();
    }
  });

  fetchState().then(function (res) {
    if (!res.ok && !res.status) {
      showMessage(t("network_error"), false);
      var retry = setInterval(function () {
        fetchState().then(function (r) {
          if (r.ok) clearInterval(retry);
        });
      }, 3000);
    }
    connect();
  });
})();
