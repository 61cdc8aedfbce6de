"""Consent for code, the `trust_remote_code` way: a config key that makes audiovae run code or a command runs it only
when the user asked for it.

The keys that run code (docs "Code and consent"):

- `plugins`: each module or `.py` file is imported;
- `data.shards` (evaluation and training): a `pipe:` url runs its shell command, `http(s):`, `gs:` and `s3:` urls
  run `curl`, `gsutil` or `aws` (webdataset's url opener);
- `model.family` naming a module rather than a registered family: the module is imported.

A use is consented when the value was typed on the command line (`plugins=[x.py]`, `data.shards=pipe:...`), when
the config came from the installation's own `configs/` folder (chosen by name), or when the user passed
`--trust-code`. Anything else, from a config file (`--config their.yaml`, a run folder's `config.yaml`) or a
checkpoint, is refused in one line that lists exactly what would run, before anything is imported or written.

>>> [use.describe() for use in code_uses({"plugins": ["lab.metrics"], "data": {"shards": "a.tar::pipe:cat b.tar"}})]
['plugins[0]: module lab.metrics', 'data.shards: command `cat b.tar`']
"""

import re
from dataclasses import dataclass
from typing import Iterable, Mapping, Optional, Sequence

from audiovae.errors import ConfigError

URL_COMMANDS = {"pipe": None, "http": "curl", "https": "curl", "gs": "gsutil", "s3": "aws"}  # scheme -> program
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")


def url_scheme(text: str) -> str:
    """The url scheme `text` starts with, lower case ("" for a path).

    >>> url_scheme("pipe:cat a.tar"), url_scheme("S3://b/a.tar"), url_scheme("data/a-{0..3}.tar")
    ('pipe', 's3', '')
    """
    match = _SCHEME.match(text)
    return match.group(1).lower() if match else ""


@dataclass(frozen=True)
class CodeUse:
    """One thing a config would run: the key that asks for it and what it is (`kind`: plugin, command, module)."""

    key: str
    kind: str
    value: str

    def describe(self) -> str:
        """What runs, as the refusal lists it: `plugins[0]: plugin /abs/x.py`, `data.shards: command `...``."""
        if self.kind == "command":
            return f"{self.key}: command `{self.value}`"
        if self.kind == "url":
            return f"{self.key}: {URL_COMMANDS[url_scheme(self.value)]} {self.value}"
        return f"{self.key}: {self.kind} {self.value}"

    @property
    def identity(self) -> tuple[str, str]:
        """What it runs, whichever index or key names it (a plugin listed at another position is the same)."""
        return (self.kind, self.value)


def url_uses(key: str, pattern: Optional[str]) -> list[CodeUse]:
    """The commands a shard pattern runs: each `::`-separated part with a url scheme that runs a program."""
    out = []
    for part in str(pattern or "").split("::"):
        scheme = url_scheme(part)
        if scheme == "pipe":
            out.append(CodeUse(key, "command", part[len("pipe:") :]))
        elif scheme in URL_COMMANDS:
            out.append(CodeUse(key, "url", part))
    return out


def plugin_use(index: int, name: str) -> CodeUse:
    """A `plugins` entry: a `.py` file by its absolute path (as the saved config holds it), a module by its name."""
    from audiovae.plugins import as_saved

    return CodeUse(f"plugins[{index}]", "plugin" if name.endswith(".py") else "module", as_saved(name))


def _get(cfg: Mapping, dotted: str):
    value = cfg
    for part in dotted.split("."):
        if not isinstance(value, Mapping) and not hasattr(value, "get"):
            return None
        value = value.get(part) if value is not None else None
    return value


def code_uses(cfg: Mapping, families: Iterable[str] = ()) -> list[CodeUse]:
    """What `cfg` would run: its plugins, its shard urls that run commands, and `model.family` when it names a
    module (not one of `families`, the registered ones; only asked when `families` is given)."""
    uses = [plugin_use(i, str(name)) for i, name in enumerate(_get(cfg, "plugins") or [])]
    uses += url_uses("data.shards", _get(cfg, "data.shards"))
    family = _get(cfg, "model.family")
    families = set(families)
    if families and family is not None and str(family) not in families:
        uses.append(CodeUse("model.family", "module", str(family)))
    return uses


def typed_uses(words: Sequence[str]) -> set[tuple[str, str]]:
    """The identities of the code uses the user typed as `key=value` words on the command line (a typed
    `model.family` counts whatever it names)."""
    from omegaconf import OmegaConf

    found = set()
    for word in words:
        try:
            partial = OmegaConf.to_container(OmegaConf.from_dotlist([word]), resolve=False)
        except Exception:  # not a key=value word: compose says why
            continue
        found |= {use.identity for use in code_uses(partial, families=("",))}
    return found


def check_consent(
    uses: Sequence[CodeUse], typed: set, trusted: bool, source: str, how: str = "run again with --trust-code"
) -> None:
    """ConfigError listing the uses neither typed nor trusted: one line, before anything of them runs."""
    refused = [use for use in uses if not trusted and use.identity not in typed]
    if refused:
        raise ConfigError(
            f"{source} would run code: " + "; ".join(use.describe() for use in refused) + f"; {how} to allow it "
            f"(or give these keys on the command line)"
        )
