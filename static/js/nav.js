// The menu button of narrow screens opens and closes the main navigation (no inline handlers: the
// Content-Security-Policy forbids them).
(function () {
  "use strict";
  const toggle = document.querySelector(".menu-toggle[aria-controls]");
  const nav = toggle && document.getElementById(toggle.getAttribute("aria-controls"));
  if (!nav) return;
  toggle.addEventListener("click", () => {
    toggle.setAttribute("aria-expanded", String(nav.classList.toggle("open")));
  });
})();
