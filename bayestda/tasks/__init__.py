"""Model tasks: one object per model family holds everything model-specific (see base.ModelTask)."""

from .base import ModelTask, Recipe
from .registry import model_task, register_task, task_class_for_scripts, task_names, unregister_task

__all__ = ["ModelTask", "Recipe", "model_task", "register_task", "task_class_for_scripts", "task_names", "unregister_task"]
