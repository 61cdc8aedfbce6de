// Sort and filter the per-file rows: by any metric's per-file improvement (worst or best first) or by name,
// at most N rows, names containing a text. The state lives in the URL hash (#sort=worst:lsd_hf&limit=10), so a
// view such as "worst 10 by lsd_hf" can be bookmarked or shared.
(function () {
  "use strict";
  const list = document.getElementById("file-list");
  if (!list) return;
  const rows = [...list.querySelectorAll("article.file")];
  const sort = document.getElementById("sort"), limit = document.getElementById("limit");
  const search = document.getElementById("search"), shown = document.getElementById("shown");

  function gain(row, metric) {
    const value = JSON.parse(row.dataset.gains)[metric];
    return typeof value === "number" && isFinite(value) ? value : null;
  }

  function order() {
    const [how, metric] = sort.value.split(":");
    const sorted = rows.slice();
    if (how === "name") {
      sorted.sort((a, b) => a.dataset.file.localeCompare(b.dataset.file));
    } else if (how === "worst" || how === "best") {
      const sign = how === "worst" ? 1 : -1;
      sorted.sort((a, b) => {
        const x = gain(a, metric), y = gain(b, metric);
        if (x === null || y === null) return (x === null) - (y === null);  // files without a value last
        return sign * (x - y) || Number(a.dataset.order) - Number(b.dataset.order);
      });
    } else {
      sorted.sort((a, b) => Number(a.dataset.order) - Number(b.dataset.order));
    }
    return sorted;
  }

  function apply() {
    const most = parseInt(limit.value, 10), needle = search.value.trim().toLowerCase();
    let count = 0;
    for (const row of order()) {
      list.appendChild(row);
      const visible = row.dataset.file.toLowerCase().includes(needle) && !(most > 0 && count >= most);
      row.hidden = !visible;
      if (visible) count += 1; else row.querySelectorAll("audio").forEach((a) => a.pause());
    }
    shown.textContent = `${count} of ${rows.length} files shown`;
    const state = new URLSearchParams();
    if (sort.value !== "order") state.set("sort", sort.value);
    if (most > 0) state.set("limit", String(most));
    if (needle) state.set("q", needle);
    history.replaceState(null, "", state.toString() ? `#${state}` : location.pathname + location.search);
  }

  const initial = new URLSearchParams(location.hash.slice(1));
  if (initial.get("sort") && [...sort.options].some((o) => o.value === initial.get("sort"))) sort.value = initial.get("sort");
  if (initial.get("limit")) limit.value = initial.get("limit");
  if (initial.get("q")) search.value = initial.get("q");
  [sort, limit, search].forEach((control) => control.addEventListener("input", apply));
  apply();
})();
