"""Model families: one object per family holds everything model-specific (see base.ModelFamily); the data task
(mnist3, cifar10) is the other half of an experiment's name.

Importing the package registers the built-in families (the paper's CNNs, the LoRA ViTs). The names before 0.4
(`ModelTask`, `register_task`, `model_task`, ...) are kept beside the new ones for plugins written against them.
"""

from .base import ModelFamily, Recipe, epoch_learning_rate
from .cnn import CNNFamily
from .registry import family_class_for_scripts, family_named, family_names, register_family, unregister_family
from .vit import LoraViTFamily

ModelTask = ModelFamily
CNNTask = CNNFamily
LoraViTTask = LoraViTFamily
model_task = family_named
register_task = register_family
unregister_task = unregister_family
task_names = family_names
task_class_for_scripts = family_class_for_scripts

__all__ = ["CNNFamily", "CNNTask", "LoraViTFamily", "LoraViTTask", "ModelFamily", "ModelTask", "Recipe",
           "epoch_learning_rate", "family_class_for_scripts", "family_named", "family_names", "model_task",
           "register_family", "register_task", "task_class_for_scripts", "task_names", "unregister_family",
           "unregister_task"]
