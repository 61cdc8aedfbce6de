"""Config schemas, composition from `configs/`, hashing and saving."""
from audiovae.config.compose import CONFIG_DIR, compose, config_hash, save_config
from audiovae.errors import ConfigError
from audiovae.config.schema import EvalConfig

__all__ = ["CONFIG_DIR", "ConfigError", "compose", "config_hash", "save_config", "EvalConfig"]
