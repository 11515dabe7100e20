// The coupling pages: select all, search as you type in the coupling dialog, and progress
// of background runs. Every page works without it.
(function () {
  "use strict";

  document.querySelectorAll("input[data-select-all]").forEach(function (box) {
    box.addEventListener("change", function () {
      var name = box.getAttribute("data-select-all");
      box.form.querySelectorAll('input[type="checkbox"][name="' + name + '"]').forEach(function (other) {
        other.checked = box.checked;
      });
    });
  });

  var pick = document.getElementById("crm-pick");
  var results = document.getElementById("crm-results");
  if (pick && results) {
    var input = pick.querySelector('input[name="crm_q"]');
    var next = pick.querySelector('input[name="next"]');
    var timer = null;
    var latest = 0;
    var show = function (rows, error) {
      results.textContent = "";
      if (error) {
        var li = document.createElement("li");
        li.className = "error-text";
        li.textContent = error;
        results.appendChild(li);
        return;
      }
      rows.forEach(function (row) {
        var li = document.createElement("li");
        var a = document.createElement("a");
        var href = "?crm=" + encodeURIComponent(row.id);
        if (next) { href += "&next=" + encodeURIComponent(next.value); }
        a.href = href;
        a.textContent = row.name || row.id;
        li.appendChild(a);
        if (row.detail) {
          var d = document.createElement("span");
          d.className = "muted small";
          d.textContent = " " + row.detail;
          li.appendChild(d);
        }
        if (row.coupled_to) {
          var c = document.createElement("span");
          c.className = "badge badge-warn";
          c.textContent = " " + results.getAttribute("data-coupled-label") + " " + row.coupled_to;
          li.appendChild(c);
        }
        results.appendChild(li);
      });
    };
    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(function () {
        var ask = ++latest;
        var url = pick.getAttribute("data-search-url") + "?q=" + encodeURIComponent(input.value);
        fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
          .then(function (response) { return response.json(); })
          .then(function (body) { if (ask === latest) { show(body.results || [], body.error); } })
          .catch(function () { /* the search button still works */ });
      }, 250);
    });
  }

  var progress = document.getElementById("progress");
  if (progress && progress.getAttribute("data-finished") === "0") {
    var poll = function () {
      fetch(progress.getAttribute("data-status-url"), { credentials: "same-origin" })
        .then(function (response) { return response.json(); })
        .then(function (body) {
          Object.keys(body).forEach(function (key) {
            var el = progress.querySelector('[data-field="' + key + '"]');
            if (el) { el.textContent = body[key]; }
          });
          var bar = progress.querySelector('[data-field="bar"]');
          if (bar) { bar.max = body.total || 1; bar.value = body.done; }
          if (body.finished) { window.location.reload(); } else { window.setTimeout(poll, 1500); }
        })
        .catch(function () { window.setTimeout(poll, 5000); });
    };
    window.setTimeout(poll, 1000);
  }
})();
