"""Provenance records: what every output was made from, and whether it is current (see records.py).

`python -m bayestda.provenance show FILE` prints a file's record; `... adopt --experiment E` records the
outputs of bayestda 0.1 as made from what is on disk now.
"""

from .records import (
           LEGACY_SUFFIX,
           RECORDS_DIR,
           UNRECORDED,
           Kind,
           declare,
           is_current,
           kind_of,
           legacy_record_path,
           problem,
           read,
           record_path,
           remove,
           write,
)

__all__ = ["LEGACY_SUFFIX", "RECORDS_DIR", "UNRECORDED", "Kind", "declare", "is_current", "kind_of",
           "legacy_record_path", "problem", "read", "record_path", "remove", "write"]
