// CrewBuilder's small behaviours, wired from data- attributes (the CSP forbids inline handlers).
(function () {
  "use strict";

  // <button data-toggle-body-class="nav-open"> toggles a class on <body>.
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-toggle-body-class]");
    if (!toggle) return;
    var name = toggle.getAttribute("data-toggle-body-class");
    var on = document.body.classList.toggle(name);
    toggle.setAttribute("aria-expanded", on ? "true" : "false");
  });

  // <form data-confirm="Remove bob?"> asks before submitting.
  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });

  // <input data-select-on-click> selects its text; <button data-copy-target="id"> copies it.
  document.addEventListener("click", function (event) {
    var input = event.target.closest("[data-select-on-click]");
    if (input && typeof input.select === "function") input.select();
    var button = event.target.closest("[data-copy-target]");
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-copy-target"));
    if (source && navigator.clipboard) {
      navigator.clipboard.writeText(source.value || source.textContent || "").then(function () {
        button.textContent = "Copied";
      });
    }
  });

  // <select data-autosubmit> submits its form when changed.
  document.addEventListener("change", function (event) {
    var select = event.target.closest("[data-autosubmit]");
    if (select && select.form) {
      if (typeof select.form.requestSubmit === "function") select.form.requestSubmit();
      else select.form.submit();
    }
  });
})();
