// The header bell: the unread count follows "notifications.unread" pushed on the user's live channel
// (static/js/live.js dispatches every message as a "live:event" CustomEvent on document).
(function () {
  "use strict";
  function show(count) {
    const bell = document.querySelector("[data-testid=bell]");
    const badge = document.querySelector("[data-testid=bell-count]");
    if (!bell || !badge || typeof count !== "number") return;
    badge.textContent = count > 99 ? "99+" : String(count);
    badge.hidden = count <= 0;
    bell.setAttribute("aria-label", bell.dataset.label + (count > 0 ? ": " + count + " " + bell.dataset.labelUnread : ""));
    document.dispatchEvent(new CustomEvent("notifications:unread", { detail: { unread: count } }));
  }
  document.addEventListener("live:event", function (e) {
    const data = e.detail || {};
    if (data.event !== "notifications.unread" || !data.payload) return;
    show(data.payload.unread);
  });
})();

// The dashboard's latest notifications: a new one goes on top (five at most).
(function () {
  "use strict";
  document.addEventListener("live:event", function (e) {
    const data = e.detail || {};
    const list = document.querySelector("[data-testid=dash-notifications]");
    const item = data.payload && data.payload.notification;
    if (data.event !== "notifications.unread" || !list || !item) return;
    const empty = list.querySelector(".empty");
    if (empty) empty.remove();
    const li = document.createElement("li");
    li.className = "is-unread";
    li.dataset.testid = "dash-notification";
    let title;
    if (item.link && item.link.charAt(0) === "/") {
      title = document.createElement("a");
      title.href = item.link;
    } else {
      title = document.createElement("strong");
    }
    title.textContent = item.title;
    li.append(title);
    list.prepend(li);
    while (list.children.length > 5) list.lastElementChild.remove();
  });
})();
