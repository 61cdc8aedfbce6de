"""The cross-run cache of enhancer-independent work (`audiovae.cache.store`), its keys, and `python -m
audiovae.cache info|clear`."""

from audiovae.cache.store import CacheEntry, CacheStore, default_cache_dir

__all__ = ["CacheEntry", "CacheStore", "default_cache_dir"]
