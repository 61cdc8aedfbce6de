"""`evaluate.py`'s job, with or without `sweep.*`: config -> settings -> one pass over the files (each file
encoded once for every setting; `audiovae.evaluation.devices`) -> per-setting results, summary, report, W&B -> the
sweep's outputs."""

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import torch
from omegaconf import DictConfig

from audiovae.cache.store import check_cache
from audiovae.data.eval_data import EvalDataset, ShardEvalDataset
from audiovae.data.files import output_stems
from audiovae.data.segments import segment_samples
from audiovae.data.sources import Entry, Listing, entry_sounds, list_entries
from audiovae.data.sources import fingerprints as entry_fingerprints
from audiovae.enhancers.base import MEL
from audiovae.enhancers.registry import build_enhancer
from audiovae.errors import ConfigError, DataError
from audiovae.evaluation.caching import build_run_cache
from audiovae.evaluation.calibration import MeasuredLag, measure_vocoder_lag
from audiovae.evaluation.context import Alignment, MeasuringContext
from audiovae.evaluation.devices import FilesRun, check_trainer, run_files, seed_everything
from audiovae.evaluation.file_evaluator import FileEvaluator, MediaPlan
from audiovae.evaluation.joins import Segmenting
from audiovae.evaluation.metric_pool import metric_pool
from audiovae.evaluation.outputs import RunInfo, write_setting_outputs
from audiovae.metrics.base import WAVEFORM
from audiovae.metrics.registry import check_metric_names, file_metric_names, metric_arguments, metric_info
from audiovae.metrics.sets import needs_embedding
from audiovae.models.embedding import ClapEmbedder, load_embedder
from audiovae.models.factory import build_model, frontend_for
from audiovae.models.variants import CEILING
from audiovae.pipeline import ReconstructionPipeline
from audiovae.reporting.records import FileResult
from audiovae.reporting.report import alignment_warning
from audiovae.reporting.tracking import check_logger
from audiovae.runs.folders import is_launcher_process, prepare_out_dir, resolve_out_dir, run_hash, run_lock
from audiovae.runs.selection import check_selection
from audiovae.runs.settings import EVAL_IGNORE, Setting, plan_settings
from audiovae.runs.store import ResultStore, resume_note, still_valid
from audiovae.runs.sweep import write_sweep_outputs


@dataclass
class EvalOutcome:
    """What an evaluation ended with: its folder, the counts of entries, ok and failed, its report's name, whether
    this process reports (rank 0), and warnings for stderr; `exit_code(strict)` is the command's status."""

    out_dir: Path
    n_files: int
    n_ok: int
    n_failed: int
    report_name: str = "report.md"  # sweeps: sweep.md
    reporting: bool = True  # False on DDP ranks other than 0: they evaluate files but write no results
    warnings: list = field(default_factory=list)  # lines the command line prints to stderr (e.g. misalignment)

    @classmethod
    def of_worker_rank(cls, out_dir: Path) -> "EvalOutcome":
        """The outcome of a DDP rank other than 0: it writes its rows and no report."""
        return cls(out_dir, 0, 0, 0, reporting=False)

    @property
    def report(self) -> Path:
        """The path of the run's report.md."""
        return self.out_dir / self.report_name

    def exit_code(self, strict: bool) -> int:
        """Non-zero when nothing could be evaluated, or with strict=true when any file failed. Worker ranks exit 0:
        Lightning's launcher kills every process as soon as one exits non-zero, rank 0 included."""
        if not self.reporting:
            return 0
        return 1 if self.n_ok == 0 or (strict and self.n_failed > 0) else 0


def segmenting_for(cfg: DictConfig, frame_multiple: int) -> Segmenting:
    """Segments of `data.max_seconds` rounded to whole multiples of `frame_multiple` front-end frames (the model's
    latent frames: `AudioAutoencoder.frame_multiple`)."""
    hop, sr = cfg.frontend.hop_length, cfg.frontend.sample_rate
    segment = segment_samples(cfg.data.max_seconds, sr, hop, frame_multiple)
    overlap = round(cfg.data.chunk_overlap_seconds * sr / hop) * hop
    if cfg.data.chunking and not 0 <= overlap < segment:
        raise ConfigError("config key 'data.chunk_overlap_seconds': must be shorter than data.max_seconds")
    return Segmenting(segment, overlap, cfg.data.chunking, eval_batch_size(cfg), hop, cfg.data.pad)


Observer = Callable[[str, FileResult], None]  # told of each file's result (`evaluate_settings`)

GPU_BATCH = 8  # data.batch_size: null on a GPU


def eval_batch_size(cfg: DictConfig) -> int:
    """`data.batch_size`, or for null 1 on the CPU (fastest there: batch 1 evaluated 0.51 s of audio per second at
    full size, batch 4 0.40 and 8 0.36, docs "Speed") and GPU_BATCH when the run will use a GPU."""
    if cfg.data.batch_size is not None:
        return cfg.data.batch_size
    gpu = torch.cuda.is_available() and cfg.trainer.accelerator in ("auto", "gpu", "cuda")
    return GPU_BATCH if gpu else 1


@dataclass
class EvalSetup:
    """What every evaluation builds once, whatever its number of settings: entries, pipeline, metrics."""

    entries: list[Entry]
    keys: list[str]
    stems: list[str]
    discovery: Listing
    pipeline: ReconstructionPipeline
    segmenting: Segmenting
    metrics: dict
    metric_arguments: dict  # name -> the constructor arguments its metric was built with (what the cache keys)
    embedder: Optional[ClapEmbedder] = None  # set metrics' embedding model, loaded only when they are configured
    listing_s: float = 0.0  # seconds spent listing the entries (a shard catalogue streams every shard)


def measured_arguments(cfg: DictConfig) -> dict[str, dict]:
    """Each per-file metric of `metrics.names` -> its constructor arguments (`metric_arguments`): waveform metrics
    at `metrics.common_rate` when set (else the front end's rate), mel-domain ones on the front end's log-mel."""
    common, rate = cfg.metrics.common_rate, cfg.frontend.sample_rate
    return {
        name: metric_arguments(name, common if common and metric_info(name).domain == WAVEFORM else rate, cfg.metrics)
        for name in file_metric_names(cfg.metrics.names)
    }


def build_setup(cfg: DictConfig) -> EvalSetup:
    """The entries of `data.*` (`audiovae.data.sources.list_entries`, timed), their unique output stems, the model
    with its channel rule and front end, the reconstruction pipeline, the per-file metrics and (for set metrics) the
    embedding model: everything an evaluation builds once, whatever its number of settings."""
    start = time.perf_counter()
    discovery = list_entries(cfg.data)
    if not discovery.entries:  # a shard set or a plugin source that lists nothing (a folder and a manifest say so)
        where = cfg.data.get("shards") or cfg.data.get("source")
        raise DataError(f"data {where!r}: {discovery.line()}: nothing to evaluate")
    listing_s = time.perf_counter() - start
    keys = [e.key for e in discovery.entries]
    stems = output_stems(keys)
    model = build_model(cfg.model, cfg.enhancement, cfg.frontend)
    check_model_settings(cfg, model)
    model.read_channels(cfg.data.channels)  # a stereo model's two channels, or mono
    frontend = frontend_for(cfg.frontend, model)
    pipeline = ReconstructionPipeline(frontend, model)
    arguments = measured_arguments(cfg)
    metrics = build_metrics(arguments)
    embedder = load_embedder(cfg.embedding) if needs_embedding(cfg.metrics.names) else None
    return EvalSetup(
        discovery.entries,
        keys,
        [stems[k] for k in keys],
        discovery,
        pipeline,
        segmenting_for(cfg, frontend.frame_multiple),
        metrics,
        arguments,
        embedder,
        listing_s,
    )


def check_model_settings(cfg: DictConfig, model) -> None:
    """ConfigError (one line, at start-up) for settings the model cannot honour: the vocoder lag of a model without a
    vocoder ceiling, several channels through a one-channel resampler, a common rate with a shifted metric, log-mel
    padding of a model that encodes waveforms (the front end against the model: `check_enhancer`, per setting)."""
    if CEILING not in model.variants and cfg.metrics.align == "vocoder_lag":
        raise ConfigError(
            f"config key 'metrics.align': vocoder_lag aligns to the vocoder ceiling, which the "
            f"{model.family} model has not; use fixed"
        )
    if cfg.data.channels == "model" and model.channels > 1 and cfg.data.resampler == "audioldm2":
        raise ConfigError(
            f"config key 'data.resampler': audioldm2 resamples one channel, the {model.family} model "
            f"takes {model.channels}; use soxr_hq (or data.channels=mix)"
        )
    common = cfg.metrics.common_rate
    if common and (cfg.metrics.align != "fixed" or cfg.metrics.align_samples):
        raise ConfigError(
            "config key 'metrics.common_rate': the waveform metrics' shift is in model-rate samples; "
            "use metrics.align=fixed with metrics.align_samples=0 (the lag search still runs)"
        )
    if model.analysis != MEL and cfg.data.pad == "log_mel_zeros":
        raise ConfigError(
            f"config key 'data.pad': log_mel_zeros pads the encoded log-mel, but the {model.family} "
            f"model encodes waveforms; use silence or repeat"
        )


def build_metrics(arguments: dict[str, dict]) -> dict:
    """The per-file metrics, each built from its constructor arguments (`measured_arguments`)."""
    return {name: metric_info(name)(**args) for name, args in arguments.items()}


def min_samples(metrics: dict, sample_rate: int, common_rate: Optional[int] = None) -> int:
    """The shortest clip (samples at the model's `sample_rate`) every configured metric is defined on: the
    longest STFT window among them (2048 samples at the defaults: 0.128 s at 16 kHz), a common-rate metric's
    window counted at its rate."""

    def at_model_rate(m) -> int:
        scale = sample_rate / common_rate if common_rate and m.domain == WAVEFORM else 1
        return math.ceil(m.min_samples * scale)

    return max([1, *(at_model_rate(m) for m in metrics.values())])


def run_test(
    cfg: DictConfig, setup: EvalSetup, evaluator: FileEvaluator, todo: list[int], fingerprints: Optional[dict] = None
) -> FilesRun:
    """`evaluator` over the entries at positions `todo` (`audiovae.evaluation.devices`); `fingerprints` (entry key ->
    content hash taken before the run) let an entry that changes while it is read end as an error row."""
    max_samples = None if cfg.data.chunking else setup.segmenting.segment
    dataset = EvalDataset(
        setup.entries,
        todo,
        setup.pipeline.frontend,
        max_samples,
        cfg.data.silence_threshold_db,
        setup.stems,
        min_samples=min_samples(setup.metrics, cfg.frontend.sample_rate, cfg.metrics.common_rate),
        channels=cfg.data.channels,
        resampler=cfg.data.resampler,
        fingerprints=fingerprints,
        n_channels=setup.pipeline.model.channels,
    )
    if setup.discovery.shards:
        dataset = ShardEvalDataset(setup.discovery.shards, dataset)
    return run_files(cfg.trainer, evaluator, dataset, setup.segmenting.batch_segments, cfg.data.num_workers)


def alignment_for(cfg: DictConfig, setup: EvalSetup) -> tuple[Alignment, Optional[MeasuredLag]]:
    """The lag search and the shift of the waveform metrics: `metrics.align_samples` (`metrics.align: fixed`),
    or the vocoder ceiling's lag measured before the run (`vocoder_lag`, `audiovae.evaluation.calibration`)."""
    if cfg.metrics.align != "vocoder_lag":
        return Alignment(cfg.metrics.max_lag_samples, cfg.metrics.align_samples), None
    measured = measure_vocoder_lag(
        setup.pipeline,
        entry_sounds(setup.discovery),
        setup.segmenting.segment,
        cfg.metrics.max_lag_samples,
        cfg.data.silence_threshold_db,
        cfg.data.channels,
        cfg.data.resampler,
        cfg.data.pad,
    )
    if is_launcher_process():
        print(measured.line())
    return Alignment(cfg.metrics.max_lag_samples, measured.shift), measured


def evaluate_settings(
    cfg: DictConfig, setup: EvalSetup, settings: Sequence[Setting], enhancers: dict, observer: Optional[Observer] = None
) -> tuple[Optional[dict[str, tuple[list[FileResult], list[FileResult]]]], Optional[RunInfo]]:
    """Every setting (its enhancer chain in `enhancers`) over every file it lacks (resume), each file encoded once
    for all of them. Returns, on the global-zero rank, `{setting: (all its results in file order, the new ones)}`;
    None on the other ranks. `observer(setting, result)` is told of every file's result in file order, the stored
    ones (resume) first, each new one when it is stored (a search prunes a trial by raising there)."""
    start = time.perf_counter()
    fingerprints = entry_fingerprints(setup.entries)
    fingerprint_s = time.perf_counter() - start
    done = {}
    for s in settings:
        done[s.name], removed, changed = still_valid(
            ResultStore(s.out_dir / "partial").load_all(fingerprints), fingerprints
        )
        if (removed or changed) and is_launcher_process():
            print(resume_note(s.name if len(settings) > 1 else "", removed, changed))
    todo = [i for i, key in enumerate(setup.keys) if any(key not in done[s.name] for s in settings)]
    if observer is not None:
        for s in settings:
            for key in setup.keys:
                if key in done[s.name]:
                    observer(s.name, done[s.name][key])
    alignment, measured = alignment_for(cfg, setup)
    cache = build_run_cache(
        cfg,
        setup.pipeline,
        setup.metric_arguments,
        fingerprints,
        setup.segmenting.segment,
        setup.segmenting.overlap,
        (alignment.max_lag, alignment.shift),
    )
    media = MediaPlan(cfg.outputs.save_audio, cfg.outputs.save_plots, cfg.outputs.max_plots)
    out_dirs = {s.name: s.out_dir for s in settings}
    done_keys = {name: set(d) for name, d in done.items()}
    with metric_pool(cfg.metrics.workers if todo else 0, setup.metrics) as pool:
        context = MeasuringContext.of(
            cfg, setup.pipeline, setup.metrics, setup.segmenting, alignment, setup.embedder, cache, pool
        )
        evaluator = FileEvaluator(context, enhancers, out_dirs, media, cfg.seed, done_keys, fingerprints, observer)
        run = run_test(cfg, setup, evaluator, todo, fingerprints)
    if not run.is_global_zero:
        return None, None
    info = RunInfo(
        run.device,
        run.world_size,
        run.wall_s,
        align_samples=alignment.shift,
        measured_lag=asdict(measured) if measured else None,
        model=setup.pipeline.model.describe(),
        before_pass_s={"listing_s": setup.listing_s, "fingerprint_s": fingerprint_s},
    )
    order = {key: i for i, key in enumerate(setup.keys)}
    out = {}
    for s in settings:
        new = evaluator.results.get(s.name, [])
        out[s.name] = (sorted([*done[s.name].values(), *new], key=lambda r: order[r.file]), new)
    return out, info


def run_evaluation(cfg: DictConfig, observer: Optional[Observer] = None) -> EvalOutcome:
    """`evaluate.py`'s whole job on a composed config: checks at start-up (metrics, logger, trainer, cache, the
    sweep's selection), the run folder (`out_dir` or `outputs/eval|sweep/<time>-<hash>`, refused when it holds another
    config's results), the entries, pipeline and metrics once (`build_setup`), every setting over every entry it
    lacks (resume), then each setting's outputs and, for a sweep, the sweep's. Returns what the command line says
    and its exit status. `observer`: see `evaluate_settings`."""
    seed_everything(cfg.seed, cfg.trainer)
    torch.use_deterministic_algorithms(True, warn_only=True)
    check_metric_names(cfg.metrics.names)
    check_logger(cfg.logger)
    check_trainer(cfg.trainer)
    check_cache(cfg.cache)
    if cfg.sweep:
        check_selection(cfg.select, cfg.metrics.names)
    hash_ = run_hash(cfg, EVAL_IGNORE)
    out_dir = resolve_out_dir(cfg.out_dir, "sweep" if cfg.sweep else "eval", hash_)
    settings = plan_settings(cfg, out_dir, hash_)
    setup = build_setup(cfg)
    enhancers = {s.name: build_enhancer(s.config.enhancement) for s in settings}
    for s in settings:  # an enhancer made for another model fails here, not at the first file
        setup.pipeline.model.check_enhancer(
            enhancers[s.name],
            setup.segmenting.segment // cfg.frontend.hop_length,
            cfg.frontend.n_mels,
            cfg.frontend.hop_length,
            cfg.frontend.sample_rate,
            f"enhancement (setting {s.name})" if cfg.sweep else "enhancement",
        )
    if is_launcher_process():
        print(setup.discovery.line())
        prepare_out_dir(cfg, out_dir, hash_)
    with run_lock(out_dir):
        return _evaluate_and_report(cfg, out_dir, hash_, settings, setup, enhancers, observer)


def _evaluate_and_report(
    cfg: DictConfig,
    out_dir: Path,
    hash_: str,
    settings: Sequence[Setting],
    setup: EvalSetup,
    enhancers: dict,
    observer: Optional[Observer] = None,
) -> EvalOutcome:
    if is_launcher_process():
        for s in settings:
            if s.out_dir != out_dir:
                prepare_out_dir(s.config, s.out_dir, s.run_hash)
    evaluated, info = evaluate_settings(cfg, setup, settings, enhancers, observer)
    if evaluated is None:
        return EvalOutcome.of_worker_rank(out_dir)
    job_type = "sweep" if cfg.sweep else "eval"
    info.skipped_inputs = setup.discovery.skipped
    summaries = {s.name: write_setting_outputs(s, *evaluated[s.name], info, job_type) for s in settings}
    counts = summaries[settings[-1].name]["counts"]
    warned = [w for w in [alignment_warning(summaries[settings[-1].name]["alignment"])] if w]
    if not cfg.sweep:
        return EvalOutcome(out_dir, counts["files"], counts["ok"], counts["failed"], warnings=warned)
    best, reason = write_sweep_outputs(cfg, out_dir, hash_, settings, summaries)
    print(
        f"sweep of {len(settings)} settings: {out_dir / 'sweep.md'}; best: "
        + (f"{best} ({reason})" if best else f"none — {reason}")
    )
    return EvalOutcome(
        out_dir, counts["files"], counts["ok"], counts["failed"], report_name="sweep.md", warnings=warned
    )
