"""Config schemas, composition from `configs/`, hashing and saving."""

from audiovae.config.compose import CONFIG_DIR, compose, config_hash, save_config
from audiovae.config.schema import EvalConfig
from audiovae.errors import ConfigError

__all__ = ["CONFIG_DIR", "ConfigError", "compose", "config_hash", "save_config", "EvalConfig"]
