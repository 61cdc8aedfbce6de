"""`audiovae-search`: Optuna studies on the demo and tiny models. Two workers share one journal study without losing
or repeating a trial; an RDB (SQLite) study draws the same trials; a clearly worse trial is pruned by the paired
Wilcoxon test, a training trial that falls behind by the median pruner; a dead worker's trial is handed back and the
study completes; the best trial's config reproduces its values; the study page loads from disk in headless
Chromium; a bad space is one line. The studies of several trials are `slow` (`make slow`)."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from optuna.trial import TrialState

from audiovae.errors import ConfigError
from audiovae.reporting.records import read_csv
from audiovae.search.run import Search, compose_search, run_workers, tell, work
from audiovae.search.space import draw, job_words, parse_space
from audiovae.search.study import hand_back_stale_trials
from tests.conftest import tone, write

SR = 16000
METRICS = "metrics.names=[lsd_hf,mel_distance,lsd_lf]"


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("search_clips")
    for i, f in enumerate((220, 330, 440, 550, 660)):
        write(folder / f"c{i}.wav", tone(f, 1.0, SR, amp=0.3) + tone(3000 + 500 * i, 1.0, SR, amp=0.08), SR)
    return folder


def words(clips, out_dir, *extra):
    """The search words of a study on `clips` into `out_dir`: the study's keys, then the job's words."""
    return [
        "search.config=eval_demo",
        "search.space={enhancement.gain: {type: float, low: 0.8, high: 2.0}, "
        "enhancement.cutoff: {type: float, low: 0.15, high: 0.45}}",
        f"out_dir={out_dir}",
        *extra,
        f"data.dir={clips}",
        METRICS,
        "logger=none",
        "outputs.save_audio=false",
        "outputs.save_plots=false",
        "outputs.listening_files=0",
        "model.options.griffin_lim_iters=4",
        "cache.enabled=false",
    ]


def search_of(clips, out_dir, *extra) -> Search:
    return Search(compose_search("search", words(clips, out_dir, *extra)))


@pytest.fixture(scope="module")
def two_workers(clips, tmp_path_factory):
    out = tmp_path_factory.mktemp("journal")
    search = search_of(clips, out, "search.trials=8", "search.pruner=none", "select.guards=[]")
    search.study().enqueue_trial({"enhancement.gain": 0.7, "enhancement.cutoff": 0.15})  # improves lsd_hf here
    run_workers(search.cfg, 2)
    return search


@pytest.mark.slow
def test_two_workers_complete_the_budget_with_no_trial_lost_or_run_twice(two_workers):
    study = two_workers.study()
    trials = study.get_trials()
    assert len(trials) == 8 and all(t.state == TrialState.COMPLETE for t in trials)
    assert len({t.user_attrs["worker"] for t in trials}) == 2  # both processes took trials
    folders = [t.user_attrs["run_dir"] for t in trials if "same_as" not in t.user_attrs]
    assert len(folders) == len(set(folders))
    for folder in folders:  # each trial's run measured every file once
        rows = read_csv(two_workers.out_dir / folder / "results.csv")
        assert sorted(r["file"] for r in rows) == [f"c{i}.wav" for i in range(5)]
    study_rows = read_csv(two_workers.out_dir / "study.csv") if (two_workers.out_dir / "study.csv").exists() else []
    assert study_rows == []  # the workers leave the outputs to the command


@pytest.mark.slow
def test_the_study_outputs_and_the_best_trials_config_reproduce_its_values(two_workers, tmp_path):
    from audiovae.search.outputs import write_study_outputs

    line = write_study_outputs(two_workers)
    out = two_workers.out_dir
    rows = read_csv(out / "study.csv")
    assert [r["trial"] for r in rows] == list(range(8)) and {r["state"] for r in rows} == {"complete"}
    study = two_workers.study()
    for row, trial in zip(rows, study.trials):
        assert row["lsd_hf_improvement"] == pytest.approx(trial.values[0])
        assert row["enhancement.gain"] == pytest.approx(trial.params["enhancement.gain"])
    assert (out / "best_config.yaml").exists() and (out / "best_enhancement.yaml").exists(), line
    best = int(line.split("trial-")[1].split()[0])
    trial = study.trials[best]
    assert trial.values[0] == max(t.values[0] for t in study.trials)  # no guards here: the largest improvement
    from audiovae.cli import job_config
    from audiovae.evaluation.job import run_evaluation

    cfg = job_config("eval", str(out / "best_config.yaml"), [f"out_dir={tmp_path / 'again'}"])
    run_evaluation(cfg)
    reproduced = {r["file"]: r for r in read_csv(tmp_path / "again" / "results.csv")}
    original = {r["file"]: r for r in read_csv(out / trial.user_attrs["run_dir"] / "results.csv")}
    for name, row in original.items():
        assert reproduced[name]["enhanced_lsd_hf"] == pytest.approx(row["enhanced_lsd_hf"], rel=1e-6)
    assert float(cfg.enhancement.gain) == pytest.approx(trial.params["enhancement.gain"])
    assert (out / "study.html").exists() and (out / "plots" / "history.png").exists()


@pytest.mark.slow
def test_the_study_page_loads_from_disk_with_its_pictures(two_workers, page):
    from audiovae.search.outputs import write_study_outputs

    write_study_outputs(two_workers)
    page.page.goto((two_workers.out_dir / "study.html").as_uri())
    assert page.page.locator("table.trials tbody tr").count() == 8
    widths = page.page.evaluate("[...document.images].map(i => i.complete ? i.naturalWidth : 0)")
    assert len(widths) >= 3 and all(w > 100 for w in widths)
    assert page.errors == [] and all(r.startswith("file://") for r in page.requests)
    reports = page.page.eval_on_selector_all("ul.reports a", "links => links.map(a => a.href)")
    assert len(reports) == 8 and all(Path(unquote(urlparse(h).path)).is_file() for h in reports)


@pytest.mark.slow
def test_an_rdb_study_draws_the_same_trials_as_the_journal_study(clips, tmp_path):
    params = {}
    for kind in ("journal", "sqlite"):
        storage = [f"search.storage=sqlite:///{tmp_path / 'study.db'}"] if kind == "sqlite" else []
        search = search_of(clips, tmp_path / kind, "search.trials=3", "search.pruner=none", *storage)
        work(search.cfg)
        params[kind] = [t.params for t in search.study().trials]
    assert params["journal"] == params["sqlite"] and len(params["sqlite"]) == 3
    assert (tmp_path / "study.db").exists() and not (tmp_path / "sqlite" / "study.journal").exists()


def test_a_clearly_worse_trial_is_pruned_by_the_paired_test(clips, tmp_path):
    search = search_of(clips, tmp_path / "pruned", "search.trials=2", "search.startup_steps=2")
    study = search.study()
    study.enqueue_trial({"enhancement.gain": 1.0, "enhancement.cutoff": 0.3})  # no change: improvement 0
    study.enqueue_trial({"enhancement.gain": 2.0, "enhancement.cutoff": 0.15})  # boosts noise into the high band
    work(search.cfg)
    first, second = search.study().trials
    assert first.state == TrialState.COMPLETE and first.values[0] == pytest.approx(0.0, abs=1e-9)
    assert second.state == TrialState.PRUNED and second.user_attrs["pruned_at"] < 5  # before the last file


def test_a_dead_workers_trial_is_handed_back_and_the_study_completes(clips, tmp_path):
    search = search_of(clips, tmp_path / "stale", "search.trials=2", "search.pruner=none")
    study = search.study()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    trial = study.ask({})
    trial.set_user_attr("worker", f"{socket.gethostname()}:{dead.pid}")
    trial.suggest_float("enhancement.gain", 0.8, 2.0)
    trial.suggest_float("enhancement.cutoff", 0.15, 0.45)
    assert hand_back_stale_trials(study) == [0]
    work(search.cfg)
    trials = search.study().trials
    assert trials[0].state == TrialState.FAIL and "stopped mid-trial" in trials[0].user_attrs["failed_because"]
    assert trials[1].user_attrs["retry_of"] == 0 and trials[1].params == trials[0].params
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 2


@pytest.mark.slow
def test_a_worker_killed_mid_trial_leaves_a_trial_the_next_worker_finishes(clips, tmp_path):
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "audiovae.search", *words(clips, out, "search.trials=2", "search.pruner=none")]
    worker = subprocess.Popen(cmd)
    deadline = time.time() + 120
    while time.time() < deadline and not list(out.glob("trials/*/partial/*")):
        time.sleep(0.2)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    search = search_of(clips, out, "search.trials=2", "search.pruner=none")
    work(search.cfg)
    trials = search.study().trials
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 2
    assert any(t.state == TrialState.FAIL and "stopped mid-trial" in t.user_attrs["failed_because"] for t in trials)


def test_a_bad_space_is_one_line_naming_the_key():
    with pytest.raises(ConfigError, match=r"search.space.data.dir': a eval study searches enhancement"):
        parse_space({"data.dir": {"type": "categorical", "choices": ["a"]}}, "eval")
    with pytest.raises(ConfigError, match=r"search.space.enhancement.gain': needs low < high"):
        parse_space({"enhancement.gain": {"type": "float", "low": 2, "high": 1}}, "eval")
    with pytest.raises(ConfigError, match=r"search.space.enhancement.gain.type': one of float, int, categorical"):
        parse_space({"enhancement.gain": {"type": "normal"}}, "eval")
    with pytest.raises(ConfigError, match=r"when': enhancement='x' is not a choice"):
        parse_space({"enhancement.gain": {"type": "float", "low": 1, "high": 2, "when": {"enhancement": "x"}}}, "eval")


def test_conditional_keys_are_drawn_only_under_their_choice():
    import optuna

    space = parse_space(
        {
            "enhancement": {"type": "categorical", "choices": ["latent_fft_boost", "mel_hf_shelf"]},
            "enhancement.cutoff": {
                "type": "float",
                "low": 0.2,
                "high": 0.4,
                "when": {"enhancement": "latent_fft_boost"},
            },
        },
        "eval",
    )
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    seen = set()
    for _ in range(12):
        trial = study.ask()
        drawn = draw(trial, space)
        assert ("enhancement.cutoff" in drawn) == (drawn["enhancement"] == "latent_fft_boost")
        seen.add(drawn["enhancement"])
        words = job_words(drawn, space)
        assert words[0].startswith("enhancement=")  # the group's file before its keys
        study.tell(trial, 0.0)
    assert seen == {"latent_fft_boost", "mel_hf_shelf"}


@pytest.mark.slow
def test_each_trial_and_the_study_summary_are_wandb_runs_in_the_studys_group(clips, tmp_path):
    from audiovae.search.outputs import write_study_outputs
    from tests.wandb_offline import read_offline_run

    job = [w for w in words(clips, tmp_path / "logged", "search.trials=1", "search.pruner=none") if w != "logger=none"]
    search = Search(compose_search("search", job))
    work(search.cfg)
    write_study_outputs(search)
    trial = search.study().trials[0]
    logged = read_offline_run(next((search.out_dir / trial.user_attrs["run_dir"] / "wandb").glob("offline-run-*")))
    assert logged["group"] == search.group and logged["job_type"] == "eval"
    assert logged["config"]["enhancement"]["gain"] == pytest.approx(trial.params["enhancement.gain"])
    summary = read_offline_run(next((search.out_dir / "wandb").glob("offline-run-*")))
    assert summary["job_type"] == "search_summary" and summary["group"] == search.group
    assert "search/trials" in summary["tables"]


@pytest.mark.slow
def test_a_training_study_prunes_the_trial_that_falls_behind_at_a_validation(tmp_path):
    from audiovae.demo import write_demo_clips
    from audiovae.search.outputs import write_study_outputs

    clips = tmp_path / "clips"
    write_demo_clips(clips, seconds=1.5)
    job = [
        "model=tiny",
        f"data.dir={clips}",
        "data.crop_seconds=1.0",
        "data.batch_size=2",
        "data.val_batch_size=2",
        "data.val_ratio=0.4",
        "examples.count=0",
        "optim.warmup_steps=1",
        "checkpoint.monitor=val/enhanced/mel_l1",
        "checkpoint.last_every_n_steps=2",
        "trainer.max_steps=6",
        "trainer.val_check_interval=2",
        "trainer.check_val_every_n_epoch=null",
        "logger=none",
    ]
    study_words = [
        "search.job=train",
        "search.config=train",
        "search.space={optim.lr: {type: float, low: 1e-8, high: 0.1, log: true}}",
        "search.trials=3",
        "search.startup_steps=1",
        f"out_dir={tmp_path / 'study'}",
    ]
    search = Search(compose_search("search", [*study_words, *job]))
    assert search.directions == ["minimize"] and search.objectives == ["val/enhanced/mel_l1"]
    study = search.study()
    for lr in (0.05, 0.03, 1e-8):  # the last barely moves: behind the median of the others at its 2nd validation
        study.enqueue_trial({"optim.lr": lr})
    work(search.cfg)
    trials = search.study().trials
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.COMPLETE, TrialState.PRUNED]
    assert trials[2].user_attrs["pruned_at"] < 6  # stopped before its last step
    assert (search.out_dir / trials[0].user_attrs["run_dir"] / "enhancer.safetensors").exists()
    line = write_study_outputs(search)
    assert "trial-0" in line or "trial-1" in line
    rows = read_csv(search.out_dir / "study.csv")
    assert rows[2]["state"] == "pruned" and "val/enhanced/mel_l1" in rows[0]
    with pytest.raises(ConfigError, match="search.pruner': wilcoxon tests per-file values"):
        Search(compose_search("search", [*study_words, "search.pruner=wilcoxon", *job])).study()


def test_a_two_objective_study_draws_its_pareto_front(tmp_path):
    import optuna

    from audiovae.search.outputs import write_plots

    study = optuna.create_study(directions=["maximize", "maximize"], sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: (t.suggest_float("g", 0, 1), 1 - t.suggest_float("g2", 0, 1) ** 2), n_trials=12)
    figures = write_plots(tmp_path, study, ["lsd_hf_improvement", "mel_distance_improvement"])
    assert ("plots/pareto.png", "Pareto front") in figures and (tmp_path / "plots" / "pareto.png").stat().st_size
    assert not (tmp_path / "plots" / "importances.png").exists()  # a single objective's


def test_the_bundled_demo_study_composes_and_its_space_parses():
    cfg = compose_search("search_demo", [])
    space = parse_space(dict(cfg.search.space), "eval")
    assert [d.key for d in space] == ["enhancement.gain", "enhancement.cutoff"] and cfg.search.trials == 12


def test_values_that_ran_are_not_run_again(clips, tmp_path):
    search = search_of(clips, tmp_path / "twice", "search.trials=2", "search.pruner=none")
    study = search.study()
    for _ in range(2):
        study.enqueue_trial({"enhancement.gain": 1.2, "enhancement.cutoff": 0.3})
    work(search.cfg)
    first, second = search.study().trials
    assert second.user_attrs["same_as"] == 0 and second.values == first.values
    assert len(list((search.out_dir / "trials").iterdir())) == 1


def test_the_command_refuses_a_bad_study_in_one_line_before_any_trial(tmp_path, capsys):
    from audiovae.search.run import main

    bad = ["search.space={data.dir: {type: categorical, choices: [a]}}", f"out_dir={tmp_path / 's'}"]
    assert main(["--config", "search_demo", *bad]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: config key 'search.space.data.dir'")
    assert main(["--config", "search_demo", "--workers", "0", f"out_dir={tmp_path / 's'}"]) == 2
    assert not (tmp_path / "s" / "trials").exists()


def test_each_sampler_is_seeded_per_worker_and_a_grid_needs_steps_or_choices():
    import optuna
    from omegaconf import OmegaConf

    from audiovae.search.study import sampler_for

    space = parse_space(
        {
            "enhancement.gain": {"type": "float", "low": 1.0, "high": 1.5, "step": 0.25},
            "enhancement.axis": {"type": "categorical", "choices": [-1, -2]},
        },
        "eval",
    )
    kinds = {"tpe": "TPESampler", "cmaes": "CmaEsSampler", "random": "RandomSampler", "grid": "GridSampler"}
    for kind, name in kinds.items():
        assert type(sampler_for(OmegaConf.create({"sampler": kind, "seed": 3}), space)).__name__ == name

    def draws(worker):
        study = optuna.create_study(
            sampler=sampler_for(OmegaConf.create({"sampler": "random", "seed": 3}), space, worker)
        )
        return [draw(study.ask(), space) for _ in range(3)]

    assert draws(0) == draws(0) != draws(1)
    study = optuna.create_study(sampler=sampler_for(OmegaConf.create({"sampler": "grid", "seed": 0}), space))
    seen = []
    for _ in range(6):
        trial = study.ask()
        seen.append(tuple(draw(trial, space).values()))
        tell(study, trial, 0.0)  # the grid's last point stops the study: not an error here
    assert sorted(seen) == sorted((g, a) for g in (1.0, 1.25, 1.5) for a in (-1, -2))  # every point once
    stepless = parse_space({"enhancement.gain": {"type": "float", "low": 1.0, "high": 1.5}}, "eval")
    with pytest.raises(ConfigError, match="a grid needs a step for a float"):
        sampler_for(OmegaConf.create({"sampler": "grid", "seed": 0}), stepless)


def test_a_study_file_runs_no_code_without_consent(tmp_path, capsys):
    import yaml

    from audiovae.search.run import Consent, main

    sentinel, plugin = tmp_path / "SENTINEL", tmp_path / "quiet.py"
    plugin.write_text(f"open({str(sentinel)!r}, 'w').write('ran')\n")
    study = tmp_path / "study.yaml"
    body = {
        "extends": "search",
        "search": {
            "config": "eval_demo",  # the job's config is the installation's: the study file still is someone's
            "overrides": [f"plugins=[{plugin}]"],
            "space": {"enhancement.gain": {"type": "float", "low": 1.0, "high": 2.0}},
        },
        "out_dir": str(tmp_path / "s"),
    }
    study.write_text(yaml.safe_dump(body))
    assert main(["--config", str(study)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"error: --config {study} would run code: plugins[0]: plugin {plugin}")
    assert not sentinel.exists() and not (tmp_path / "s").exists()
    typed = f"plugins=[{plugin}]"  # typed on the command line, the same plugin is the user's own
    Search(compose_search(str(study), [typed]), Consent(False, str(study), (typed,)))
    assert sentinel.exists()


def test_a_study_writes_only_into_its_own_folder(tmp_path, capsys):
    from audiovae.search.run import main

    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "study.csv").write_text("someone's table\n")
    before = {p.name: p.read_bytes() for p in theirs.iterdir()}
    assert main(["--config", "search_demo", f"out_dir={theirs}"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == (
        f"error: config key 'out_dir': '{theirs}' holds files that are not an audiovae study's (study.csv): "
        "choose an empty or new folder"
    )
    assert {p.name: p.read_bytes() for p in theirs.iterdir()} == before  # nothing written beside it
    ours = Search(compose_search("search_demo", [f"out_dir={tmp_path / 'ours'}", "search.name=one"]))
    ours.study()
    other = Search(compose_search("search_demo", [f"out_dir={tmp_path / 'ours'}", "search.name=two"]))
    with pytest.raises(ConfigError, match="holds the study 'one', not 'two'"):
        other.study()
    assert ours.study() is not None  # the same study continues in its folder
