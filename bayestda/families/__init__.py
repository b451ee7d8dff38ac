"""Model tasks: one object per model family holds everything model-specific (see base.ModelTask).

Importing the package registers the built-in families (the paper's CNNs, the LoRA ViTs).
"""

from .base import ModelTask, Recipe, epoch_learning_rate
from .cnn import CNNTask
from .registry import model_task, register_task, task_class_for_scripts, task_names, unregister_task
from .vit import LoraViTTask

__all__ = ["CNNTask", "LoraViTTask", "ModelTask", "Recipe", "epoch_learning_rate", "model_task", "register_task",
           "task_class_for_scripts", "task_names", "unregister_task"]
