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

  // Escape closes the phone menu and puts focus back on its button.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || !document.body.classList.contains("nav-open")) return;
    var toggle = document.querySelector('[data-toggle-body-class="nav-open"]');
    document.body.classList.remove("nav-open");
    if (toggle) {
      toggle.setAttribute("aria-expanded", "false");
      toggle.focus();
    }
  });

  // <div data-scroll-region tabindex="0"> (a wide table, a code listing) scrolls inside the
  // page. Keyboard users reach it with Tab so they can scroll it with the arrow keys; it
  // stays a tab stop only while it actually scrolls (without JavaScript it always is).
  function syncScrollRegion(region) {
    var scrolls = region.scrollWidth > region.clientWidth + 1 ||
      region.scrollHeight > region.clientHeight + 1;
    if (scrolls) region.setAttribute("tabindex", "0");
    else if (document.activeElement !== region) region.removeAttribute("tabindex");
  }
  var observer = typeof ResizeObserver === "function" ? new ResizeObserver(function (entries) {
    entries.forEach(function (entry) {
      var region = entry.target.closest("[data-scroll-region]");
      if (region) syncScrollRegion(region);
    });
  }) : null;
  function watchScrollRegions(root) {
    root.querySelectorAll("[data-scroll-region]").forEach(function (region) {
      syncScrollRegion(region);
      if (observer) {
        observer.observe(region);
        if (region.firstElementChild) observer.observe(region.firstElementChild);
      }
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { watchScrollRegions(document); });
  } else {
    watchScrollRegions(document);
  }
  document.addEventListener("htmx:afterSettle", function (event) { watchScrollRegions(event.target); });

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
