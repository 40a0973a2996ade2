/* The invigilator's room console (console/room.html): ticks the server clock and the countdowns
 * between the server's updates, shows whether the live connection is up, and keeps the check-in
 * field ready for the next scan. The server stays the authority: every websocket frame that
 * carries the room clock resets the offset to the server's time. No inline script (CSP). */
(function () {
  "use strict";

  var offset = 0; // server time minus this PC's time, in ms
  var lastServerNow = null;
  var formatter = null;

  function root() { return document.querySelector("[data-testid='room-console']"); }

  function syncOffset() {
    var clock = document.getElementById("room-clock");
    if (!clock) return;
    var stamp = clock.getAttribute("data-server-now");
    if (stamp && stamp !== lastServerNow) {
      var t = Date.parse(stamp);
      if (!isNaN(t)) { offset = t - Date.now(); lastServerNow = stamp; }
    }
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function duration(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    return Math.floor(s / 3600) + ":" + pad(Math.floor((s % 3600) / 60)) + ":" + pad(s % 60);
  }

  function wallClock(ms) {
    if (formatter === null) {
      var el = root();
      var zone = el ? el.getAttribute("data-site-tz") : null;
      try {
        formatter = new Intl.DateTimeFormat("en-GB", { timeZone: zone || undefined, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
      } catch (e) {
        formatter = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
      }
    }
    return formatter.format(new Date(ms));
  }

  function tick() {
    var now = Date.now() + offset;
    var clocks = document.querySelectorAll("[data-server-clock]");
    for (var i = 0; i < clocks.length; i++) clocks[i].textContent = wallClock(now);
    var counters = document.querySelectorAll("[data-until]");
    for (var j = 0; j < counters.length; j++) {
      var until = Date.parse(counters[j].getAttribute("data-until"));
      if (!isNaN(until)) counters[j].textContent = duration(until - now);
    }
  }

  function setLive(state) {
    var el = document.getElementById("live-state");
    if (!el) return;
    el.setAttribute("data-state", state);
    var text = el.getAttribute(state === "live" ? "data-text-live" : "data-text-lost");
    if (text) el.textContent = text;
  }

  document.addEventListener("htmx:wsOpen", function () { setLive("live"); });
  document.addEventListener("htmx:wsClose", function () { setLive("lost"); });
  document.addEventListener("htmx:wsError", function () { setLive("lost"); });
  document.addEventListener("htmx:wsAfterMessage", function () { syncOffset(); tick(); });

  // htmx swaps refusals (400, 409 …) as content (base.html), so "successful" is not enough.
  function ok(event) {
    var xhr = event.detail && event.detail.xhr;
    return !!xhr && xhr.status >= 200 && xhr.status < 300;
  }

  // Check-in: after a success the field is emptied, after a refusal its text is selected, so the
  // next scan of the USB scanner (which types and presses Enter) replaces it either way.
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.target;
    if (!form || form.id !== "checkin-form") return;
    var input = form.querySelector("input[name='ticket_or_id']");
    if (ok(event)) form.reset();
    if (input) { input.focus(); input.select(); }
  });

  // The move panel closes after a successful move, or with its Cancel button.
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.target;
    if (form && form.classList && form.classList.contains("move-form") && ok(event)) {
      var panel = document.getElementById("move-panel");
      if (panel) panel.innerHTML = "";
    }
  });
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target && target.closest && target.closest("[data-close-panel]")) {
      var panel = document.getElementById("move-panel");
      if (panel) panel.innerHTML = "";
      var input = document.getElementById("ticket_or_id");
      if (input) input.focus();
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    syncOffset();
    tick();
    window.setInterval(tick, 1000);
  });
})();
