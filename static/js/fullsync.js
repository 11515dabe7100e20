// The full synchronization review page: fetches its JSON status every 2 s while the run is
// ready or running, and updates the lines, the job links, the progress bar and the chart of
// records per second in place.
(function () {
  "use strict";
  var root = document.getElementById("fullsync");
  if (!root) { return; }
  var url = root.getAttribute("data-status-url");
  var countsTemplate = root.getAttribute("data-counts-template") || "";
  var rateTemplate = root.getAttribute("data-rate-template") || "{rate}";
  var leftTemplate = root.getAttribute("data-left-template") || "{time}";
  var INTERVAL = 2000;

  function text(tag, value, className) {
    var el = document.createElement(tag);
    el.textContent = value;
    if (className) { el.className = className; }
    return el;
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_m, key) {
      return values[key] === undefined || values[key] === null ? "" : String(values[key]);
    });
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) { return ""; }
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    if (h) { return h + " h " + m + " min"; }
    if (m) { return m + " min " + s + " s"; }
    return s + " s";
  }

  function jobCell(cell, job) {
    cell.textContent = "";
    if (!job) { cell.textContent = "—"; return; }
    var link = text("a", job.status_label, "job-link");
    link.href = job.url;
    cell.appendChild(link);
    cell.appendChild(document.createElement("br"));
    cell.appendChild(text("span", fill(countsTemplate, {
      i: job.inserted, m: job.modified, u: job.unchanged, f: job.failed
    }), "small muted"));
  }

  function statusCell(cell, line) {
    cell.textContent = "";
    cell.appendChild(text("span", line.status_label, "line-status status-" + (line.status || "not_started")));
    if (line.message) {
      cell.appendChild(document.createElement("br"));
      cell.appendChild(text("span", line.message, "small line-message"));
    }
  }

  function progressCell(cell, line) {
    var parts = [line.done + " / " + (line.total === null ? "?" : line.total)];
    if (line.rate !== null) { parts.push(fill(rateTemplate, { rate: line.rate })); }
    if (line.seconds_left !== null) { parts.push(fill(leftTemplate, { time: duration(line.seconds_left) })); }
    cell.textContent = parts.join(" · ");
  }

  function render(data) {
    if (!data.run) { return; }
    root.setAttribute("data-run-status", data.run.status);
    var runStatus = document.getElementById("fullsync-run-status");
    if (runStatus) { runStatus.textContent = data.run.status_label; }
    var bar = document.getElementById("fullsync-progress");
    if (bar) { bar.value = data.percent === null ? 0 : data.percent; bar.textContent = bar.value + " %"; }
    var overall = document.getElementById("fullsync-overall");
    if (overall) { overall.textContent = data.total === null ? String(data.done) : data.done + " / " + data.total; }
    var chart = document.getElementById("fullsync-chart");
    if (chart && typeof data.chart_html === "string") { chart.innerHTML = data.chart_html; }
    data.lines.forEach(function (line) {
      var row = root.querySelector('tr[data-line="' + line.id + '"]');
      if (!row) { return; }
      row.setAttribute("data-status", line.status);
      var cell = row.querySelector('[data-field="status"]');
      if (cell) { statusCell(cell, line); }
      cell = row.querySelector('[data-field="to_crm"]');
      if (cell) { jobCell(cell, line.to_crm_job); }
      cell = row.querySelector('[data-field="from_crm"]');
      if (cell) { jobCell(cell, line.from_crm_job); }
      cell = row.querySelector('[data-field="progress"]');
      if (cell) { progressCell(cell, line); }
      // Drawn on the server (its actions carry a CSRF token): put in place as it comes.
      cell = row.querySelector('[data-field="recommendation"]');
      if (cell && typeof line.recommendation_html === "string") { cell.innerHTML = line.recommendation_html; }
      var restart = row.querySelector("form.restart");
      if (restart) { restart.hidden = !(line.status === "error" || line.status === "finished"); }
    });
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (data) { render(data); }
        var status = root.getAttribute("data-run-status");
        if (status === "running" || status === "ready") { window.setTimeout(poll, INTERVAL); }
      })
      .catch(function () { window.setTimeout(poll, INTERVAL * 2); });
  }

  window.setTimeout(poll, INTERVAL);
})();
