"""Typed schemas of every config section. Values live in `configs/*.yaml`; these only fix keys and types."""

from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, List, Optional

from omegaconf import MISSING


@dataclass
class FrontEndConfig:
    """Arguments of `audiovae.audio.frontend.MelFrontEnd`."""

    sample_rate: int = MISSING
    n_fft: int = MISSING
    win_length: int = MISSING
    hop_length: int = MISSING
    n_mels: int = MISSING
    fmin: float = MISSING
    fmax: float = MISSING
    clamp_min: float = MISSING
    normalize: bool = MISSING
    framing: str = MISSING


@dataclass
class ModelConfig:
    """Arguments of `audiovae.models.factory.build_model`: the family (`audiovae.models.families`), where its
    weights are, and its settings; `options` holds a family's own arguments (audioldm: the vocoder's,
    `audiovae.models.mel_options`; encodec: bandwidth; dac: n_quantizers), checked against its class's signature."""

    family: str = "audioldm"
    name: str = MISSING
    path: Optional[str] = MISSING  # null: a family that loads no weights
    vae_subfolder: Optional[str] = "vae"  # null: the weights are the folder itself
    build: Optional[str] = None
    cache_dir: Optional[str] = None
    sample_posterior: bool = False
    vae_precision: str = "fp32"
    options: Dict[str, Any] = field(default_factory=dict)


@dataclass
class DataConfig:
    """Where the entries come from (`audiovae.data.sources`) and how they are read and cut."""

    source: Optional[str] = None  # folder | manifest | webdataset; null: the one whose key is set
    options: Dict[str, Any] = field(default_factory=dict)  # a plugin source's arguments
    dir: Optional[str] = None
    files: Optional[List[str]] = None
    manifest: Optional[str] = None
    dataset_root: Optional[str] = None
    shards: Optional[str] = None
    patterns: List[str] = MISSING
    max_seconds: float = MISSING
    chunking: bool = MISSING
    chunk_overlap_seconds: float = MISSING
    silence_threshold_db: float = MISSING
    channels: str = MISSING
    resampler: str = MISSING
    pad: str = MISSING
    batch_size: Optional[int] = MISSING
    num_workers: int = MISSING


@dataclass
class CacheConfig:
    """The cross-run cache of enhancer-independent work (`audiovae.cache`)."""

    enabled: bool = MISSING
    dir: Optional[str] = None
    max_gb: float = MISSING


@dataclass
class EmbeddingConfig:
    """Arguments of `audiovae.models.embedding.load_embedder`: the embedding model of the set metrics (fad, ...)."""

    name: str = MISSING
    path: str = MISSING
    build: Optional[str] = None
    cache_dir: Optional[str] = None
    batch_size: int = MISSING


@dataclass
class LoggerConfig:
    """W&B settings; `enabled: false` (logger=none) disables W&B."""

    enabled: bool = MISSING
    mode: str = MISSING
    project: str = MISSING
    entity: Optional[str] = None
    group: Optional[str] = None
    name: Optional[str] = None
    tags: List[str] = field(default_factory=list)
    log_audio: bool = MISSING
    max_table_files: int = MISSING


@dataclass
class TrainerConfig:
    """Arguments passed to `pytorch_lightning.Trainer`."""

    accelerator: str = MISSING
    devices: Any = MISSING
    strategy: str = MISSING
    num_nodes: int = MISSING
    precision: str = MISSING


@dataclass
class MetricSettingsConfig:
    """The run's high band, shared by every high-band metric, the band table and the plots. Beside it `metrics`
    holds one section per metric (`metrics.lsd.n_fft`): its constructor's arguments, checked and completed from
    the constructor by `audiovae.metrics.registry.resolve_metric_settings`; the same for evaluation and training
    validation."""

    hf_cutoff_hz: Optional[float] = None


@dataclass
class MeasuredMetricsConfig(MetricSettingsConfig):
    """The metrics a job measures and the statistics of its verdict (evaluation's and generation's)."""

    names: List[str] = MISSING
    bootstrap_samples: int = MISSING
    tie_tolerance: float = MISSING
    alpha: float = MISSING
    p_adjust: str = MISSING
    fad_bootstrap_samples: int = MISSING


@dataclass
class MetricsConfig(MeasuredMetricsConfig):
    """Evaluation's: also the alignment of reconstructions with their reference and the common rate."""

    max_lag_samples: int = MISSING
    align: str = MISSING
    align_samples: int = MISSING
    common_rate: Optional[int] = None  # waveform metrics at this rate for every model (null: the model's rate)
    loudness_normalize: Optional[float] = None  # LUFS: every waveform scaled to it before the waveform metrics
    workers: Optional[int] = None  # processes for the whole-signal metrics (null: by the machine's cores)


@dataclass
class OutputsConfig:
    """What an evaluation writes beside its rows: audio, plots (of the first `max_plots` files), blind pages,
    report.md's bound."""

    save_audio: bool = MISSING
    save_plots: bool = MISSING
    max_plots: int = MISSING
    listening_files: int = MISSING
    report_files: Optional[int] = None  # report.md details at most this many files (null: all)


@dataclass
class SelectConfig:
    """How a sweep names its best setting (`audiovae.runs.selection`): the largest improvement over base in
    `metric`, among the settings that improve it, are not significantly worse than base in any `guards` metric,
    and improve each `min_improvement` metric by at least the given value (headline Δ units); else none."""

    metric: str = MISSING
    guards: List[str] = field(default_factory=list)
    min_improvement: Dict[str, float] = field(default_factory=dict)


@dataclass
class ProtocolConfig:
    """`protocol=<name>` (configs/protocol/): a named tool's metrics, computed as that tool computes them."""

    name: str = "none"
    tool: str = ""  # the code whose numbers the protocol reproduces (package, version, script)
    metrics: List[str] = field(default_factory=list)  # what it measures: metrics.names must keep each of them
    columns: Dict[str, str] = field(default_factory=dict)  # metric -> the tool's own column name


@dataclass
class EvalConfig:
    """`evaluate.py`: the whole resolved configuration of an evaluation run."""

    open_sections: ClassVar[tuple] = ("metrics",)  # also holds the metrics' settings sections

    plugins: List[str] = field(default_factory=list)  # modules or .py files imported first (audiovae.plugins)
    model: ModelConfig = field(default_factory=ModelConfig)
    frontend: FrontEndConfig = field(default_factory=FrontEndConfig)
    enhancement: Dict[str, Any] = MISSING
    data: DataConfig = field(default_factory=DataConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    protocol: ProtocolConfig = field(default_factory=ProtocolConfig)
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)
    outputs: OutputsConfig = field(default_factory=OutputsConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    trainer: Dict[str, Any] = MISSING  # pytorch_lightning.Trainer's own arguments (config/trainer_args.py)
    sweep: Dict[str, Any] = field(default_factory=dict)
    select: SelectConfig = field(default_factory=SelectConfig)
    out_dir: Optional[str] = None
    seed: int = MISSING
    strict: bool = MISSING


@dataclass
class TrainDataConfig:
    """Arguments of `audiovae.data.train_data.TrainDataModule`."""

    source: Optional[str] = None  # folder | manifest | webdataset; null: the one whose key is set
    options: Dict[str, Any] = field(default_factory=dict)  # a plugin source's arguments
    dir: Optional[str] = None
    manifest: Optional[str] = None
    dataset_root: Optional[str] = None
    shards: Optional[str] = None
    val_dir: Optional[str] = None
    patterns: List[str] = MISSING
    val_ratio: float = MISSING
    crop_seconds: float = MISSING
    silence_threshold_db: float = MISSING
    channels: str = MISSING
    resampler: str = MISSING
    batch_size: int = MISSING
    val_batch_size: int = MISSING
    num_workers: int = MISSING
    pre_encode: bool = MISSING


@dataclass
class LossConfig:
    """Weights and settings of `audiovae.training.losses.ReconstructionLoss` (weight 0 turns a term off)."""

    mel_l1: float = MISSING
    mel_hf_l1: float = MISSING
    hf_cutoff_band: int = MISSING
    hf_band_weight: float = MISSING
    stft: float = MISSING
    kl: float = MISSING


@dataclass
class OptimConfig:
    """AdamW and a linear warm-up followed by cosine decay (or a constant rate) over `total_steps`."""

    lr: float = MISSING
    weight_decay: float = MISSING
    betas: List[float] = MISSING
    schedule: str = MISSING
    warmup_steps: int = MISSING
    total_steps: Optional[int] = None
    min_lr_ratio: float = MISSING


@dataclass
class AdversarialConfig:
    """`audiovae.training.adversarial.AdversarialTraining` (discriminator `none`: no adversarial training) and the
    discriminator's own optimizer and schedule (`optim`, as the generator's)."""

    discriminator: str = MISSING
    loss: str = MISSING
    weight: float = MISSING
    feature_matching: float = MISSING
    start_step: int = MISSING
    channels: int = MISSING
    optim: OptimConfig = field(default_factory=OptimConfig)


@dataclass
class EMAConfig:
    """`audiovae.training.ema.TrainedWeightsEMA`: an average of the trained weights for validation and export."""

    enabled: bool = MISSING
    decay: float = MISSING
    every_n_steps: int = MISSING
    start_step: int = MISSING


@dataclass
class LoopConfig:
    """What audiovae adds to Lightning's loop (whose own settings are `trainer.*`)."""

    validate_before_training: bool = MISSING


@dataclass
class CheckpointConfig:
    """Checkpoints of a training: last.ckpt every N steps, the monitored validation metric and its mode, how many best
    to keep."""

    last_every_n_steps: Optional[int] = None  # null: last.ckpt after every epoch only
    monitor: str = MISSING
    mode: str = MISSING
    save_top_k: int = MISSING


@dataclass
class ExamplesConfig:
    """Val examples logged to W&B as audio and spectrograms every `every_n_val` validations."""

    every_n_val: int = MISSING
    count: int = MISSING


@dataclass
class TrainConfig:
    """`train.py`: the whole resolved configuration of a training run."""

    open_sections: ClassVar[tuple] = ("metrics",)  # also holds the metrics' settings sections

    plugins: List[str] = field(default_factory=list)  # modules or .py files imported first (audiovae.plugins)
    model: ModelConfig = field(default_factory=ModelConfig)
    frontend: FrontEndConfig = field(default_factory=FrontEndConfig)
    enhancement: Dict[str, Any] = MISSING
    data: TrainDataConfig = field(default_factory=TrainDataConfig)
    trainable: List[str] = MISSING
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    adversarial: AdversarialConfig = field(default_factory=AdversarialConfig)
    ema: EMAConfig = field(default_factory=EMAConfig)
    loop: LoopConfig = field(default_factory=LoopConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    val_metrics: List[str] = MISSING
    metrics: MetricSettingsConfig = field(default_factory=MetricSettingsConfig)  # settings of the val_metrics
    examples: ExamplesConfig = field(default_factory=ExamplesConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)
    trainer: Dict[str, Any] = MISSING  # pytorch_lightning.Trainer's own arguments (config/trainer_args.py)
    resume: bool = MISSING
    ckpt_path: Optional[str] = None
    out_dir: Optional[str] = None
    seed: int = MISSING


@dataclass
class GenerationSettingsConfig:
    """The diffusion of each (prompt, seed): `AudioLDM2Pipeline.__call__`'s arguments."""

    steps: int = MISSING  # num_inference_steps
    guidance_scale: float = MISSING
    audio_length_s: float = MISSING  # audio_length_in_s
    negative_prompt: Optional[str] = None
    waveforms_per_prompt: int = MISSING  # num_waveforms_per_prompt
    rerank: bool = MISSING  # keep the best candidate by the pipeline's CLAP score (else each is a row)


@dataclass
class ClassifierConfig:
    """The classifier of kl_softmax (`audiovae.models.classifier`); `path: null` for none."""

    name: str = MISSING
    path: Optional[str] = None
    build: Optional[str] = None
    sample_rate: Optional[int] = None
    window: Optional[int] = None
    hop: Optional[int] = None
    mel_bins: Optional[int] = None
    fmin: Optional[float] = None
    fmax: Optional[float] = None
    classes: Optional[int] = None
    channels: Optional[List[int]] = None


@dataclass
class GenerateConfig:
    """`audiovae-generate`: the whole resolved configuration of a generation run."""

    open_sections: ClassVar[tuple] = ("metrics",)  # also holds the metrics' settings sections

    plugins: List[str] = field(default_factory=list)  # modules or .py files imported first (audiovae.plugins)
    model: ModelConfig = field(default_factory=ModelConfig)
    frontend: FrontEndConfig = field(default_factory=FrontEndConfig)
    enhancement: Dict[str, Any] = MISSING
    prompts: Optional[str] = None
    seeds: List[int] = MISSING
    reference: Optional[str] = None  # the set metrics' (fad, fad_inf, kad) reference recordings: a folder or a manifest
    generation: GenerationSettingsConfig = field(default_factory=GenerationSettingsConfig)
    metrics: MeasuredMetricsConfig = field(default_factory=MeasuredMetricsConfig)  # no reference to align
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)
    outputs: OutputsConfig = field(default_factory=OutputsConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    sweep: Dict[str, Any] = field(default_factory=dict)
    select: SelectConfig = field(default_factory=SelectConfig)
    device: str = MISSING
    out_dir: Optional[str] = None
    seed: int = MISSING
    strict: bool = MISSING


SECTION_SCHEMAS = {"logger": LoggerConfig, "trainer": TrainerConfig, "model": ModelConfig, "frontend": FrontEndConfig}


@dataclass
class StudyConfig:
    """`search:` of `audiovae-search` (configs/search.yaml): the job its trials run and how values are drawn."""

    job: str = "eval"  # eval | train: what each trial runs
    config: str = "eval"  # that job's config: a name in configs/ or a YAML file
    overrides: List[str] = field(default_factory=list)  # that job's key=value words, for every trial
    space: Dict[str, Any] = field(default_factory=dict)  # key -> {type, low, high, log, step, choices, when}
    objectives: List[str] = field(default_factory=list)  # metrics whose improvement over base is maximised
    trials: int = 20  # trials of the study, all workers together (finished and pruned count; failed are retried)
    sampler: str = "tpe"  # tpe | cmaes | random | grid
    seed: int = 0
    pruner: str = "auto"  # auto (wilcoxon: evaluation, median: training) | wilcoxon | median | hyperband | none
    p_threshold: float = 0.1  # wilcoxon: prune when the one-sided paired test's p is below this
    startup_steps: int = 2  # files (evaluation) or validations (training) before a trial can be pruned
    storage: Optional[str] = None  # null: the journal file <out_dir>/study.journal; or an RDB URL (sqlite:///x.db)
    name: Optional[str] = None  # the study's name in its storage; null: search-<config hash>


@dataclass
class SearchConfig:
    """`audiovae-search`: a study of a job's settings."""

    search: StudyConfig = field(default_factory=StudyConfig)
    out_dir: Optional[str] = None  # null: outputs/search/<name>
