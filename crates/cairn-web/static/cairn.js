// What every page gains with JavaScript; without it every page still works.
// - Times: the server writes each <time datetime> in UTC; here it reads in the viewer's own
//   zone, relative when recent ("3 min ago"), with the exact local time on hover.
// - Copy buttons ([data-copy] naming the element whose text to copy): shown only here,
//   since they need a script; without one the secret is selected with a single click.
// - Live blocks ([data-poll] naming the URL of the block's own content): while the content
//   holds a [data-live] element (a run still queued or running), it is fetched again every
//   2 s and swapped in place. Without a script such a page refreshes itself (<noscript>).
// - Refresh links ([data-refresh] naming the URL of a block's fresh content, [data-target]
//   the block): the block is fetched and swapped in place instead of the page reloading;
//   without a script, or when the fetch fails, the link loads the whole page.
(function () {
  "use strict";

  var exact = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "long" });
  var day = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  var relative = window.Intl && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat(undefined, { numeric: "auto" }) : null;
  var MINUTE = 60000, HOUR = 60 * MINUTE, DAY = 24 * HOUR;

  function describe(then, now) {
    var ago = now - then;
    if (!relative || ago < -MINUTE || ago >= 7 * DAY) return day.format(then);
    if (ago < MINUTE) return "just now";
    if (ago < HOUR) return relative.format(-Math.floor(ago / MINUTE), "minute");
    if (ago < DAY) return relative.format(-Math.floor(ago / HOUR), "hour");
    return relative.format(-Math.floor(ago / DAY), "day");
  }

  function times(root) {
    var now = Date.now();
    var all = (root || document).querySelectorAll("time[datetime]");
    for (var i = 0; i < all.length; i++) {
      var el = all[i];
      var then = Date.parse(el.getAttribute("datetime"));
      if (isNaN(then)) continue;
      el.textContent = describe(then, now);
      el.title = exact.format(then);
    }
  }

  function copyButtons() {
    var buttons = document.querySelectorAll("button[data-copy]");
    for (var i = 0; i < buttons.length; i++) {
      var button = buttons[i];
      var source = document.getElementById(button.getAttribute("data-copy"));
      if (!source || !navigator.clipboard) continue;
      button.hidden = false;
      button.addEventListener("click", (function (b, s) {
        return function () {
          navigator.clipboard.writeText(s.textContent.trim()).then(function () {
            b.textContent = "Copied";
            setTimeout(function () { b.textContent = "Copy"; }, 2000);
          }, function () {
            b.textContent = "Select and copy";
          });
        };
      })(button, source));
    }
  }

  var POLL_MS = 2000;

  // Fetches a block's content from `url` and swaps it in; rejects when the answer is not the
  // block's (an error, or the sign-in page a session that ended is sent to).
  function swap(block, url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) {
        if (!r.ok || r.redirected) return Promise.reject(r.status);
        return r.text();
      })
      .then(function (html) {
        block.innerHTML = html;
        times(block);
        follow(block);
      });
  }

  function follow(block) {
    if (!block.querySelector("[data-live]") || block.getAttribute("data-following")) return;
    block.setAttribute("data-following", "1");
    setTimeout(function () {
      block.removeAttribute("data-following");
      swap(block, block.getAttribute("data-poll")).catch(function () {
        var live = block.querySelector("[data-live]");
        if (live) live.textContent = "This page stopped following the changes; reload it to see where things are.";
      });
    }, POLL_MS);
  }

  function refreshLinks() {
    var links = document.querySelectorAll("a[data-refresh]");
    for (var i = 0; i < links.length; i++) {
      links[i].addEventListener("click", (function (link) {
        return function (event) {
          var block = document.getElementById(link.getAttribute("data-target"));
          if (!block || !window.fetch) return;
          event.preventDefault();
          link.setAttribute("aria-busy", "true");
          swap(block, link.getAttribute("data-refresh"))
            .then(function () { link.removeAttribute("aria-busy"); })
            .catch(function () { window.location.href = link.href; });
        };
      })(links[i]));
    }
  }

  function start() {
    times(document);
    copyButtons();
    refreshLinks();
    var blocks = document.querySelectorAll("[data-poll]");
    for (var i = 0; i < blocks.length; i++) follow(blocks[i]);
    setInterval(function () { times(document); }, 30000);
    // The records list is swapped in place by live.js: its times are new.
    var list = document.getElementById("records-list");
    if (list && window.MutationObserver) {
      new MutationObserver(function () { times(list); }).observe(list, { childList: true });
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
