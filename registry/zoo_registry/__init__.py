"""zoo_registry: the torch-free contract between zoo and its plugins.

Plugins import ``hookimpl`` and ``ComponentSpec`` from here; zoo uses the
registry, recipe and card functions. Nothing in this package imports torch.
"""

from ._card import LIBRARY_NAME, ZOO_KEY, card_problems, new_card, read_card, update_zoo_fields, zoo_fields
from ._components import KINDS, ComponentSpec, load_object
from ._entries import (CARD_FILE, RECIPE_FILE, WEIGHTS_FILE, Entry, find_entries, resolve_entry,
                       store_entries_dir, store_versions, zoo_home)
from ._errors import (ComponentConflictError, DataError, EntryNotFoundError, MissingPluginError, PluginError,
                      Problem, UnknownComponentError, ValidationError, WeightsError, ZooError, close_matches)
from ._hookspecs import hookimpl, hookspec
from ._plugins import DISABLE_AUTOLOAD_ENV, ENTRY_POINT_GROUP, PLUGINS_ENV, PluginInfo, Registry, Resolved, get_registry
from ._protocols import Architecture, Compressor, Dataset, Trainer
from ._recipe import OVERRIDE_SOURCE, Recipe, Section, apply_overrides, load_recipe, validate
from ._runner_config import RunnerConfig
from ._schema import describe, option
from ._yaml import parse_yaml

__version__ = "0.1.0"

__all__ = [
    "Architecture", "CARD_FILE", "Compressor", "Dataset", "Trainer", "DISABLE_AUTOLOAD_ENV", "ENTRY_POINT_GROUP", "KINDS", "LIBRARY_NAME", "OVERRIDE_SOURCE",
    "PLUGINS_ENV", "RECIPE_FILE", "WEIGHTS_FILE", "ZOO_KEY",
    "ComponentConflictError", "ComponentSpec", "DataError", "Entry", "EntryNotFoundError", "MissingPluginError",
    "PluginError", "PluginInfo", "Problem", "Recipe", "Registry", "Resolved", "RunnerConfig", "Section",
    "UnknownComponentError", "ValidationError", "WeightsError", "ZooError",
    "apply_overrides", "card_problems", "close_matches", "describe", "find_entries", "get_registry", "hookimpl",
    "hookspec", "load_object", "load_recipe", "new_card", "option", "parse_yaml", "read_card", "resolve_entry",
    "store_entries_dir", "store_versions", "update_zoo_fields", "validate", "zoo_fields", "zoo_home",
]
