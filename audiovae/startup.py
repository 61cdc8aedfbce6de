"""A command's fixed cost: importing its job with the cyclic garbage collector paused.

torch, diffusers, transformers and Lightning create about a million objects on import and no garbage, yet every
700 allocations start a collection that walks them: on a 2-core machine about 1 s of a full-size evaluation's
start. And at exit the interpreter's last collections walk them again (about 1 s more). `import_job` imports with
the collector off and then freezes what exists (`gc.freeze`: later collections, the one at exit included, skip
it); the collector is on again for the job itself, so a long run still frees its reference cycles.
"""

import gc
import sys
from importlib import import_module
from typing import Any


def import_job(module: str, name: str) -> Any:
    """`module.name`, imported with the collector paused the first time; the objects alive then are frozen.

    Later calls (the module already imported: tests calling the CLI again) freeze nothing more, so at most one
    process-start's worth of objects is ever exempt from collection."""
    if module in sys.modules or not gc.isenabled():
        return getattr(import_module(module), name)
    gc.disable()
    try:
        return getattr(import_module(module), name)
    finally:
        gc.freeze()
        gc.enable()
