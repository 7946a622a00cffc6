// Small behaviour every page shares: the live indicator and ticking ages ("3分12秒").
(function () {
  "use strict";
  function fmtAge(seconds) {
    if (seconds < 60) return seconds + "秒";
    var m = Math.floor(seconds / 60), s = seconds % 60;
    if (m < 60) return m + "分" + (s < 10 ? "0" : "") + s + "秒";
    var h = Math.floor(m / 60);
    return h + "时" + (m % 60) + "分";
  }
  window.fqAge = fmtAge;
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-since]").forEach(function (el) {
      var t = Date.parse(el.getAttribute("data-since"));
      if (!isNaN(t)) el.textContent = fmtAge(Math.max(0, Math.floor((now - t) / 1000)));
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    tick();
    setInterval(tick, 1000);
    document.body.addEventListener("click", function (ev) {
      var close = ev.target.closest("[data-close-card]");
      if (close) { var card = document.getElementById("card"); if (card) card.innerHTML = ""; }
    });
    var live = document.getElementById("live");
    document.body.addEventListener("htmx:sseOpen", function () { if (live) live.classList.add("on"); });
    document.body.addEventListener("htmx:sseError", function () { if (live) live.classList.remove("on"); });
  });
})();
