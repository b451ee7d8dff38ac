"""Atomic writes leave files as a plain write would (the umask's mode), not owner-only like their temporary files."""

import pandas as pd
import torch

from bayestda.core.io import save_csv, save_json
from bayestda.core.tensor_io import save_torch


def test_written_files_get_a_plain_files_mode_not_the_temporary_files(tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    for name, save, obj in (("a.csv", save_csv, pd.DataFrame({"a": [1]})), ("b.json", save_json, {"b": 1}),
                            ("c.pt", save_torch, torch.zeros(2))):
        save(obj, tmp_path / name)
        assert (tmp_path / name).stat().st_mode & 0o777 == plain.stat().st_mode & 0o777, name
