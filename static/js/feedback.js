// The feedback button: opens the dialog (a <dialog>) instead of going to /feedback/new/, fills the
// hidden fields (this page's address, the browser, the app version) and gives a fresh form after a
// report was sent. The form itself is posted by htmx and the server answers with the dialog's new
// contents (the form with its errors, or the thanks with the report's number). No inline scripts or
// styles anywhere: the Content-Security-Policy forbids them.
(function () {
  "use strict";
  const dialog = document.getElementById("feedback-dialog");
  const opener = document.querySelector("[data-testid=feedback-button]");
  if (!dialog || !opener || typeof dialog.showModal !== "function") return; // the link opens the page
  const body = dialog.querySelector("[data-feedback-body]");
  const pristine = body.innerHTML;

  function capture() {
    const values = {
      page_url: window.location.pathname + window.location.search + window.location.hash,
      user_agent: navigator.userAgent,
      app_version: dialog.dataset.appVersion || "",
    };
    Object.keys(values).forEach(function (name) {
      const input = body.querySelector("input[name=" + name + "]");
      if (input) input.value = values[name];
    });
  }

  opener.addEventListener("click", function (event) {
    event.preventDefault();
    if (!body.querySelector("form")) { // a report was sent: start again with an empty form
      body.innerHTML = pristine;
      if (window.htmx) window.htmx.process(body);
    }
    capture();
    dialog.showModal();
    const first = body.querySelector("textarea");
    if (first) first.focus();
  });

  dialog.addEventListener("click", function (event) {
    if (event.target.closest("[data-feedback-close]") || event.target === dialog) dialog.close();
  });

  // the form comes back with its errors: keep what the scripts captured, focus the first wrong field
  document.addEventListener("htmx:afterSwap", function (event) {
    if (!body.contains(event.target) && event.target !== body) return;
    capture();
    const wrong = body.querySelector(".has-error textarea, .has-error input");
    if (wrong) wrong.focus();
  });
})();
