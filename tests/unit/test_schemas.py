"""Schemas: models cannot drift from them; every version stays compatible with the others."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType
from avro.schema import parse

from shared.events import codegen
from shared.events.schemas import all_versions, load_version

VERSIONS = all_versions()


def test_generated_models_match_the_schemas() -> None:
    assert codegen.GENERATED.read_text() == codegen.generate(), (
        "shared/events/generated.py is stale: run `alexandria schemas generate`"
    )


def compatible(reader: dict, writer: dict) -> bool:
    result = ReaderWriterCompatibilityChecker().get_compatibility(
        parse(json.dumps(reader)), parse(json.dumps(writer))
    )
    return result.compatibility is SchemaCompatibilityType.compatible


@pytest.mark.parametrize("event", sorted(VERSIONS))
def test_newest_version_is_fully_compatible_with_every_version(event: str) -> None:
    """Producers write the newest schema while old events stay in the topics forever: each
    side must read the other (new fields need defaults; nothing is removed or retyped)."""
    newest = VERSIONS[event][-1]
    for older in VERSIONS[event]:
        assert compatible(newest.raw, older.raw), f"{newest.path} cannot read {older.path} data"
        assert compatible(older.raw, newest.raw), f"{older.path} cannot read {newest.path} data"


def test_versions_are_numbered_without_gaps() -> None:
    for event, versions in VERSIONS.items():
        assert [v.version for v in versions] == list(range(1, len(versions) + 1)), event


def test_the_checker_catches_a_breaking_change(tmp_path: Path) -> None:
    """Guard for the guard: a new field without a default must be reported as incompatible."""
    current = VERSIONS["month_scheduled"][-1].raw
    broken = copy.deepcopy(current)
    broken["fields"].append({"name": "priority", "type": "string"})
    assert not compatible(broken, current)
    additive = copy.deepcopy(current)
    additive["fields"].append({"name": "priority", "type": "string", "default": "low"})
    assert compatible(additive, current) and compatible(current, additive)
    path = tmp_path / "v2.avsc"
    path.write_text(json.dumps(additive))
    assert (
        load_version("month_scheduled", path).fingerprint
        != VERSIONS["month_scheduled"][-1].fingerprint
    )


def test_every_event_carries_the_envelope() -> None:
    for versions in VERSIONS.values():
        first = versions[-1].raw["fields"][0]
        assert first["name"] == "envelope"
        names = [f["name"] for f in first["type"]["fields"]]
        assert names == [
            "event_id",
            "occurred_at",
            "correlation_id",
            "causation_id",
            "producer",
            "schema_version",
        ]
