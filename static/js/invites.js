// 친구 초대: the copy button puts the invite link on the clipboard (no inline handlers: the
// Content-Security-Policy forbids them). Without clipboard access the link is selected instead.
(function () {
  "use strict";
  document.querySelectorAll("[data-copy-target]").forEach((button) => {
    const input = document.getElementById(button.dataset.copyTarget);
    const status = button.closest(".invite-copy")?.querySelector("[data-copy-status]");
    if (!input) return;
    const say = (text) => { if (status) status.textContent = text; };
    button.addEventListener("click", async () => {
      input.select();
      try {
        await navigator.clipboard.writeText(input.value);
        say(button.dataset.copied);
      } catch (error) {
        say(button.dataset.copyFailed);
      }
    });
  });
})();
