// Synchronised players: each .player holds one <audio> per variant and a button per variant; switching variant
// keeps the playback position (and keeps playing if it was). Keys: 1-9 pick a variant of the current player,
// space plays/pauses it, j/k move to the next/previous visible item. Only one audio plays at a time.
(function () {
  "use strict";
  const items = () => [...document.querySelectorAll("article.file, article.trial")].filter((a) => !a.hidden);
  let current = null;

  const audios = (player) => [...player.querySelectorAll("audio")];
  const activeAudio = (player) => player.querySelector("audio:not([hidden])");

  function setCurrent(article) {
    if (current === article) return;
    if (current) current.classList.remove("current");
    current = article;
    if (article) article.classList.add("current");
  }

  function select(player, index) {
    const list = audios(player), from = activeAudio(player), to = list[index];
    setCurrent(player.closest("article"));
    if (!to || to === from) return;
    const wasPlaying = from && !from.paused, position = from ? from.currentTime : 0;
    if (from) { from.pause(); from.hidden = true; }
    to.hidden = false;
    to.currentTime = position;
    player.querySelectorAll("button[data-index]").forEach((b) => b.setAttribute("aria-pressed", String(Number(b.dataset.index) === index)));
    if (wasPlaying) to.play().catch(() => {});
  }

  document.querySelectorAll(".player").forEach((player) => {
    player.querySelectorAll("button[data-index]").forEach((button) => {
      button.addEventListener("click", () => select(player, Number(button.dataset.index)));
    });
  });
  document.addEventListener("play", (event) => {  // one sound at a time
    // A play event arrives after the call that caused it: if the listener switched away meanwhile, it is stale.
    if (event.target.hidden) { event.target.pause(); return; }
    document.querySelectorAll("audio").forEach((a) => { if (a !== event.target) a.pause(); });
    setCurrent(event.target.closest("article"));
  }, true);
  document.addEventListener("focusin", (event) => { const a = event.target.closest && event.target.closest("article"); if (a) setCurrent(a); });
  document.addEventListener("pointerdown", (event) => { const a = event.target.closest && event.target.closest("article"); if (a) setCurrent(a); });

  document.addEventListener("keydown", (event) => {
    const tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "select" || tag === "textarea" || event.ctrlKey || event.metaKey || event.altKey) return;
    const visible = items();
    if (!visible.length) return;
    if (!current || current.hidden) setCurrent(visible[0]);
    const player = current.querySelector(".player");
    if (/^[1-9]$/.test(event.key) && player) {
      select(player, Number(event.key) - 1);
      event.preventDefault();
    } else if (event.key === " " && player) {
      const audio = activeAudio(player);
      if (audio.paused) audio.play().catch(() => {}); else audio.pause();
      event.preventDefault();
    } else if (event.key === "j" || event.key === "k") {
      const next = visible[Math.max(0, Math.min(visible.length - 1, visible.indexOf(current) + (event.key === "j" ? 1 : -1)))];
      setCurrent(next);
      next.scrollIntoView({ block: "nearest" });
      event.preventDefault();
    }
  });
  window.audiovaePlayer = { select, current: () => current };
})();
