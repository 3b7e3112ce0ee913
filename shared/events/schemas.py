"""Loads the Avro schemas in schemas/<event>/v<N>.avsc: every version, parsed and fingerprinted."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

from shared.settings import REPO_ROOT

SCHEMA_DIR = REPO_ROOT / "schemas"
_VERSION_FILE = re.compile(r"^v(\d+)\.avsc$")


@dataclass(frozen=True)
class SchemaVersion:
    """One version of one event's schema."""

    event: str  # folder name, e.g. "month_scheduled"
    version: int
    path: Path
    raw: dict[str, Any]
    parsed: Any  # fastavro's parsed schema
    fingerprint: bytes  # CRC-64-AVRO of the parsing canonical form, little-endian

    @property
    def record_name(self) -> str:
        return str(self.raw["name"])


def load_version(event: str, path: Path) -> SchemaVersion:
    match = _VERSION_FILE.match(path.name)
    if match is None:
        raise ValueError(f"{path}: schema files are named v<N>.avsc")
    raw = json.loads(path.read_text())
    parsed = fastavro.parse_schema(raw, named_schemas={})
    fp = bytes.fromhex(fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO"))
    return SchemaVersion(event, int(match.group(1)), path, raw, parsed, fp)


@cache
def all_versions(schema_dir: Path = SCHEMA_DIR) -> dict[str, tuple[SchemaVersion, ...]]:
    """event -> its versions, oldest first. The last one is what producers write today."""
    found: dict[str, tuple[SchemaVersion, ...]] = {}
    for folder in sorted(p for p in schema_dir.iterdir() if p.is_dir()):
        versions = sorted(
            (load_version(folder.name, f) for f in folder.glob("v*.avsc")),
            key=lambda v: v.version,
        )
        if versions:
            found[folder.name] = tuple(versions)
    return found


def latest(event: str) -> SchemaVersion:
    return all_versions()[event][-1]
