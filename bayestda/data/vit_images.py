"""The ViT's images: RGB, resized to the model's input size, Normalize(mean=std=0.5), written with torch.

The paper's ViT training transform is RandomResizedCrop(224) -> ToTensor -> Normalize(0.5, 0.5) on RGB
images; its crop parameters are drawn here from torch's global RNG exactly as torchvision draws them, and
the crop is resized with bilinear interpolation (antialiased) on the tensor: the same crops as
torchvision's tensor path, not PIL's pixels. Evaluation and every TDA gradient use a deterministic resize
of the whole image (the paper's code applied the random crop to test images too; see docs/vit.md).
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from .subsets import Subset, load_subset_file

VIT_MEAN = VIT_STD = (0.5, 0.5, 0.5)


def to_rgb_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 [N,H,W] or [N,H,W,C] -> float [N,3,H,W] in [0, 1] (grey images repeated over 3 channels)."""
    x = images.unsqueeze(-1) if images.dim() == 3 else images
    x = x.permute(0, 3, 1, 2).to(torch.float32).div(255)
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def _resize(x: torch.Tensor, size: int) -> torch.Tensor:
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


def _normalize(x: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(VIT_MEAN, dtype=x.dtype).view(1, 3, 1, 1)
    std = torch.tensor(VIT_STD, dtype=x.dtype).view(1, 3, 1, 1)
    return (x - mean) / std


def eval_transform(images: torch.Tensor, size: int) -> torch.Tensor:
    """Deterministic: RGB, resize the whole image to size x size, normalise. [N,3,size,size] float32."""
    return _normalize(_resize(to_rgb_float(images), size)).contiguous()


def random_resized_crop_box(height: int, width: int, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)) -> tuple[int, int, int, int]:
    """(top, left, h, w) drawn from the global RNG as torchvision's RandomResizedCrop.get_params draws it."""
    area = height * width
    log_ratio = torch.log(torch.tensor(ratio))
    for _ in range(10):
        target_area = area * torch.empty(1).uniform_(scale[0], scale[1]).item()
        aspect = math.exp(torch.empty(1).uniform_(log_ratio[0], log_ratio[1]).item())
        w = int(round(math.sqrt(target_area * aspect)))
        h = int(round(math.sqrt(target_area / aspect)))
        if 0 < w <= width and 0 < h <= height:
            top = int(torch.randint(0, height - h + 1, size=(1,)).item())
            left = int(torch.randint(0, width - w + 1, size=(1,)).item())
            return top, left, h, w
    in_ratio = width / height  # fallback: central crop
    if in_ratio < min(ratio):
        w, h = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        h, w = height, int(round(height * max(ratio)))
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


def train_transform(image: torch.Tensor, size: int) -> torch.Tensor:
    """The paper's training transform of one uint8 image: random resized crop, normalise. [3,size,size]."""
    x = to_rgb_float(image.unsqueeze(0))
    top, left, h, w = random_resized_crop_box(x.shape[-2], x.shape[-1])
    return _normalize(_resize(x[..., top : top + h, left : left + w], size))[0]


class AugmentedImages(torch.utils.data.Dataset):
    """Map-style dataset yielding (random crop, label, index): a fresh crop at every access, as the paper's."""

    def __init__(self, images: torch.Tensor, y: torch.Tensor, idx: torch.Tensor, size: int) -> None:
        self.images, self.y, self.idx, self.size = images, y, idx, size

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):
        return train_transform(self.images[i], self.size), self.y[i], self.idx[i]


def load_images(task: str, split: str, num_per_class: int | None = None) -> torch.Tensor:
    """The subset's raw uint8 images (stored beside the CNN tensors), in subset order."""
    return load_subset_file(task, split, num_per_class)["images_uint8"]


def load_vit_data(task: str, num_per_class: int, size: int) -> tuple[Subset, Subset]:
    """(train, test) subsets with the deterministic ViT transform at the model's input size."""
    out = []
    for split, n in (("train", num_per_class), ("test", None)):
        blob = load_subset_file(task, split, n)
        out.append(Subset(eval_transform(blob["images_uint8"], size), blob["y"], blob["idx"]))
    return out[0], out[1]
