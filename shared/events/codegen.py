"""Generates shared/events/generated.py (pydantic models) from the latest .avsc of each event.

The models are derived, never hand-edited, so they cannot drift from the schemas; a test
regenerates them and compares. Run `alexandria schemas generate` after changing a schema.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from shared.events.schemas import all_versions

GENERATED = Path(__file__).with_name("generated.py")

_PRIMITIVES = {
    "string": "str",
    "int": "int",
    "long": "int",
    "float": "float",
    "double": "float",
    "boolean": "bool",
    "bytes": "bytes",
    "null": "None",
}


class _Generator:
    def __init__(self) -> None:
        self.classes: dict[str, str] = {}  # record name -> class source
        self.definitions: dict[str, str] = {}  # record name -> canonical JSON, to catch clashes

    def annotation(self, avro_type: Any) -> str:
        if isinstance(avro_type, str):
            return _PRIMITIVES.get(avro_type) or avro_type.rsplit(".", 1)[-1]
        if isinstance(avro_type, list):
            parts = [self.annotation(t) for t in avro_type]
            return " | ".join(p for p in parts if p != "None") + (
                " | None" if "None" in parts else ""
            )
        kind = avro_type["type"]
        if kind == "record":
            return self.record(avro_type)
        if kind == "array":
            return f"list[{self.annotation(avro_type['items'])}]"
        if kind == "map":
            return f"dict[str, {self.annotation(avro_type['values'])}]"
        if avro_type.get("logicalType") in ("timestamp-micros", "timestamp-millis"):
            return "datetime"
        return self.annotation(kind)

    def record(self, schema: dict[str, Any], base: str = "AvroRecord") -> str:
        name = str(schema["name"]).rsplit(".", 1)[-1]
        definition = json.dumps(schema, sort_keys=True)
        if name in self.definitions:
            if self.definitions[name] != definition:
                raise ValueError(f"record {name} is defined differently in two schemas")
            return name
        self.definitions[name] = definition
        lines = [f"class {name}({base}):", f'    """{schema.get("doc", name)}"""', ""]
        for field in schema["fields"]:
            annotation = self.annotation(field["type"])
            default = ""
            if "default" in field:
                value = field["default"]
                if isinstance(value, list):
                    default = " = Field(default_factory=list)"
                elif isinstance(value, dict):
                    default = " = Field(default_factory=dict)"
                else:
                    default = f" = {json.dumps(value) if isinstance(value, str) else value!r}"
            lines.append(f"    {field['name']}: {annotation}{default}")
            if "doc" in field:
                lines.append(f'    """{field["doc"]}"""')
        self.classes[name] = "\n".join(lines)
        return name


def generate() -> str:
    gen = _Generator()
    events = []
    for versions in all_versions().values():
        events.append(gen.record(versions[-1].raw, base="Event"))
    body = "\n\n\n".join(gen.classes.values())
    return (
        '"""Event models generated from schemas/ by shared/events/codegen.py: do not edit."""\n\n'
        "from __future__ import annotations\n\n"
        "from datetime import datetime\n\n"
        "from pydantic import BaseModel, ConfigDict, Field\n\n\n"
        "class AvroRecord(BaseModel):\n"
        '    """Frozen, strict about unknown fields: a model is exactly its Avro record."""\n\n'
        '    model_config = ConfigDict(frozen=True, extra="forbid")\n\n\n'
        "class Event(AvroRecord):\n"
        '    """A top-level event: one schema folder, one topic, an envelope first."""\n\n\n'
        f"{body}\n\n\n"
        f"EVENT_RECORDS = (\n{_lines(events)})\n"
        f"__all__ = [\n{_lines(json.dumps(name) for name in sorted(gen.classes))}]\n"
    )


def _lines(items: Iterable[str]) -> str:
    return "".join(f"    {item},\n" for item in items)


def write() -> Path:
    GENERATED.write_text(generate())
    return GENERATED
