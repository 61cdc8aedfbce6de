"""Command-line entry: parse `--config NAME|PATH` and `key=value` words, run the job, one-line errors."""
import argparse
import logging
import sys
import warnings
from typing import Sequence

from audiovae.audio.io import AudioError
from audiovae.config.compose import ConfigError, compose
from audiovae.data.files import DataError
from audiovae.lightning.train_module import NonFiniteLossError
from audiovae.models.loading import ModelUnavailableError


def _jobs():
    from audiovae.config.schema import EvalConfig, TrainConfig
    from audiovae.enhancers.registry import resolve_enhancement
    from audiovae.evaluation.run import run_evaluation

    def evaluate(cfg):
        outcome = run_evaluation(cfg)
        if outcome.reporting:
            print(f"evaluated {outcome.n_ok}/{outcome.n_files} files ({outcome.n_failed} failed); "
                  f"report: {outcome.report}")
        return outcome.exit_code(cfg.strict)

    def train(cfg):
        from audiovae.training.run import run_training
        outcome = run_training(cfg)
        if outcome.exported:
            print(f"trained; best {cfg.checkpoint.monitor} = {outcome.best_score}; enhancer: {outcome.exported}")
        return 0

    return {"eval": (EvalConfig, [resolve_enhancement], evaluate),
            "train": (TrainConfig, [resolve_enhancement], train)}


def _quiet_libraries() -> None:
    """Keep the console to progress and results: no device banners, tips or third-party deprecations."""
    for name in ("pytorch_lightning.utilities.rank_zero", "lightning.pytorch.utilities.rank_zero",
                 "pytorch_lightning.accelerators.cuda"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    warnings.filterwarnings("ignore", message=".*anonymous setting.*")
    warnings.filterwarnings("ignore", message=".*module\\(s\\) in eval mode.*")  # frozen VAE/vocoder: intended


def main(job: str, argv: Sequence[str]) -> int:
    _quiet_libraries()
    parser = argparse.ArgumentParser(prog=f"{job}.py", description=f"audiovae {job}: key=value overrides")
    parser.add_argument("--config", default=job, help="a config name in configs/ or a saved config.yaml")
    parser.add_argument("overrides", nargs="*", help="group=name or dotted.key=value")
    args = parser.parse_args(argv)
    schema, validators, run = _jobs()[job]
    try:
        cfg = compose(args.config, args.overrides, schema=schema, validators=validators)
        return run(cfg)
    except (ConfigError, DataError, ModelUnavailableError, AudioError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except NonFiniteLossError as err:
        print(f"error: {err}", file=sys.stderr)
        return 3
