// Strategy and watchlist forms: the instrument picker adds a code to the universe input.
//
// The picker's results (htmx, strategies/_instrument_picker.html) are buttons with data-add-code and
// data-target (the id of the codes input). Everything else works without this file: codes can be
// typed, and the type switch has a submit button for browsers without JavaScript.
(function () {
  "use strict";

  function codesOf(input) {
    return input.value.split(/[\s,]+/).map((code) => code.trim().toUpperCase()).filter(Boolean);
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-add-code]");
    if (!button) return;
    const input = document.getElementById(button.dataset.target);
    if (!input) return;
    const codes = codesOf(input);
    const code = button.dataset.addCode.toUpperCase();
    if (!codes.includes(code)) codes.push(code);
    input.value = codes.join(" ");
    input.dispatchEvent(new Event("change", { bubbles: true }));
    button.setAttribute("aria-pressed", "true");
    button.classList.add("added");
  });

  // Enter in the search box picks nothing and must not submit the whole strategy form.
  document.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && event.target.matches("[data-picker-input]")) {
      event.preventDefault();
    }
  });
})();
