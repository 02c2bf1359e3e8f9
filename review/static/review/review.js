// Review page behaviour: diff view toggle, fold all files, single-submit forms, live progress.
(function () {
  "use strict";

  var VIEW_KEY = "factory.diffView";
  var POLL_MS = 2000;

  function setView(view) {
    document.body.setAttribute("data-diff-view", view);
    document.querySelectorAll("[data-view]").forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.getAttribute("data-view") === view));
    });
    try { localStorage.setItem(VIEW_KEY, view); } catch (e) { /* private mode: the toggle still works */ }
  }

  function initDiffToolbar() {
    var saved = null;
    try { saved = localStorage.getItem(VIEW_KEY); } catch (e) { saved = null; }
    if (saved === "split" || saved === "unified") { setView(saved); }
    document.querySelectorAll("[data-view]").forEach(function (button) {
      button.addEventListener("click", function () { setView(button.getAttribute("data-view")); });
    });
    document.querySelectorAll("[data-files]").forEach(function (button) {
      button.addEventListener("click", function () {
        var open = button.getAttribute("data-files") === "open";
        document.querySelectorAll("details.diff-file").forEach(function (file) { file.open = open; });
      });
    });
  }

  function initForms() {
    document.querySelectorAll("form[data-once]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        var question = form.getAttribute("data-confirm");
        if (question && !window.confirm(question)) { event.preventDefault(); return; }
        if (form.dataset.sent) { event.preventDefault(); return; }
        form.dataset.sent = "1";
        form.querySelectorAll("button[type=submit]").forEach(function (button) {
          button.disabled = true;
          button.textContent = button.textContent.trim() + "…";
        });
      });
    });
  }

  function clock(seconds) {
    if (seconds === null || seconds === undefined || isNaN(seconds)) { return "–"; }
    var total = Math.max(0, Math.floor(seconds));
    var h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    var mm = (h ? String(m).padStart(2, "0") : String(m)), ss = String(s).padStart(2, "0");
    return (h ? h + ":" : "") + mm + ":" + ss + " elapsed";
  }

  function initProgress() {
    var panel = document.getElementById("live-progress");
    if (!panel) { return; }
    var field = function (name) { return panel.querySelector("[data-field=" + name + "]"); };
    var initialState = panel.getAttribute("data-state");
    var elapsed = field("elapsed");
    var base = parseFloat(elapsed.getAttribute("data-seconds"));
    var baseAt = Date.now();
    var failures = 0;

    function tick() {
      elapsed.textContent = isNaN(base) ? "–" : clock(base + (Date.now() - baseAt) / 1000);
    }

    function show(data) {
      if (data.estado !== initialState) { window.location.reload(); return; }
      field("title").textContent = data.estado === "in_progress" ? "The agent is working on this ticket" : "Waiting for the agent";
      field("attempt").textContent = data.attempt ? "Attempt " + data.attempt + " of " + data.max_attempts : data.estado_label;
      field("phase").textContent = data.phase || (data.estado === "in_progress" ? "starting" : "queued");
      base = data.attempt_elapsed_s === null ? NaN : data.attempt_elapsed_s;
      baseAt = Date.now();
      tick();
    }

    function poll() {
      fetch(panel.getAttribute("data-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) { throw new Error("HTTP " + response.status); }
          return response.json();
        })
        .then(function (data) { failures = 0; show(data); })
        .catch(function () {
          failures += 1;
          if (failures >= 3) { field("phase").textContent = "connection lost; retrying"; }
        })
        .finally(function () { window.setTimeout(poll, POLL_MS); });
    }

    tick();
    window.setInterval(tick, 1000);
    window.setTimeout(poll, POLL_MS);
  }

  // A folded file of a big change has no diff in the page: it is fetched when opened (review-file view).
  function loadFile(file) {
    if (!file.open || file.dataset.loading) { return; }
    file.dataset.loading = "1";
    var note = file.querySelector(".lazy");
    if (note) { note.textContent = "Loading…"; }
    fetch(file.getAttribute("data-src") + "&index=" + encodeURIComponent(file.id.replace("file-", "")),
          { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (html) {
        var holder = document.createElement("div");
        holder.innerHTML = html;  // this site's own template, escaped by Django
        var loaded = holder.querySelector("details.diff-file");
        if (loaded) { loaded.open = true; file.replaceWith(loaded); }
      })
      .catch(function (error) {
        delete file.dataset.loading;
        if (note) { note.textContent = "Could not load this file's diff (" + error.message + "); close and open it again."; }
      });
  }

  function initLazyFiles() {
    document.querySelectorAll("details.diff-file[data-src]").forEach(function (file) {
      file.addEventListener("toggle", function () { loadFile(file); });
    });
  }

  function init() {
    initDiffToolbar();
    initLazyFiles();
    initForms();
    initProgress();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
