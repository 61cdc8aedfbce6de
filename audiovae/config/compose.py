"""Compose a run's config: primary YAML + chosen group files + dotted overrides, validated against a schema.

Command-line words are `group=name` (a file `configs/<group>/<name>.yaml`) or `dotted.key=value`.
"""

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from audiovae.config.later_keys import check_not_moved, later_layer, migrate_moved
from audiovae.consent import url_scheme
from audiovae.errors import ConfigError
from audiovae.paths import not_regular

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
ASSET_DIR = Path(__file__).resolve().parents[1] / "assets"
# `${audiovae.asset:models/demo}`: a file shipped inside the package (the bundled demo model)
_register = getattr(OmegaConf, "register_resolver", None) or OmegaConf.register_new_resolver  # omegaconf 2.4 | 2.3
_register("audiovae.asset", lambda name: str(ASSET_DIR / name), replace=True)


def config_groups(config_dir: Path = CONFIG_DIR) -> list[str]:
    """The replaceable parts of a config: the folders of `configs/` (model, frontend, enhancement, data, …)."""
    return sorted(p.name for p in config_dir.iterdir() if p.is_dir())


# Groups whose files hold top-level keys rather than their own section: merged after the primary's own keys, so a
# protocol's `metrics.names` replaces the primary's (dotted overrides still come last).
TOP_LEVEL_GROUPS = ("protocol",)

MAX_CONFIG_BYTES = 1 << 20  # a config file is text of a few KB; anything larger is not one


def _load_yaml(path: Path) -> DictConfig:
    """A YAML mapping from `path`; ConfigError (one line) for a missing, binary, oversized, unparsable or non-mapping
    file. Safe loading only: YAML tags that would build Python objects are refused."""
    if not path.is_file():
        kind = not_regular(path)
        if kind:
            raise ConfigError(f"config file {path} is {kind}, not a config file")
        raise ConfigError(f"config file not found: {path}")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"cannot parse {path}: {path.stat().st_size} bytes is not a config file (at most {MAX_CONFIG_BYTES} bytes)"
        )
    try:
        loaded = OmegaConf.load(path)
    except UnicodeDecodeError:
        raise ConfigError(f"cannot parse {path}: not a text file (not UTF-8)") from None
    except (yaml.YAMLError, OmegaConfBaseException, ValueError) as err:
        raise ConfigError(f"cannot parse {path}: {' '.join(str(err).split())}") from None
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err.strerror}") from None
    if not isinstance(loaded, DictConfig):
        raise ConfigError(
            f"cannot parse {path}: a config is a mapping of keys to values, this is a {type(loaded).__name__}"
        )
    return loaded


_ENV_RESOLVER = re.compile(r"\$\{\s*oc\.env\s*:")


def _environment_reads(node, where: str = "") -> list[str]:
    """The dotted keys of `node` (a plain container) whose value reads an environment variable (`${oc.env:NAME}`)."""
    if isinstance(node, dict):
        return [k for key, value in node.items() for k in _environment_reads(value, f"{where}{key}.")]
    if isinstance(node, list):
        return [k for i, value in enumerate(node) for k in _environment_reads(value, f"{where[:-1]}[{i}].")]
    return [where[:-1]] if isinstance(node, str) and _ENV_RESOLVER.search(node) else []


def refuse_environment(body: DictConfig, path: Path) -> None:
    """ConfigError when a config file from outside the installation's configs/ reads the environment: a shared
    file would copy a variable's value (a token) into config.yaml, the report and the W&B run. Typed on the command
    line, `${oc.env:...}` is the user's own."""
    keys = _environment_reads(OmegaConf.to_container(body, resolve=False))
    if keys:
        raise ConfigError(
            f"config {path}: key '{keys[0]}' reads an environment variable (${{oc.env:...}}); a config file may not "
            f"copy the environment into a run's outputs: give the value on the command line ({keys[0]}=...)"
        )


def load_run_config(path: Path) -> DictConfig:
    """A run folder's saved `config.yaml` for a command that only reads it (compare, listening): parsed safely, and
    refused when it reads the environment (a run folder is someone else's)."""
    body = _load_yaml(Path(path))
    refuse_environment(body, Path(path))
    migrate_moved(body)
    return body


def _group_file(group: str, name: str, config_dir: Path) -> Path:
    path = config_dir / group / f"{name}.yaml"
    if not path.is_file():
        choices = sorted(p.stem for p in (config_dir / group).glob("*.yaml"))
        raise ConfigError(f"unknown {group} '{name}': choose one of {choices} (files in {config_dir / group})")
    return path


def _split_overrides(words: Iterable[str], groups: Sequence[str]) -> tuple[dict, list[str]]:
    selections, dotted = {}, []
    for word in words:
        if "=" not in word:
            raise ConfigError(f"override '{word}' is not of the form key=value")
        key, value = word.split("=", 1)
        if key in groups:
            selections[key] = value
        else:
            dotted.append(word)
    return selections, dotted


def _apply_override(cfg: DictConfig, word: str) -> None:
    """`a.b.0.c=value`, the value parsed as YAML; list indices allowed; typed sections reject unknown keys."""
    key, value = word.split("=", 1)
    try:
        parsed = OmegaConf.from_dotlist([f"value={value}"])["value"]
    except (yaml.YAMLError, ValueError) as err:
        reason = " ".join(str(err).splitlines()[0].split())
        raise ConfigError(
            f"override '{word}': the value is not valid YAML ({reason}); quote it, e.g. {key}='\"...\"'"
        ) from None
    if key == "model.family":  # (model.options.* words come after it)
        _options_follow_family(cfg, parsed)
    OmegaConf.update(cfg, key, parsed, merge=True)


def _options_follow_family(cfg: DictConfig, family) -> None:
    """`model.options` belong to `model.family`: naming another family starts them afresh (in place)."""
    if family is not None and "model" in cfg and family != cfg.model.get("family"):
        cfg.model.options = {}


def _one_line(err: OmegaConfBaseException) -> str:
    key = getattr(err, "full_key", None)
    msg = str(err).splitlines()[0]
    return f"config key '{key}': {msg}" if key else msg


def _group_sections(defaults: dict, selections: dict, config_dir: Path) -> dict[str, DictConfig]:
    """Each chosen group file's section. A group file may pick other groups with its own `defaults:` mapping (a
    model picks the front end of its rate: `defaults: {frontend: wave_44k}`); a pick on the command line wins."""
    sections = {group: _load_yaml(_group_file(group, name, config_dir)) for group, name in defaults.items()}
    for group in list(sections):
        picks = sections[group].pop("defaults", None)
        if picks is None:
            continue
        if not isinstance(picks, DictConfig):
            raise ConfigError(
                f"config file {_group_file(group, defaults[group], config_dir)}: 'defaults' must map groups to names"
            )
        for other, name in picks.items():
            if other not in selections and other in defaults:
                sections[other] = _load_yaml(_group_file(other, str(name), config_dir))
                sections[other].pop("defaults", None)
    return sections


def _load_primary(primary: str, config_dir: Path, chain: tuple = ()) -> DictConfig:
    """A primary config; `extends: NAME` starts from another primary (its defaults and keys, then these). A chain
    that comes back to a config it passed is refused."""
    path = Path(primary)
    if path.suffix not in {".yaml", ".yml"}:
        named = config_dir / f"{primary}.yaml"
        if (os.sep in primary or not named.exists()) and (path.exists() or path.is_symlink()):  # a path, not a name
            kind = not_regular(path) or "not a .yaml file"
            hint = f" ({path / 'config.yaml'}?)" if (path / "config.yaml").is_file() else ""
            raise ConfigError(f"--config {primary}: {kind}; give a config name in configs/ or a .yaml file{hint}")
        path = named
    if path.resolve() in chain:
        names = " -> ".join(str(p.name) for p in (*chain, path.resolve()))
        raise ConfigError(f"config {path}: 'extends' comes back to itself ({names})")
    body = _load_yaml(path)
    if not path.resolve().is_relative_to(config_dir.resolve()):
        refuse_environment(body, path)
    parent_name = body.pop("extends", None)
    if parent_name is None:
        return body
    if not isinstance(parent_name, str):
        raise ConfigError(f"config {path}: 'extends' must name a config, got {parent_name!r}")
    parent = _load_primary(parent_name, config_dir, (*chain, path.resolve()))
    defaults = {**(parent.pop("defaults", None) or {}), **(body.pop("defaults", None) or {})}
    merged = OmegaConf.merge(parent, body)
    merged.defaults = defaults
    return merged


def compose(
    primary: str,
    overrides: Sequence[str] = (),
    schema: Optional[type] = None,
    config_dir: Path = CONFIG_DIR,
    validators: Sequence[Callable[[DictConfig], None]] = (),
) -> DictConfig:
    """Build a resolved, read-only config.

    `primary` is a name in `config_dir` (e.g. "eval") or a path to a YAML file, such as a run's saved
    `config.yaml`. Its `defaults:` mapping picks one file per group; `group=name` words change the pick.
    Layers, later wins: schema, (for a saved config: the keys added since it was written, `later_keys`), group
    files, the primary's own keys, the files of `TOP_LEVEL_GROUPS` (a protocol), dotted overrides.
    """
    body = _load_primary(primary, config_dir)
    saved = Path(primary).suffix in {".yaml", ".yml"}  # a run's saved config (not a name in configs/)
    if saved:
        migrate_moved(body)
    groups = config_groups(config_dir)
    selections, dotted = _split_overrides(overrides, groups)
    for word in dotted:
        check_not_moved(word.split("=", 1)[0])
    defaults = dict(body.pop("defaults", None) or {})
    for group in selections:
        if group not in defaults and group not in body:
            raise ConfigError(f"'{group}' is not a part of the {primary} config")
    defaults.update(selections)

    layers = [OmegaConf.structured(schema)] if schema is not None else [OmegaConf.create({})]
    for section in getattr(schema, "open_sections", ()):  # keys beside the schema's, checked by a validator
        OmegaConf.set_struct(layers[0][section], False)
    if schema is not None and saved:  # keys added since it was written
        layers.append(later_layer(layers[0], config_dir))
    top_level = []
    for group, section in _group_sections(defaults, selections, config_dir).items():
        if group in TOP_LEVEL_GROUPS:
            top_level.append(section)
        else:
            layers.append(OmegaConf.create({group: section}))
    # A chosen group file replaces that section of a saved config wholesale rather than merging into it (a
    # primary's own keys of a group, e.g. train.yaml's trainer.max_steps, still apply on top of the choice).
    for group in selections:
        if saved and group in body:
            body.pop(group)
    layers += [body, *top_level]
    try:
        cfg = _merged(layers)
        for word in sorted(dotted, key=lambda w: not w.startswith("model.family=")):  # the family before its options
            _apply_override(cfg, word)
        OmegaConf.resolve(cfg)
        missing = sorted(OmegaConf.missing_keys(cfg))
    except OmegaConfBaseException as err:
        raise ConfigError(_one_line(err)) from None
    if missing:
        raise ConfigError(f"config key '{missing[0]}' has no value: set it in YAML or as {missing[0]}=...")
    for validate in validators:
        validate(cfg)
    OmegaConf.set_readonly(cfg, True)
    return cfg


def _merged(layers: list) -> DictConfig:
    """The layers merged in order, later wins; `model.options` belongs to its `model.family`, so a layer that names
    another family starts its options afresh (a plugin family's config over eval's default mel model)."""
    cfg = layers[0]
    for layer in layers[1:]:
        _options_follow_family(cfg, OmegaConf.select(layer, "model.family", default=None))
        cfg = OmegaConf.merge(cfg, layer)
    return cfg


PATH_KEYS = ("data.dir", "data.manifest", "data.dataset_root", "data.val_dir", "prompts", "reference", "ckpt_path")


def absolute_paths(cfg: DictConfig) -> None:
    """The config validator that makes the input paths absolute (`PATH_KEYS`, the local parts of `data.shards` and
    `enhancement.checkpoint`): the saved config.yaml then names the same files from any folder, instead of other
    audio under the same relative name."""

    def absolute(value: str) -> str:
        return value if url_scheme(value) else os.path.abspath(os.path.expanduser(value))

    for key in PATH_KEYS:
        value = OmegaConf.select(cfg, key, default=None)
        if isinstance(value, str) and value:
            OmegaConf.update(cfg, key, absolute(value), merge=False)
    shards = OmegaConf.select(cfg, "data.shards", default=None)
    if isinstance(shards, str) and shards:
        OmegaConf.update(cfg, "data.shards", "::".join(absolute(p) for p in shards.split("::")), merge=False)
    enhancement = cfg.get("enhancement")
    if isinstance(enhancement, DictConfig) and isinstance(enhancement.get("checkpoint"), str):
        enhancement.checkpoint = absolute(enhancement.checkpoint)


def config_hash(cfg: DictConfig) -> str:
    """Short stable hash of a resolved config (key order does not matter)."""
    text = json.dumps(OmegaConf.to_container(cfg, resolve=True), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def save_config(cfg: DictConfig, out_dir: Path) -> Path:
    """Write `config.yaml` (fully resolved) and `config_hash.txt` into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "config.yaml"
    OmegaConf.save(cfg, path, resolve=True)
    (out_dir / "config_hash.txt").write_text(config_hash(cfg) + "\n")
    return path


def compose_section(group: str, name: str, words: Sequence[str], config_dir: Path = CONFIG_DIR) -> DictConfig:
    """One group file (`configs/<group>/<name>.yaml`) with `<group>.<key>=<value>` words applied, checked against
    the group's schema; for tools that need one section of a job's config (e.g. compare's `logger`)."""
    from audiovae.config.schema import SECTION_SCHEMAS

    try:
        cfg = OmegaConf.merge(
            OmegaConf.structured(SECTION_SCHEMAS[group]), _load_yaml(_group_file(group, name, config_dir))
        )
        for word in words:
            key, value = word.split("=", 1)
            if not key.startswith(f"{group}."):
                raise ConfigError(f"'{word}' is not a {group}.<key>=<value> setting")
            _apply_override(cfg, f"{key[len(group) + 1 :]}={value}")
    except OmegaConfBaseException as err:
        raise ConfigError(_one_line(err).replace("config key '", f"config key '{group}.")) from None
    return cfg
