"""`bayestda.tasks`: the name of `bayestda.families` (the model families) before 0.4, kept for plugins written
against it. New code imports `bayestda.families` (`ModelFamily`, `register_family`)."""

from ..families import (
    CNNTask,
    LoraViTTask,
    ModelTask,
    Recipe,
    epoch_learning_rate,
    model_task,
    register_task,
    task_class_for_scripts,
    task_names,
    unregister_task,
)

__all__ = ["CNNTask", "LoraViTTask", "ModelTask", "Recipe", "epoch_learning_rate", "model_task", "register_task",
           "task_class_for_scripts", "task_names", "unregister_task"]
