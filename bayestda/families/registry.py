"""Model families by experiment model name; users register their own family with `register_family`."""

from __future__ import annotations

import re

from ..core.errors import BadInput
from ..core.plugins import load_plugins
from .base import ModelFamily

_TASKS: dict[str, ModelFamily] = {}
MODEL_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")  # e.g. cnn, cnn3, cnn-wd0


def register_family(task: ModelFamily) -> ModelFamily:
    """Add (or replace, by name) the task of a model name."""
    if not MODEL_NAME.fullmatch(task.name or ""):
        raise ValueError(f"model family name {task.name!r} must be lower-case letters and digits, parts joined by '-' "
                         "(it starts experiment names, e.g. cnn-wd0)")
    _TASKS[task.name] = task
    return task


def unregister_family(name: str) -> None:
    _TASKS.pop(name, None)


def _tasks() -> dict[str, ModelFamily]:
    """Every registered family: the built-in ones (registered when the `tasks` package is imported) and the
    plugins' (BAYESTDA_PLUGINS)."""
    load_plugins()
    return _TASKS


def family_names() -> list[str]:
    return list(_tasks())


def family_named(name: str) -> ModelFamily:
    """The task of an experiment model name, or one line naming the allowed ones."""
    tasks = _tasks()
    if name not in tasks:
        raise BadInput(f"unknown model {name!r}; allowed: {', '.join(tasks)}")
    return tasks[name]


def family_class_for_scripts(scripts: str) -> type[ModelFamily]:
    """The task class whose flags a script folder (`cnn`, `vit`) parses."""
    for task in _tasks().values():
        if task.scripts == scripts:
            return type(task)
    raise BadInput(f"no model family uses the script folder tda_{scripts}_scripts")
