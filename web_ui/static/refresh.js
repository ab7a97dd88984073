// Reloads a page of live figures (the dashboard) every `data-refresh-s` seconds.
// While the browser tab is hidden nothing happens; once it is shown again an overdue
// page reloads at once. Served as a file: the Content-Security-Policy runs no inline script.
(function () {
  "use strict";
  var script = document.currentScript;
  var seconds = Number(script && script.getAttribute("data-refresh-s")) || 20;
  var due = Date.now() + seconds * 1000;

  function reloadIfDue() {
    if (document.visibilityState === "visible" && Date.now() >= due) {
      due = Number.POSITIVE_INFINITY; // one reload at a time
      window.location.reload();
    }
  }

  window.setInterval(reloadIfDue, 1000);
  document.addEventListener("visibilitychange", reloadIfDue);
})();
