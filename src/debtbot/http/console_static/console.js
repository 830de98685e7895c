// Progressive enhancement only: every form works without this file.
(function () {
  "use strict";
  // Live preview of a template while its texts are typed.
  var form = document.querySelector("form[data-live-preview]");
  var target = document.getElementById("live-preview");
  if (form && target && window.fetch) {
    var timer = null;
    var refresh = function () {
      var data = new FormData(form);
      data.set("action", "preview");
      fetch(form.getAttribute("data-live-preview"), {
        method: "POST", body: new URLSearchParams(data), credentials: "same-origin"
      }).then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html !== null) { target.innerHTML = html; } });
    };
    form.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(refresh, 300);
    });
  }
  // Live progress of a broadcast or list that is going out.
  var progress = document.getElementById("progress");
  if (progress && progress.getAttribute("data-live") === "yes" && window.fetch) {
    var poll = function () {
      fetch(progress.getAttribute("data-progress-url"), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (p) {
          if (!p) { return; }
          progress.querySelectorAll("dd[data-key]").forEach(function (dd) {
            dd.textContent = p[dd.getAttribute("data-key")];
          });
          if (p.status === "done" || p.status === "cancelled") { window.location.reload(); return; }
          setTimeout(poll, 2000);
        });
    };
    setTimeout(poll, 2000);
  }
  // A file too large for the list upload is refused before it is sent.
  document.querySelectorAll("input[type=file][data-max-bytes]").forEach(function (input) {
    input.addEventListener("change", function () {
      var max = parseInt(input.getAttribute("data-max-bytes"), 10);
      var file = input.files && input.files[0];
      input.setCustomValidity(file && file.size > max ? input.getAttribute("aria-describedby") ? document.getElementById(input.getAttribute("aria-describedby")).textContent : "Too large" : "");
    });
  });
}());
