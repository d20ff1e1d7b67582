"""JSON files that survive a killed process: atomic writes, fsync'd appends, torn-line repair.

Every file eigscale writes for a later run to read goes through here, so "nothing is lost" has
one implementation: a reader never sees half a JSON file, and a JSON-lines file keeps every row
its writer reported written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def write_json_atomic(path: Path, data: Any, indent: int | None = 2) -> None:
    """Write `data` as JSON to `path` through a temporary sibling and a rename: the file is
    either the old one or the whole new one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=indent, default=float), encoding="utf-8")
    os.replace(tmp, path)


def append_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Append rows, one JSON line each, and fsync: a killed run keeps every row appended."""
    with open(path, "a", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, default=float) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(path: Path | None) -> list[dict[str, Any]]:
    """Rows of a JSON-lines file written by `append_jsonl` ([] if there is none). A torn last
    line (the writer was killed mid-row) is cut off the file, so later appends start on a
    clean line."""
    if path is None or not Path(path).exists():
        return []
    raw = Path(path).read_bytes()
    keep = raw[: raw.rfind(b"\n") + 1]
    if len(keep) != len(raw):
        with open(path, "r+b") as f:
            f.truncate(len(keep))
    return [json.loads(line) for line in keep.decode("utf-8").splitlines() if line.strip()]
