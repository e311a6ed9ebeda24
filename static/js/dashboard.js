// Dashboard helpers (same origin, no inline scripts): "Copy" buttons for read-only inputs.
(function () {
  "use strict";
  function copied(button) {
    var label = button.textContent;
    button.textContent = "Copied";
    button.setAttribute("data-copied", "true");
    window.setTimeout(function () { button.textContent = label; }, 2000);
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) { return; }
    var input = document.getElementById(button.getAttribute("data-copy-target"));
    if (!input) { return; }
    input.focus();
    input.select();
    var fallback = function () {
      try { document.execCommand("copy"); } catch (e) { /* the value stays selected for Ctrl+C */ }
      copied(button);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(function () { copied(button); }, fallback);
    } else {
      fallback();
    }
  });
})();
