// Live records page: when the tenant's events stream reports a change, reload the list in
// place. Without JavaScript the page still works; it just does not update by itself.
(function () {
  "use strict";
  var status = document.getElementById("live-status");
  var list = document.getElementById("records-list");
  if (!status || !list || !window.EventSource) return;
  var source = new EventSource(status.getAttribute("data-stream"));
  var refresh = function () {
    fetch(status.getAttribute("data-list"), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        list.innerHTML = html;
        status.textContent = "Live: updated " + new Date().toLocaleTimeString() + ".";
      })
      .catch(function () { status.textContent = "Changes were made; reload to see them."; });
  };
  ["records_created", "record_updated", "records_deleted", "record_published"].forEach(function (type) {
    source.addEventListener(type, refresh);
  });
  source.onerror = function () { status.textContent = "Live updates paused; reconnecting…"; };
  source.onopen = function () { status.textContent = "Live: changes by others appear here as they happen."; };
})();
