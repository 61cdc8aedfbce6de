"""report.html and the blind listening pages, the way a person meets them: in headless Chromium from file://,
plus the un-blinding of scripted answers and the webMUSHRA export."""

import json
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest
import soundfile as sf
import yaml
from PIL import Image

from audiovae.errors import ListeningError
from audiovae.listening.blind import EVALUATION_MODES, MODES, plan_trials
from audiovae.listening.score import score
from audiovae.listening.webmushra import export_webmushra
from audiovae.metrics.scoring import scoring
from audiovae.reporting.records import OK, file_delta, read_results
from tests.conftest import chirp, evaluate_folder, noise, tone, write

ROOT = Path(__file__).resolve().parents[1]
RATING = {"reference": 100, "vocoder": 80, "base": 40, "enhanced": 65}  # what the scripted listener answers


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    clips = tmp_path_factory.mktemp("clips")
    write(clips / "tone.wav", tone(440, 0.8, 22050), 22050, "PCM_16")
    write(clips / "sub dir" / "chirp #1.wav", chirp(100, 6000, 1.2, 16000), 16000)
    write(clips / "noise.wav", noise(0.6, 16000), 16000)
    write(clips / "long.wav", chirp(200, 7000, 2.5, 16000) + noise(2.5, 16000, amp=0.02), 16000)
    (clips / "broken.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk")
    out = tmp_path_factory.mktemp("run") / "eval"
    evaluate_folder(clips, out, "model=tiny", "data.max_seconds=1.0", "metrics.bootstrap_samples=200")
    return out


def url(path: Path, fragment: str = "") -> str:
    return path.resolve().as_uri() + fragment


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        self.links += [value for name, value in attrs if name in ("src", "href")]


def links_of(page: Path) -> list[str]:
    parser = Links()
    parser.feed(page.read_text())
    return parser.links


def ok_results(run):
    return [r for r in read_results(run / "results.csv", ["lsd_hf", "snr"]) if r.status == OK]


def key(run, mode):
    return json.loads((run / "listening" / "keys" / f"{mode}.json").read_text())


# ---------------------------------------------------------------- the files, without a browser


def test_every_link_is_relative_and_resolves_inside_the_run(run):
    for html in [run / "report.html", *(run / "listening" / m / "index.html" for m in EVALUATION_MODES)]:
        links = links_of(html)
        assert links, html
        for link in links:
            assert "://" not in link and not link.startswith("/"), (html, link)
            assert (html.parent / unquote(link)).resolve().is_relative_to(run.resolve())
            assert (html.parent / unquote(link)).exists(), (html, link)


def test_every_image_reserves_its_size_so_the_page_does_not_move_under_a_click(run):
    class Images(HTMLParser):
        def __init__(self):
            super().__init__()
            self.images = []

        def handle_starttag(self, tag, attrs):
            if tag == "img":
                self.images.append(dict(attrs))

    parser = Images()
    parser.feed((run / "report.html").read_text())
    assert len(parser.images) >= 4 + 2  # the files' figures, band retention and summary
    for image in parser.images:
        width, height = Image.open(run / unquote(image["src"])).size
        assert (int(image["width"]), int(image["height"])) == (width, height), image["src"]


def test_blind_audio_is_the_variant_its_key_names_and_the_page_names_none(run):
    names = [r.file for r in ok_results(run)]
    for mode in EVALUATION_MODES:
        k = key(run, mode)
        html = (run / "listening" / mode / "index.html").read_text()
        assert len(k["trials"]) == len(names) == 4
        for trial in k["trials"]:
            assert sorted(trial["slots"].values()) == sorted(MODES[mode])
            for letter, variant in trial["slots"].items():
                blind = run / "listening" / mode / "audio" / f"{trial['trial']}.{letter}.wav"
                assert blind.read_bytes() == (run / "audio" / f"{trial['stem']}.{variant}.wav").read_bytes()
        for word in ("vocoder", "base", "enhanced", *names, *(Path(n).name for n in names)):
            assert word not in html, (mode, word)


def test_shuffles_are_seeded_and_a_files_letters_do_not_depend_on_the_others():
    items = [(f"f{i}.wav", f"f{i}.wav") for i in range(6)]
    one, again, other = (plan_trials(items, "mushra", s, 6) for s in (0, 0, 1))
    assert [(t.file, t.slots) for t in one] == [(t.file, t.slots) for t in again]
    assert [(t.file, t.slots) for t in one] != [(t.file, t.slots) for t in other]
    fewer = {t.file: t.slots for t in plan_trials(items[:3], "mushra", 0, 6)}
    assert all(fewer[t.file] == t.slots for t in one if t.file in fewer)
    assert len({tuple(t.slots.values()) for t in one}) > 1  # the order really changes from file to file


def scripted(run, mode, listener, tmp_path, answer_of=lambda variant: RATING[variant]):
    """Answers file as the page writes it, answering from the key (a listener who hears perfectly)."""
    k = key(run, mode)
    rows = []
    for trial in k["trials"]:
        if mode == "mushra":
            rows += [{"trial": trial["trial"], "slot": s, "rating": answer_of(v)} for s, v in trial["slots"].items()]
        else:
            winner = next(s for s, v in trial["slots"].items() if v == "enhanced")
            rows.append({"trial": trial["trial"], "choice": winner})
    page = url(run / "listening" / mode / "index.html")
    path = tmp_path / f"{listener}-{mode}.json"
    path.write_text(
        json.dumps(
            {
                "format": "audiovae-listening",
                "version": 1,
                "mode": mode,
                "key_id": k["key_id"],
                "page": page,
                "listener": listener,
                "answers": rows,
            }
        )
    )
    return path


def test_score_unblinds_scripted_mushra_answers(run, tmp_path):
    answers = [scripted(run, "mushra", "ann", tmp_path), scripted(run, "mushra", "bob", tmp_path)]
    text, out = score(answers, out=tmp_path / "scores")
    summary = json.loads((out / "scores-mushra.json").read_text())
    assert {v: s["mean"] for v, s in summary["variants"].items()} == RATING
    assert all(s["n"] == 8 for s in summary["variants"].values())  # 2 listeners x 4 files
    assert summary["enhanced_vs_base"]["wins"] == 8 and summary["enhanced_vs_base"]["delta"] == pytest.approx(25)
    for file, ratings in summary["files"].items():
        assert ratings == RATING
    # the objective Δ of each file sits beside its ratings
    results = {r.file: r for r in read_results(run / "results.csv", ["lsd_hf"]) if r.status == OK}
    for file, deltas in summary["objective_deltas"].items():
        r = results[file]
        assert deltas["lsd_hf"] == pytest.approx(
            file_delta("lsd_hf", r.value("base", "lsd_hf"), r.value("enhanced", "lsd_hf"))
        )
    assert "| enhanced | 8 | 65.0 |" in text


def test_score_unblinds_ab_answers_and_tests_the_preference(run, tmp_path):
    text, out = score([scripted(run, "ab", "ann", tmp_path)], out=tmp_path / "s")
    summary = json.loads((out / "scores-ab.json").read_text())
    assert summary["counts"] == {"enhanced": 4, "base": 0, "none": 0}
    assert summary["enhanced_preferred"]["rate"] == 1.0
    assert summary["enhanced_preferred"]["binomial_p"] == pytest.approx(0.125)  # 2 * 0.5^4


def test_answers_of_another_page_are_refused(run, tmp_path):
    path = scripted(run, "mushra", "ann", tmp_path)
    data = json.loads(path.read_text())
    data["key_id"] = "0" * 16
    path.write_text(json.dumps(data))
    with pytest.raises(ListeningError, match="do not belong to key"):
        score([path])
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(ListeningError, match="not an audiovae listening answers file"):
        score([tmp_path / "x.json"])


def test_listening_cli_scores_and_says_one_line_on_bad_input(run, tmp_path):
    answers = scripted(run, "ab", "cli", tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "audiovae.listening", "score", str(answers), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert "Enhanced preferred 4 times" in done.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "audiovae.listening", "score", str(tmp_path / "missing.json")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "missing.json" in bad.stderr


def test_webmushra_export_is_a_complete_config_with_16_bit_audio(run, tmp_path):
    config = export_webmushra(run, tmp_path / "wm")
    data = yaml.safe_load(config.read_text())
    mushra = [p for p in data["pages"] if p["type"] == "mushra"]
    assert len(mushra) == 4 and data["pages"][-1]["type"] == "finish"
    for p in mushra:
        assert set(p["stimuli"]) == {"vocoder", "base", "enhanced"}
        lengths = set()
        for path in [p["reference"], *p["stimuli"].values()]:
            info = sf.info(str(tmp_path / "wm" / path))
            assert info.subtype == "PCM_16" and info.samplerate == 16000
            lengths.add(info.frames)
        assert len(lengths) == 1  # webMUSHRA needs stimuli as long as the reference


# ---------------------------------------------------------------- in the browser


def wait_until(page, expression: str, seconds: float = 15.0, arg=None):
    """Poll `expression` (a JS function of `arg`) until it is truthy; the pages' Content-Security-Policy forbids
    the string evaluation Playwright's own wait_for_function polls with."""
    deadline = time.monotonic() + seconds
    while not page.page.evaluate(expression, arg):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        page.page.wait_for_timeout(50)


def open_page(page, path: Path, fragment: str = ""):
    page.page.goto("about:blank")  # a new document even where only the fragment differs
    page.page.goto(url(path, fragment))
    wait_until(page, "() => [...document.querySelectorAll('audio[preload=metadata]')].every(a => a.readyState >= 1)")


def test_report_loads_from_disk_with_no_error_and_no_network(run, page):
    open_page(page, run / "report.html")
    assert page.errors == [] and [c for c in page.console if c[0] in ("error", "warning")] == []
    assert page.requests and all(r.startswith("file://") for r in page.requests)
    assert page.page.locator("table.summary tbody tr").count() == len(
        yaml.safe_load((run / "config.yaml").read_text())["metrics"]["names"]
    )


def test_every_audio_element_reports_its_files_duration(run, page):
    open_page(page, run / "report.html")
    durations = page.page.evaluate(
        "[...document.querySelectorAll('audio')].map(a => [a.getAttribute('src'), a.duration])"
    )
    assert len(durations) == 16  # 4 files x reference, vocoder, base, enhanced
    for src, seconds in durations:
        assert seconds == pytest.approx(sf.info(str(run / unquote(src))).duration, abs=1e-3), src


def active(page, article: str) -> dict:
    return page.page.evaluate(
        "(article) => { const a = document.querySelector(`${article} audio:not([hidden])`); "
        "return {label: a.dataset.label, time: a.currentTime, paused: a.paused}; }",
        article,
    )


def test_switching_variant_keeps_the_playback_position(run, page):
    open_page(page, run / "report.html")
    first = "article.file[data-file='long.wav']"
    page.page.evaluate(f'document.querySelector("{first} audio").currentTime = 0.4')
    page.page.click(f"{first} button:has-text('enhanced')")
    now = active(page, first)
    assert now["label"] == "enhanced" and now["time"] == pytest.approx(0.4, abs=0.02) and now["paused"]
    page.page.click(f"{first} button:has-text('enhanced')")  # playing, then keys 3 (base) and 2 (vocoder)
    page.page.evaluate(
        "(a) => { const x = document.querySelector(`${a} audio:not([hidden])`); x.currentTime = 0; x.play(); }", first
    )
    wait_until(page, "(a) => document.querySelector(`${a} audio:not([hidden])`).currentTime > 0.15", arg=first)
    page.page.keyboard.press("3")  # the clip is 1 s long: the switches happen while it plays
    before = active(page, first)
    assert before["label"] == "base" and not before["paused"] and before["time"] > 0.15
    page.page.keyboard.press("2")
    after = active(page, first)
    assert after["label"] == "vocoder" and not after["paused"]
    assert after["time"] == pytest.approx(before["time"], abs=0.15)
    assert page.page.evaluate("[...document.querySelectorAll('audio')].filter(a => !a.paused).length") == 1


def test_players_of_a_long_page_load_when_played_and_still_switch_in_place(run, page, tmp_path, monkeypatch):
    import shutil

    from audiovae.reporting import report_html

    copy = tmp_path / "run"
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("wandb", "listening"))
    monkeypatch.setattr(report_html, "PRELOADED_FILES", 2)  # as on a page of more files than that
    report_html.write_report_html(
        copy / "report.html",
        json.loads((copy / "summary.json").read_text()),
        read_results(copy / "results.csv", ["lsd_hf", "snr"]),
    )
    open_page(page, copy / "report.html")
    preload = page.page.evaluate(
        "[...document.querySelectorAll('article.file')].map(a => a.querySelector('audio').getAttribute('preload'))"
    )
    assert preload == ["metadata", "metadata", "none", "none"]
    third = "article.file[data-order='2']"
    page.page.evaluate("(a) => document.querySelector(`${a} audio`).play()", third)
    wait_until(page, "(a) => document.querySelector(`${a} audio:not([hidden])`).currentTime > 0.1", arg=third)
    page.page.click(f"{third} button:has-text('base')")
    now = active(page, third)
    assert now["label"] == "base" and not now["paused"] and now["time"] > 0.1


def row_files(page) -> list[str]:
    return page.page.evaluate(
        "[...document.querySelectorAll('article.file')].filter(a => !a.hidden).map(a => a.dataset.file)"
    )


def test_sorting_by_a_metrics_delta_and_filtering_reorder_the_rows(run, page):
    open_page(page, run / "report.html")
    results = ok_results(run)
    assert row_files(page) == [r.file for r in results]
    better = scoring("lsd_hf").higher_is_better
    gains = {
        r.file: (1 if better else -1) * file_delta("lsd_hf", r.value("base", "lsd_hf"), r.value("enhanced", "lsd_hf"))
        for r in results
    }
    worst_first = sorted(gains, key=gains.get)
    page.page.select_option("#sort", "worst:lsd_hf")
    assert row_files(page) == worst_first
    page.page.select_option("#sort", "best:lsd_hf")
    assert row_files(page) == worst_first[::-1]
    page.page.select_option("#sort", "worst:lsd_hf")
    page.page.fill("#limit", "2")
    assert row_files(page) == worst_first[:2]  # "worst 2 by lsd_hf"
    assert page.page.text_content("#shown") == "2 of 4 files shown"
    assert "sort=worst%3Alsd_hf" in page.page.url and "limit=2" in page.page.url
    page.page.fill("#limit", "")
    page.page.fill("#search", "chirp")
    assert row_files(page) == ["sub dir/chirp #1.wav"]
    open_page(page, run / "report.html", "#sort=worst:lsd_hf&limit=1")  # a shared view opens as it was
    assert row_files(page) == worst_first[:1]


def download(page, button: str, folder: Path) -> Path:
    with page.page.expect_download() as info:
        page.page.click(button)
    target = folder / info.value.suggested_filename
    info.value.save_as(target)
    return target


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_blind_mushra_answers_download_and_unblind(run, page, tmp_path, fmt):
    open_page(page, run / "listening" / "mushra" / "index.html")
    assert page.errors == [] and all(r.startswith("file://") for r in page.requests)
    k = key(run, "mushra")
    for trial in k["trials"]:
        for slot, variant in trial["slots"].items():
            page.page.fill(f"#{trial['trial']}-{slot}", str(RATING[variant]))
    page.page.fill("#listener", "tester")
    saved = download(page, f"#download-{fmt}", tmp_path)
    assert saved.suffix == f".{fmt}" and "tester" in saved.name
    text, out = score([saved], key=run / "listening" / "keys" / "mushra.json", out=tmp_path / "scores")
    summary = json.loads((out / "scores-mushra.json").read_text())
    assert {v: s["mean"] for v, s in summary["variants"].items()} == RATING
    assert summary["listeners"] == ["tester"]


def test_blind_ab_answers_download_and_unblind(run, page, tmp_path):
    open_page(page, run / "listening" / "ab" / "index.html")
    k = key(run, "ab")
    for trial in k["trials"][:3]:  # the last trial left unanswered
        choice = next(s for s, v in trial["slots"].items() if v == "base")
        page.page.check(f"input[name='{trial['trial']}'][value='{choice}']")
    saved = download(page, "#download-json", tmp_path)
    assert "1 answers still empty" in page.page.text_content("#status")
    text, out = score([saved], out=tmp_path / "scores")  # the key found from the page's own location
    summary = json.loads((out / "scores-ab.json").read_text())
    assert summary["counts"] == {"enhanced": 0, "base": 3, "none": 0}


def test_sweep_compare_and_examples_pages_load_with_working_audio(run, page, tmp_path):
    from audiovae.compare import main as compare_main
    from audiovae.reporting.examples_html import write_examples_page

    assert compare_main([str(run), str(run), "--out", str(tmp_path / "cmp"), "--bootstrap", "50"]) == 0
    examples = tmp_path / "examples"
    examples.mkdir()
    for step in (0, 20):
        (examples / f"step{step:07d}_0.png").write_bytes((run / "plots" / "summary.png").read_bytes())
        for variant in ("reference", "vocoder", "base", "enhanced"):
            sf.write(str(examples / f"step{step:07d}_0.{variant}.wav"), np.zeros(8000, np.float32), 16000)
    write_examples_page(examples)
    for path, audios in ((tmp_path / "cmp" / "compare.html", 4 * 3), (examples / "index.html", 8)):
        open_page(page, path)
        assert page.errors == [] and all(r.startswith("file://") for r in page.requests)
        durations = page.page.evaluate("[...document.querySelectorAll('audio')].map(a => a.duration)")
        assert len(durations) == audios and all(d > 0.4 for d in durations)
    assert page.page.text_content("article h3") == "step 20, example 0"  # newest validation first
