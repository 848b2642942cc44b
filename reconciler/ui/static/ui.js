/* authctl ui: small conveniences on top of pages that work without JavaScript.
 * - A filter's select submits its form when changed (the Apply button stays for keyboards and no-JS).
 * - "read 2m ago" style times ([data-since]) keep counting while the page stays open.
 * No request is made from here, nothing is sent anywhere, and no page needs this file. */
(function () {
  "use strict";

  function submitOnChange() {
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () {
        if (select.form) {
          select.form.requestSubmit ? select.form.requestSubmit() : select.form.submit();
        }
      });
    });
  }

  function ago(seconds) {
    if (seconds < 60) { return "just now"; }
    var units = [[31536000, "y"], [2592000, "mo"], [86400, "d"], [3600, "h"], [60, "m"]];
    for (var i = 0; i < units.length; i++) {
      if (seconds >= units[i][0]) { return Math.floor(seconds / units[i][0]) + units[i][1] + " ago"; }
    }
    return "just now";
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-since]").forEach(function (element) {
      var since = Date.parse(element.getAttribute("data-since"));
      if (!isNaN(since)) { element.textContent = ago(Math.max(0, (now - since) / 1000)); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    submitOnChange();
    window.setInterval(tick, 15000);
  });
})();
