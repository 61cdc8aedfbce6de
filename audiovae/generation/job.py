"""`audiovae-generate`'s job: prompts × seeds → one diffusion each (latents from the cross-run cache when they are
there) → the base decode and, per enhancer setting, the enhanced decode of the same latents → vocoder → reference-free
metrics, CLAP score and label KL per item → rows (resumable), summary, report, blind pages, W&B, as evaluation.

Generation joins evaluation's data path at the decodes: `model.decode(latent, enhanced)` and `model.vocode`, the very
calls a reconstruction makes (`audiovae.pipeline`)."""

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
from omegaconf import DictConfig

from audiovae.audio.frontend import mel_band_centres
from audiovae.audio.io import load_audio
from audiovae.cache.keys import digest
from audiovae.cache.store import CacheStore, check_cache
from audiovae.data.files import discover_audio_files, file_fingerprint, output_stems
from audiovae.enhancers.registry import build_enhancer
from audiovae.errors import AudioError, AudiovaeError, ConfigError
from audiovae.generation.diffusion import (
    LatentSource,
    check_generation_settings,
    clap_ranking,
    load_pipeline,
    output_samples,
)
from audiovae.generation.prompts import Item, Prompt, plan_items, read_prompts, read_reference_manifest
from audiovae.generation.records import GeneratedResult
from audiovae.metrics.functional.frames import hf_cutoff
from audiovae.metrics.guarded import as_number, metric_errors, metric_label
from audiovae.metrics.registry import (
    METRICS,
    build_metric,
    check_metric_names,
    file_metric_names,
    metric_info,
    prompt_metric_names,
)
from audiovae.metrics.sets import SET_METRICS, needs_embedding
from audiovae.models.classifier import label_kl, load_classifier
from audiovae.models.embedding import clap_score, load_embedder
from audiovae.models.factory import build_model, frontend_for
from audiovae.models.variants import BASE, ENHANCED
from audiovae.pipeline import ReconstructionPipeline, SharedOutputs, timed
from audiovae.reporting.records import ERROR, OK, encode_embedding
from audiovae.reporting.tracking import check_logger
from audiovae.runs.folders import check_out_dir, prepare_out_dir, resolve_out_dir, run_hash, run_lock
from audiovae.runs.media import FileMedia
from audiovae.runs.selection import check_selection
from audiovae.runs.settings import EVAL_IGNORE, Setting, plan_settings
from audiovae.runs.store import ResultStore, resume_note, still_valid

VARIANTS = (BASE, ENHANCED)  # a generated item has no reference and no vocoder ceiling
REFERENCE_PATTERNS = ("*.wav", "*.flac", "*.mp3", "*.ogg")  # fad's reference folder


@dataclass
class GenerateOutcome:
    """What a generation ended with: its folder, the counts of items, ok and failed, and the diffusions this process
    ran."""

    out_dir: Path
    n_items: int
    n_ok: int
    n_failed: int
    diffusions: int  # pipeline runs of this process (the rest came from the cache or earlier runs' rows)
    report_name: str = "report.md"

    @property
    def report(self) -> Path:
        """The path of the run's report.md."""
        return self.out_dir / self.report_name

    def exit_code(self, strict: bool) -> int:
        """1 when no item succeeded, or with `strict` when any failed; else 0."""
        return 1 if self.n_ok == 0 or (strict and self.n_failed > 0) else 0


def pick_device(name: str) -> torch.device:
    """`device`: auto (a GPU when there is one), cpu, cuda, cuda:N."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"config key 'device': '{name}' is not a device (auto, cpu, cuda, cuda:N)") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (device.index or 0) >= count:
            raise ConfigError(
                f"config key 'device': {name} asked for, but this machine has {count} CUDA device(s); use device=auto "
                f"or cpu"
            )
    elif device.type not in ("cpu", "cuda"):
        raise ConfigError(f"config key 'device': '{name}' is not a device this job runs on (auto, cpu, cuda, cuda:N)")
    return device


def item_fingerprint(item: Item, candidate: int) -> str:
    """What a stored row was made from: the prompt's text, its reference file's content, seed and candidate (a
    prompts file edited between runs makes its rows stale)."""
    audio = (
        file_fingerprint(Path(item.prompt.audio))
        if item.prompt.audio and Path(item.prompt.audio).is_file()
        else item.prompt.audio
    )
    return digest({"text": item.prompt.text, "audio": audio, "seed": item.seed, "candidate": candidate})[:32]


@dataclass
class Row:
    """One results row: an item and (without re-ranking, several candidates per prompt) a candidate."""

    item: Item
    candidate: Optional[int]  # None: the item's only or re-ranked choice

    @property
    def key(self) -> str:
        """The row's name: the item's key, with `_c<n>` for candidate n."""
        return self.item.key if self.candidate is None else f"{self.item.key}_c{self.candidate}"


def plan_rows(items: Sequence[Item], candidates: int, rerank: bool) -> list[Row]:
    """The rows a run writes: one per item, or per candidate of each item when several are kept unranked."""
    if candidates == 1 or rerank:
        return [Row(item, None) for item in items]
    return [Row(item, c) for item in items for c in range(candidates)]


@dataclass
class Scorers:
    """Everything that measures a clip: waveform metrics, the embedding model (clap_score, fad) and the
    classifier (kl_softmax), with per-prompt caches of text embeddings and reference label probabilities."""

    metrics: dict
    sample_rate: int
    embedder: object = None
    classifier: object = None
    names: Sequence[str] = ()
    _text: dict = field(default_factory=dict)
    _reference: dict = field(default_factory=dict)

    def text_embedding(self, prompt: Prompt) -> np.ndarray:
        """The prompt's text embedding (computed once per prompt)."""
        if prompt.text not in self._text:
            self._text[prompt.text] = self.embedder.embed_text([prompt.text])[0]
        return self._text[prompt.text]

    def reference_labels(self, prompt: Prompt) -> tuple[Optional[np.ndarray], str]:
        """(the prompt's reference label probabilities, why none)."""
        if prompt.audio is None:
            return None, f"{prompt.id} has no reference audio"
        if prompt.audio not in self._reference:
            try:
                clip = load_audio(prompt.audio, self.sample_rate)
                self._reference[prompt.audio] = (
                    self.classifier.probabilities(torch.from_numpy(clip.waveform), self.sample_rate),
                    "",
                )
            except (AudiovaeError, OSError, ValueError, RuntimeError) as err:
                self._reference[prompt.audio] = (None, f"reference audio {prompt.audio}: {err}")
        return self._reference[prompt.audio]

    def measure(self, wave: torch.Tensor, prompt: Prompt) -> tuple[dict, dict, list[str]]:
        """(metric values, embeddings, notes) of one `[S]` clip."""
        values, notes, embeddings = {}, [], {}
        batch = wave.detach().double().cpu()[None]
        for name, metric in self.metrics.items():
            with metric_errors(prompt.id, name, metric):
                value = metric.per_item(batch, batch, None)
            if not isinstance(value, torch.Tensor) or value.shape != (1,):
                raise AudioError(prompt.id, f"metric {metric_label(name, metric)} gave no value per item")
            values[name] = as_number(prompt.id, name, metric, value[0])
        if self.embedder is not None:
            audio = self.embedder.embed(wave, self.sample_rate)
            embeddings["clap"] = audio
            if "clap_score" in self.names:
                values["clap_score"] = clap_score(self.text_embedding(prompt), audio)
        if "kl_softmax" in self.names:
            reference, why = self.reference_labels(prompt)
            if reference is None:
                values["kl_softmax"] = float("nan")
                notes.append(f"kl_softmax: {why}")
            else:
                values["kl_softmax"] = label_kl(reference, self.classifier.probabilities(wave, self.sample_rate))
        for name, value in values.items():
            if not math.isfinite(value) and name in self.metrics:
                notes.append(f"{name}: {self.metrics[name].nan_reason}")
        return values, embeddings, notes


def build_scorers(cfg: DictConfig, device: torch.device) -> Scorers:
    """The metrics of `metrics.names` for generated audio: reference-free and set metrics on the waveform, CLAP and the
    classifier for the prompt metrics (each model loaded only when a metric needs it)."""
    names = list(cfg.metrics.names)
    waveform = [n for n in file_metric_names(names) if n not in prompt_metric_names(names)]
    embedder = load_embedder(cfg.embedding, device) if ("clap_score" in names or needs_embedding(names)) else None
    if "clap_score" in names and embedder.tokenizer is None:
        raise ConfigError(
            f"config key 'embedding': clap_score needs the text tokenizer of the CLAP model, which "
            f"{cfg.embedding.path} does not hold"
        )
    classifier = None
    if "kl_softmax" in names:
        classifier = load_classifier(cfg.classifier, device)
        if classifier is None:
            raise ConfigError(
                "config key 'classifier': kl_softmax needs a classifier (classifier=panns_cnn14, or "
                "classifier=tiny_cnn14 offline)"
            )
    return Scorers(
        {n: build_metric(n, cfg.frontend.sample_rate, cfg.metrics) for n in waveform},
        cfg.frontend.sample_rate,
        embedder,
        classifier,
        names,
    )


def check_generation_metrics(cfg: DictConfig) -> None:
    """ConfigError (one line) for a metric generation cannot measure: one that needs the generated audio's own reference
    recording, or a prompt metric without its model."""
    check_metric_names(cfg.metrics.names, generation=True)
    reference_based = [
        n
        for n in file_metric_names(cfg.metrics.names)
        if n not in prompt_metric_names(cfg.metrics.names) and not _reference_free(n)
    ]
    if reference_based:
        raise ConfigError(
            f"config key 'metrics.names': {reference_based[0]} compares with a reference recording, "
            f"which generated audio has not; use the reference-free metrics "
            f"({', '.join(n for n in METRICS if _reference_free(n))}), clap_score, kl_softmax and the set metrics "
            f"({', '.join(SET_METRICS)})"
        )


def _reference_free(name: str) -> bool:
    return metric_info(name).reference_free


@dataclass
class GenerationSetup:
    """What a generation builds once: items and rows, their output stems, the reconstruction pipeline, the latent source
    and the scorers."""

    items: list[Item]
    rows: list[Row]
    stems: dict
    pipeline: ReconstructionPipeline  # the front end and the model: the decodes evaluation makes
    source: LatentSource
    scorers: Scorers
    samples: int
    device: torch.device

    @property
    def model(self):
        """The model the pipeline decodes with."""
        return self.pipeline.model


def plan_run(cfg: DictConfig) -> tuple[list[Item], list[Row]]:
    """The run's items and rows from `prompts` and `seeds` (read before any model is loaded)."""
    if not cfg.prompts:
        raise ConfigError("config key 'prompts': name a prompts file (prompts=FILE: .txt, .jsonl, .csv or .tsv)")
    items = plan_items(read_prompts(cfg.prompts), list(cfg.seeds))
    return items, plan_rows(items, cfg.generation.waveforms_per_prompt, cfg.generation.rerank)


def check_pipeline_inputs(pipe, items: Sequence[Item], seconds: float, prompts_file: str) -> None:
    """ConfigError (before anything is written) for what the pipeline would refuse or silently cut: a length
    shorter than one latent frame, a prompt longer than a text encoder's tokenizer takes (it would be truncated)."""
    vocoder = pipe.vocoder.config
    shortest = float(np.prod(vocoder.upsample_rates)) / vocoder.sampling_rate * pipe.vae_scale_factor
    if seconds < shortest:
        raise ConfigError(
            f"config key 'generation.audio_length_s': {seconds:g} s is shorter than one latent frame of this pipeline "
            f"({shortest:g} s)"
        )
    for prompt in {item.prompt.id: item.prompt for item in items}.values():
        for tokenizer in (getattr(pipe, "tokenizer", None), getattr(pipe, "tokenizer_2", None)):
            limit = getattr(tokenizer, "model_max_length", None)
            if tokenizer is None or not limit or limit > 1_000_000:
                continue
            count = len(tokenizer(prompt.text, verbose=False).input_ids)
            if count > limit:
                raise ConfigError(
                    f"config key 'prompts': {prompts_file} prompt {prompt.id}: {count} tokens, the pipeline's "
                    f"{type(tokenizer).__name__} reads at most {limit} (the rest would be cut); shorten it"
                )


def build_setup(cfg: DictConfig, device: torch.device, items: list[Item], rows: list[Row]) -> GenerationSetup:
    """The model, front end and diffusion pipeline on `device`, the cached latent source and the scorers for `items` and
    `rows`."""
    model = build_model(cfg.model, cfg.enhancement, cfg.frontend).to(device)
    frontend = frontend_for(cfg.frontend, model).to(device)
    pipe = load_pipeline(cfg.model, model, device)
    check_pipeline_inputs(pipe, items, cfg.generation.audio_length_s, cfg.prompts)
    store = CacheStore(cfg.cache.dir, cfg.cache.max_gb) if cfg.cache.enabled else None
    source = LatentSource(pipe, cfg.generation, store, device)
    return GenerationSetup(
        items,
        rows,
        output_stems([r.key for r in rows]),
        ReconstructionPipeline(frontend, model),
        source,
        build_scorers(cfg, device),
        output_samples(pipe, cfg.generation.audio_length_s),
        device,
    )


class ItemGenerator:
    """Every setting's rows of one (prompt, seed): one diffusion (or cached latents), one base decode and vocoder
    pass shared, per setting the enhanced decode and its vocoder pass (`ReconstructionPipeline.enhance`, as in
    evaluation); audio and plots as they are made. `fingerprints`: row key -> `item_fingerprint`."""

    def __init__(
        self,
        cfg: DictConfig,
        setup: GenerationSetup,
        settings: Sequence[Setting],
        enhancers: dict,
        fingerprints: dict[str, str],
    ):
        self.cfg, self.setup, self.settings, self.enhancers = cfg, setup, settings, enhancers
        self.fingerprints = fingerprints
        self.hz = mel_band_centres(cfg.frontend.n_mels, cfg.frontend.fmin, cfg.frontend.fmax)
        self.cutoff = hf_cutoff(cfg.frontend.sample_rate, cfg.metrics.hf_cutoff_hz)
        self.plotted = 0
        self.decode_settings = {
            "samples": setup.samples,
            "vae_precision": cfg.model.vae_precision,
            "model": setup.model.config_summary(),  # its networks and its family's settings (the vocoder's)
        }  # what else decides a base decode

    @torch.no_grad()
    def generate(self, item: Item, rows: Sequence[Row], todo: dict) -> dict[str, list[GeneratedResult]]:
        """`todo`: setting name -> the row keys it lacks. Returns setting name -> its new results."""
        s, model, device = self.setup, self.setup.model, self.setup.device
        diffusion = s.source.latents(item)
        latents = diffusion.latents
        shared = {"diffusion": diffusion.seconds, "base_decode": 0.0, "vocoder": 0.0}

        def decode() -> tuple[torch.Tensor, torch.Tensor]:
            with timed(shared, "base_decode", device):
                mel = model.decode(latents, enhanced=False)
            with timed(shared, "vocoder", device):
                return mel, model.synthesise(mel, s.samples)

        base_mel, base_wave = s.source.base_decode(item, decode, self.decode_settings)
        if not (torch.isfinite(latents).all() and torch.isfinite(base_wave).all()):
            raise AudioError(item.key, "the generated latents or their base decode hold NaN or inf")
        chosen, ranking = list(range(latents.shape[0])), None
        if self.cfg.generation.rerank:
            with timed(shared, "rerank", device):
                ranking = clap_ranking(s.source.pipe, item.prompt.text, base_wave)
            chosen = [ranking[0]]
        candidate = {row.key: chosen[0] if row.candidate is None else row.candidate for row in rows}
        base_scores = {}
        with timed(shared, "metrics", device):
            for row in rows:
                base_scores[row.key] = s.scorers.measure(base_wave[candidate[row.key]], item.prompt)
        needed = {setting.name: [r for r in rows if r.key in todo[setting.name]] for setting in self.settings}
        # the generated latents and their base decode, as evaluation's shared outputs (no reference to encode)
        out = s.pipeline.enhance(
            SharedOutputs(latents, None, base_mel, None, base_wave, vocoder_passes=0),
            {name: self.enhancers[name] for name, n in needed.items() if n},
        )
        per_row, results = max(len(rows), 1), {}
        for setting in self.settings:
            if not needed[setting.name]:
                continue
            own, count = out.seconds[setting.name], len(needed[setting.name])
            mel, wave = out.enhanced_mels[setting.name], out.enhanced_waves[setting.name]
            if not (torch.isfinite(mel).all() and torch.isfinite(wave).all()):
                raise AudioError(item.key, f"the enhanced decode of setting {setting.name} holds NaN or inf")
            metric_seconds = {}
            results[setting.name] = []
            for row in needed[setting.name]:
                c = candidate[row.key]
                with timed(metric_seconds, "metrics", device):
                    scores = s.scorers.measure(wave[c], item.prompt)
                media = {}
                with timed(media, "media", device):  # audio written, figure drawn (evaluation's stage name)
                    self._save_media(
                        setting.out_dir,
                        s.stems[row.key],
                        row,
                        item,
                        {BASE: base_wave[c], ENHANCED: wave[c]},
                        {BASE: base_mel[c, 0], ENHANCED: mel[c, 0]},
                    )
                timing = {
                    "diffusion": shared["diffusion"] / latents.shape[0],
                    "base_decode": shared["base_decode"] / per_row,
                    "vocoder": shared["vocoder"] / per_row,
                    **({"rerank": shared["rerank"]} if "rerank" in shared else {}),
                    "enhanced_decode": own.get("enhanced_decode", 0.0) / count,
                    "enhanced_vocoder": own.get("vocoder", 0.0) / count,
                    "enhancer": own.get("enhancer", 0.0) / count,
                    "metrics": shared["metrics"] / per_row + metric_seconds["metrics"] / count,
                    "media": media["media"],
                }
                scored = (base_scores[row.key], scores)
                results[setting.name].append(self._result(item, row, c, scored, timing, ranking, diffusion.from_cache))
        return results

    def _result(
        self, item: Item, row: Row, candidate: int, scores: tuple, timing: dict, ranking, from_cache: bool
    ) -> GeneratedResult:
        """A row's result: its base and enhanced `scores` ((values, embeddings, notes) each), its seconds per stage,
        the CLAP ranking of its candidates and whether its latents came from the cache."""
        (base_values, base_embeddings, base_notes), (values, embeddings, notes) = scores
        rate, samples = self.setup.model.sample_rate, self.setup.samples
        clap = (
            {"base": encode_embedding(base_embeddings["clap"]), "enhanced": encode_embedding(embeddings["clap"])}
            if "clap" in embeddings
            else {}
        )
        return GeneratedResult(
            index=0,
            file=row.key,
            status=OK,
            notes="; ".join(dict.fromkeys([*base_notes, *notes])),
            duration_s=samples / rate,
            evaluated_s=samples / rate,
            sample_rate_in=rate,
            channels_in=1,
            seconds=timing,
            metrics={BASE: base_values, ENHANCED: values},
            embeddings=clap,
            fingerprint=self.fingerprints[row.key],
            stem=self.setup.stems[row.key],
            prompt=item.prompt.text,
            prompt_id=item.prompt.id,
            seed=item.seed,
            candidate=candidate,
            ranking=list(ranking) if ranking else [],
            from_cache=from_cache,
        )

    def _save_media(self, out_dir: Path, stem: str, row: Row, item: Item, waves: dict, mels: dict) -> None:
        cfg = self.cfg
        plot = cfg.outputs.save_plots and self.plotted < cfg.outputs.max_plots
        if cfg.outputs.save_audio:
            media = FileMedia(out_dir, stem, "", cfg.frontend.sample_rate, audio=True, names=VARIANTS)
            media.add(waves, {})
            media.close()
        if plot:
            from audiovae.reporting.plots import plot_generated

            plot_generated(
                out_dir / "plots" / f"{stem}.png",
                {k: m.float().cpu().numpy() for k, m in mels.items()},
                {k: w.float().cpu().numpy() for k, w in waves.items()},
                self.hz,
                self.cutoff,
                cfg.frontend.sample_rate,
                f"{row.key}: “{item.prompt.text}”",
            )
            self.plotted += 1


def failed_result(row: Row, err: Exception, stem: str, fingerprint: str) -> GeneratedResult:
    """The error row of a row whose generation failed: the error's first line, nothing else measured."""
    return GeneratedResult(
        index=0,
        file=row.key,
        status=ERROR,
        error=str(err).splitlines()[0] if str(err) else type(err).__name__,
        stem=stem,
        fingerprint=fingerprint,
        prompt=row.item.prompt.text,
        prompt_id=row.item.prompt.id,
        seed=row.item.seed,
    )


def generate_settings(
    cfg: DictConfig, setup: GenerationSetup, settings: Sequence[Setting], enhancers: dict
) -> tuple[dict, float]:
    """Every setting's rows, resumed from each setting's store; returns ({setting: (all rows in order, new)}, wall
    seconds of the new work)."""
    fingerprints = {r.key: item_fingerprint(r.item, r.candidate or 0) for r in setup.rows}
    stores = {s.name: ResultStore(s.out_dir / "partial", record=GeneratedResult) for s in settings}
    done = {}
    for s in settings:
        done[s.name], removed, changed = still_valid(stores[s.name].load_all(fingerprints), fingerprints)
        if removed or changed:
            print(resume_note(s.name if len(settings) > 1 else "", removed, changed))
    generator = ItemGenerator(cfg, setup, settings, enhancers, fingerprints)
    new = {s.name: [] for s in settings}
    rows_of = {}
    for r in setup.rows:
        rows_of.setdefault(r.item, []).append(r)
    start = time.perf_counter()
    for item in setup.items:
        rows = rows_of[item]
        todo = {s.name: {r.key for r in rows if r.key not in done[s.name]} for s in settings}
        if not any(todo.values()):
            continue
        try:
            produced = generator.generate(item, rows, todo)
        except (AudiovaeError, RuntimeError, ValueError, OSError) as err:
            produced = {
                s.name: [
                    failed_result(r, err, setup.stems[r.key], fingerprints[r.key])
                    for r in rows
                    if r.key in todo[s.name]
                ]
                for s in settings
            }
            print(f"item {item.key} failed: {produced[settings[0].name][0].error}")
        for name, results in produced.items():
            for result in results:
                stores[name].append(result)
            new[name].extend(results)
    wall = time.perf_counter() - start
    order = {r.key: i for i, r in enumerate(setup.rows)}
    out = {}
    for s in settings:
        rows = sorted([*done[s.name].values(), *new[s.name]], key=lambda r: order[r.file])
        for i, r in enumerate(rows):
            r.index = i
        out[s.name] = (rows, new[s.name])
    return out, wall


def reference_embeddings(cfg: DictConfig, setup: GenerationSetup) -> tuple[Optional[np.ndarray], str]:
    """The reference set of fad: `reference` (a folder's audio files, or the recordings a manifest lists), else the
    prompts' reference audio; read at the model's rate (as evaluation's reference), embedded by the embedding model.
    (None, why) without one."""
    if setup.scorers.embedder is None or not needs_embedding(cfg.metrics.names):
        return None, ""
    if cfg.reference and Path(cfg.reference).expanduser().is_dir():
        paths = discover_audio_files(cfg.reference, list(REFERENCE_PATTERNS), None).paths
        where = f"{len(paths)} files of {cfg.reference}"
    elif cfg.reference:
        paths = [Path(p) for p in read_reference_manifest(cfg.reference)]
        where = f"{len(paths)} recordings listed in {cfg.reference}"
    else:
        paths = list(dict.fromkeys(Path(i.prompt.audio) for i in setup.items if i.prompt.audio))
        where = f"the prompts' {len(paths)} reference recordings"
    embeddings = []
    for path in paths:
        try:
            clip = load_audio(path, cfg.frontend.sample_rate)
        except (AudiovaeError, OSError, ValueError) as err:
            print(f"set-metric reference {path} skipped: {err}")
            continue
        embeddings.append(setup.scorers.embedder.embed(torch.from_numpy(clip.waveform), cfg.frontend.sample_rate))
    if len(embeddings) < 2:
        return (
            None,
            f"set metrics need at least 2 reference recordings ({where}; reference=FOLDER or MANIFEST, or an audio "
            f"column in the prompts file)",
        )
    return np.stack(embeddings), where


def run_generation(cfg: DictConfig) -> GenerateOutcome:
    """`generate.py`'s whole job on a composed config: prompts × seeds through the pipeline once each (latents cached),
    every setting's decodes and metrics, resume, each setting's outputs and a sweep's; returns what the command line
    says and its status."""
    from audiovae.generation.outputs import write_generation_outputs
    from audiovae.runs.sweep import write_sweep_outputs

    torch.manual_seed(cfg.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    check_generation_metrics(cfg)
    check_generation_settings(cfg.generation)
    check_logger(cfg.logger)
    check_cache(cfg.cache)
    if cfg.sweep:
        check_selection(cfg.select, cfg.metrics.names)
    device = pick_device(cfg.device)
    hash_ = run_hash(cfg, EVAL_IGNORE)
    out_dir = resolve_out_dir(cfg.out_dir, "generate", hash_)
    settings = plan_settings(cfg, out_dir, hash_)
    items, rows = plan_run(cfg)
    check_out_dir(out_dir, hash_)  # refused before the pipeline loads
    setup = build_setup(cfg, device, items, rows)
    enhancers = {s.name: build_enhancer(s.config.enhancement).to(device).eval() for s in settings}
    frames = math.ceil(setup.samples / cfg.frontend.hop_length)
    frames += -frames % setup.model.frame_multiple(cfg.frontend.hop_length)
    for s in settings:
        setup.model.check_enhancer(
            enhancers[s.name],
            frames,
            cfg.frontend.n_mels,
            cfg.frontend.hop_length,
            cfg.frontend.sample_rate,
            f"enhancement (setting {s.name})" if cfg.sweep else "enhancement",
        )
    print(
        f"{len(setup.items)} diffusions ({len({i.prompt.id for i in setup.items})} prompts × {len(cfg.seeds)} seeds), "
        f"{len(setup.rows)} rows, {len(settings)} setting(s)"
    )
    prepare_out_dir(cfg, out_dir, hash_)
    with run_lock(out_dir):
        for s in settings:
            if s.out_dir != out_dir:
                prepare_out_dir(s.config, s.out_dir, s.run_hash)
        produced, wall = generate_settings(cfg, setup, settings, enhancers)
        reference, reference_note = reference_embeddings(cfg, setup)
        summaries = {
            s.name: write_generation_outputs(s, *produced[s.name], wall, setup, reference, reference_note)
            for s in settings
        }
    counts = summaries[settings[-1].name]["counts"]
    report = "report.md"
    if cfg.sweep:
        best, reason = write_sweep_outputs(cfg, out_dir, hash_, settings, summaries)
        print(
            f"sweep of {len(settings)} settings: {out_dir / 'sweep.md'}; best: "
            + (f"{best} ({reason})" if best else f"none — {reason}")
        )
        report = "sweep.md"
    return GenerateOutcome(out_dir, counts["items"], counts["ok"], counts["failed"], setup.source.diffusions, report)
