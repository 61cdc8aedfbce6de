"""Code of the user's own that a run imports first (`plugins: [...]`): modules or `.py` files that register a
metric (`audiovae.metrics.registry.register_metric`), an enhancer (`audiovae.enhancers.registry.register_enhancer`),
a model family (`audiovae.models.families.register_family`) or a data source (`audiovae.data.sources.register_source`)
on import. The names they register are then config values like the built-in ones (docs "Extending").

A plugin is named by a module name importable from the environment (`my_lab.metrics`) or by a path to a `.py`
file (relative to the working folder; the saved config holds its absolute path). A saved `config.yaml` keeps the
list, so reproducing a run imports them again; a plugin's source is part of the cross-run cache's keys for what it
defines (`source_digest`).
"""

import hashlib
import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Iterable, Optional

from audiovae.errors import ConfigError, debugging, one_line

_LOADED: dict[str, str] = {}  # module name or a file's absolute path -> the module it was imported as


def _module_name(path: Path) -> str:
    """A stable module name for a plugin file: its stem and a digest of its absolute path."""
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:8]
    return f"audiovae_plugin_{path.stem}_{digest}"


def as_saved(name: str) -> str:
    """A plugin as a saved config names it: a `.py` file by its absolute path, a module by its name."""
    return str(Path(name).expanduser().resolve()) if name.endswith(".py") else name


def load_plugin(name: str, where: str = "plugins") -> str:
    """Import one plugin (a module name or a `.py` file) once per process; returns its module name.

    ConfigError naming `where` and the plugin when the file is missing or the import fails (its exception in one
    line)."""
    key = as_saved(name)
    if key in _LOADED:
        return _LOADED[key]
    try:
        if name.endswith(".py"):
            path = Path(name).expanduser()
            if not path.is_file():
                raise ConfigError(f"config key '{where}': plugin file {name} does not exist")
            module = _module_name(path)
            spec = importlib.util.spec_from_file_location(module, path)
            loaded = importlib.util.module_from_spec(spec)
            sys.modules[module] = loaded  # classes defined there pickle by this name (DataLoader workers)
            writes, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # no __pycache__ in the user's folder
            try:
                spec.loader.exec_module(loaded)
            except BaseException:
                del sys.modules[module]
                raise
            finally:
                sys.dont_write_bytecode = writes
        else:
            module = importlib.import_module(name).__name__
    except ConfigError:
        raise
    except SystemExit as err:  # a plugin that exits would end the run as if it had finished
        raise ConfigError(
            f"config key '{where}': plugin {name} called sys.exit({err.code!r}) while being imported"
        ) from None
    except Exception as err:
        if debugging():
            raise
        raise ConfigError(f"config key '{where}': importing plugin {name} failed: {one_line(err)}") from None
    _LOADED[key] = module
    return module


def load_plugins(names: Optional[Iterable[str]]) -> list[str]:
    """Import each plugin of a config's `plugins` list in order; their module names."""
    return [load_plugin(str(name), f"plugins[{i}]") for i, name in enumerate(names or [])]


def load_config_plugins(cfg) -> None:
    """The config validator that imports `cfg.plugins` before anything reads the names they register; a plugin
    file's path becomes absolute, so the saved config reproduces the run from any folder."""
    names = list(cfg.get("plugins") or [])
    load_plugins(names)
    if names:
        cfg.plugins = [as_saved(str(n)) for n in names]


def definition(obj) -> str:
    """`module.qualname`: what makes two objects the same definition (a module imported twice defines it again)."""
    return f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', repr(obj))}"


def check_name_free(what: str, name: str, new, taken=None, reserved: tuple = ()) -> None:
    """ConfigError when `name` is reserved or registered to `taken`, another definition than `new` (the same module
    and qualified name is the same definition imported again: a module loaded twice). A built-in's name is never a
    plugin's, whatever its class is called."""
    if name in reserved or (taken is not None and definition(taken) != definition(new)):
        owner = "a built-in" if name in reserved or (taken is not None and is_builtin(taken)) else "another plugin"
        raise ConfigError(
            f"{what} '{name}' is already registered by {owner}"
            f"{'' if taken is None else f' ({definition(taken)})'}; register the plugin's under another name"
        )


def is_builtin(obj) -> bool:
    """True for a class or function of audiovae itself (not a plugin's)."""
    return (getattr(obj, "__module__", "") or "").split(".")[0] == "audiovae"


def labelled(name: str, obj) -> str:
    """How messages name what `obj` (a class or function) defines: `name`, and the module of a plugin's.

    >>> labelled("snr", is_builtin), labelled("mine", type("Mine", (), {"__module__": "lab.metrics"}))
    ('snr', 'mine (plugin lab.metrics)')
    """
    return name if is_builtin(obj) else f"{name} (plugin {obj.__module__})"


def source_digest(obj) -> Optional[str]:
    """A digest of the source of the module that defines `obj` when it is a plugin's (None for audiovae's own, whose
    definitions are versioned with the package): a changed plugin never reuses a cache entry of its old code."""
    if is_builtin(obj):
        return None
    module = sys.modules.get(getattr(obj, "__module__", ""))
    try:
        text = inspect.getsource(module) if module is not None else ""
    except (OSError, TypeError):
        text = ""
    return hashlib.sha256((text or repr(obj)).encode()).hexdigest()[:16]
