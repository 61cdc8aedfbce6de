// Blind listening: collect each trial's ratings (MUSHRA sliders, 0-100) or preference (A/B), and download them
// as JSON or CSV. The page knows slot letters only; `python -m audiovae.listening score` un-blinds the answers
// with the key kept beside the page's folder.
(function () {
  "use strict";
  const meta = JSON.parse(document.getElementById("listening-data").textContent);
  document.querySelectorAll("input[type=range]").forEach((slider) => {
    const out = slider.parentElement.querySelector(`output[data-slot="${slider.dataset.slot}"]`);
    slider.addEventListener("input", () => { slider.dataset.moved = "1"; if (out) out.textContent = slider.value; });
  });

  function answers() {
    const rows = [];
    document.querySelectorAll("article.trial").forEach((trial) => {
      const id = trial.dataset.trial;
      if (meta.mode === "mushra") {
        trial.querySelectorAll("input[type=range]").forEach((s) => rows.push({
          trial: id, slot: s.dataset.slot, rating: s.dataset.moved ? Number(s.value) : null }));
      } else {
        const picked = trial.querySelector("input[type=radio]:checked");
        rows.push({ trial: id, choice: picked ? picked.value : null });
      }
    });
    return {
      format: "audiovae-listening", version: 1, mode: meta.mode, key_id: meta.key_id, page: location.href,
      listener: document.getElementById("listener").value.trim(), saved_at: new Date().toISOString(), answers: rows,
    };
  }

  function csv(data) {
    const quote = (v) => (v === null || v === undefined ? "" : /[",\n]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v));
    const lines = ["format,version,mode,key_id,listener,trial,slot,rating,choice"];
    for (const a of data.answers) {
      lines.push([data.format, data.version, data.mode, data.key_id, data.listener, a.trial, a.slot, a.rating, a.choice].map(quote).join(","));
    }
    return lines.join("\n") + "\n";
  }

  function download(text, type, extension) {
    const data = answers(), who = (data.listener || "anonymous").replace(/[^A-Za-z0-9_-]+/g, "_");
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([text(data)], { type }));
    link.download = `answers-${meta.mode}-${who}-${meta.key_id.slice(0, 8)}.${extension}`;
    document.body.appendChild(link);
    link.click();
    link.remove();
    const left = data.answers.filter((a) => a.rating === null || a.choice === null).length;
    document.getElementById("status").textContent = left ? `saved; ${left} answers still empty` : "saved";
  }

  document.getElementById("download-json").addEventListener("click", () => download((d) => JSON.stringify(d, null, 1), "application/json", "json"));
  document.getElementById("download-csv").addEventListener("click", () => download(csv, "text/csv", "csv"));
  window.audiovaeListening = { answers };
})();
