"""Command-line entry points: `audiovae-eval` / `evaluate.py`, `audiovae-train` / `train.py`, `audiovae-generate` /
`generate.py` (config words), and `audiovae-compare`, `audiovae-export`. Every user-caused error is one line on
stderr and its exit status."""

import argparse
import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Optional, Sequence

from audiovae.config.compose import CONFIG_DIR, absolute_paths, compose, config_groups
from audiovae.errors import DEBUG_ENV, exit_status
from audiovae.models.availability import preflight
from audiovae.plugins import load_config_plugins
from audiovae.startup import import_job

PRIMARY = {"eval": "eval", "train": "train", "generate": "generate"}


def _evaluate(cfg) -> int:
    preflight(cfg)  # an unavailable model fails before the heavy imports below
    run_evaluation = import_job("audiovae.evaluation.job", "run_evaluation")
    outcome = run_evaluation(cfg)
    if outcome.reporting:
        for line in outcome.warnings:
            print(line, file=sys.stderr)
        print(
            f"evaluated {outcome.n_ok}/{outcome.n_files} files ({outcome.n_failed} failed); "
            f"report: {outcome.report} (to listen: {outcome.report.with_suffix('.html')})"
        )
    return outcome.exit_code(cfg.strict)


def _train(cfg) -> int:
    preflight(cfg)
    run_training = import_job("audiovae.training.run", "run_training")
    outcome = run_training(cfg)
    if outcome.exported:
        print(f"trained; best {cfg.checkpoint.monitor} = {outcome.best_score}; enhancer: {outcome.exported}")
    return 0


def _generate(cfg) -> int:
    preflight(cfg)
    run_generation = import_job("audiovae.generation.job", "run_generation")
    outcome = run_generation(cfg)
    print(
        f"generated {outcome.n_ok}/{outcome.n_items} items ({outcome.n_failed} failed; {outcome.diffusions} "
        f"diffusions run, the rest from cached latents or earlier rows); report: {outcome.report} (to listen: "
        f"{outcome.report.with_suffix('.html')})"
    )
    return outcome.exit_code(cfg.strict)


def _schema(job: str) -> type:
    from audiovae.config.schema import EvalConfig, GenerateConfig, TrainConfig

    return {"eval": EvalConfig, "train": TrainConfig, "generate": GenerateConfig}[job]


JOBS = {"eval": _evaluate, "train": _train, "generate": _generate}


def _quiet_libraries() -> None:
    """Keep the console to progress and results: no device banners, tips or third-party deprecations."""
    for name in (
        "pytorch_lightning.utilities.rank_zero",
        "lightning.pytorch.utilities.rank_zero",
        "pytorch_lightning.accelerators.cuda",
    ):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*experimental.*")  # Optuna's WilcoxonPruner, TPE's group
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    warnings.filterwarnings("ignore", message=".*anonymous setting.*")
    warnings.filterwarnings("ignore", message=".*module\\(s\\) in eval mode.*")  # frozen VAE/vocoder: intended
    # audiovae logs train metrics itself, every trainer.log_every_n_steps optimizer steps, whatever the epoch length
    warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")
    # the AudioLDM2 pipeline steps GPT-2 with the argument name diffusers uses (transformers renames it later)
    warnings.filterwarnings("ignore", message=".*past_key_values.*is deprecated.*", category=FutureWarning)


def from_file(config: str, config_dir=CONFIG_DIR) -> bool:
    """Whether `--config` names a file outside the installation's `configs/` folder (a run folder's config.yaml,
    someone's YAML): its code-running keys need consent."""
    path = Path(config) if Path(config).suffix in {".yaml", ".yml"} else config_dir / f"{config}.yaml"
    return not path.resolve().is_relative_to(Path(config_dir).resolve())


def admit_code(
    config: str, overrides: Sequence[str], trust: bool, typed: Optional[Sequence[str]] = None, via: Sequence[str] = ()
):
    """The config validator that checks consent for every key that runs code (`audiovae.consent`), then imports the
    plugins; a `model.family` that names a module is checked once the plugins have registered theirs. `typed`: the
    words of `overrides` the user typed (default: all of them); `via`: the configs the others come from (a search
    config's overrides for its trials): a file among `config` and `via` needs consent for what it runs."""
    from audiovae.consent import check_consent, code_uses, typed_uses
    from audiovae.models.families import BUILTIN_FAMILIES, FAMILIES

    trusted = trust or not any(from_file(c) for c in (config, *via))
    typed = typed_uses(overrides if typed is None else typed)
    source = f"--config {via[0] if via else config}"

    def admit(cfg) -> None:
        families = () if cfg.get("plugins") else {*BUILTIN_FAMILIES, *FAMILIES}  # a plugin may register it
        check_consent(code_uses(cfg, families), typed, trusted, source)
        load_config_plugins(cfg)
        check_consent(code_uses(cfg, {*BUILTIN_FAMILIES, *FAMILIES}), typed, trusted, source)

    return admit


def job_config(
    job: str,
    config: str,
    overrides: Sequence[str],
    trust: bool = False,
    typed: Optional[Sequence[str]] = None,
    via: Sequence[str] = (),
):
    """The composed, checked config of `job` from `config` and `overrides`, as its command line composes it: consent
    for code (`trust`: --trust-code; `typed`, `via`: see `admit_code`), plugins, absolute input paths, ranges, the
    metrics' sections."""
    from audiovae.config.ranges import check_ranges

    resolve_sections = import_job("audiovae.sections", "resolve_sections")  # imports torch
    validators = [admit_code(config, overrides, trust, typed, via), absolute_paths, check_ranges, resolve_sections]
    return compose(config, overrides, schema=_schema(job), validators=validators)


def groups_help(config_dir=CONFIG_DIR) -> str:
    """The config groups and their choices, for --help: `model: audioldm2, demo, tiny, ...`."""
    lines = ["config groups (pick one with group=name):"]
    for group in config_groups(config_dir):
        choices = sorted(p.stem for p in (config_dir / group).glob("*.yaml"))
        lines.append(f"  {group}: {', '.join(choices)}")
    lines.append("any key: dotted.key=value (e.g. enhancement.gain=1.6, data.dir=/path)")
    return "\n".join(lines)


def main(job: str, argv: Sequence[str]) -> int:
    """Compose the job's config from `--config` and `key=value` words and run it; an AudiovaeError is printed as
    `error: <message>` and returns its exit status."""
    _quiet_libraries()
    parser = argparse.ArgumentParser(
        prog=f"audiovae-{job}",
        description=f"audiovae {job}: key=value overrides",
        epilog=groups_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", default=PRIMARY[job], help="a config name in configs/ or a saved config.yaml")
    parser.add_argument(
        "--trust-code",
        action="store_true",
        help="run the plugins, pipe: commands and family modules that a config file names (docs: Code and consent)",
    )
    parser.add_argument(
        "--debug", action="store_true", help="a plugin's exception shows its traceback (also AUDIOVAE_DEBUG=1)"
    )
    parser.add_argument("overrides", nargs="*", help="group=name or dotted.key=value")
    args = parser.parse_args(argv)
    if args.debug:
        os.environ[DEBUG_ENV] = "1"

    def run() -> int:
        from audiovae.home import check_home

        check_home()
        return JOBS[job](job_config(job, args.config, args.overrides, args.trust_code))

    return exit_status(run)


def eval_main(argv: Optional[Sequence[str]] = None) -> int:
    """The `audiovae-eval` console entry point (`evaluate.py`)."""
    return main("eval", sys.argv[1:] if argv is None else argv)


def train_main(argv: Optional[Sequence[str]] = None) -> int:
    """The `audiovae-train` console entry point (`train.py`)."""
    return main("train", sys.argv[1:] if argv is None else argv)


def generate_main(argv: Optional[Sequence[str]] = None) -> int:
    """The `audiovae-generate` console entry point (`generate.py`)."""
    return main("generate", sys.argv[1:] if argv is None else argv)


def compare_main(argv: Optional[Sequence[str]] = None) -> int:
    """The `audiovae-compare` console entry point."""
    compare = import_job("audiovae.compare", "main")
    return compare(sys.argv[1:] if argv is None else list(argv))


def search_main(argv: Optional[Sequence[str]] = None) -> int:
    """The `audiovae-search` console entry point."""
    search = import_job("audiovae.search.run", "main")
    return search(sys.argv[1:] if argv is None else list(argv))


def export_main(argv: Optional[Sequence[str]] = None) -> int:
    """The `audiovae-export` console entry point."""
    export = import_job("audiovae.training.export", "main")
    return export(sys.argv[1:] if argv is None else list(argv))
