"""Avro single-object encoding of events: marker C3 01, the schema's CRC-64-AVRO fingerprint, body.

Any Avro-aware consumer can decode a value with the schema alone (no registry). Values written
with an older schema version are resolved to the newest one on read.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import fastavro
from pydantic import ValidationError

from shared.events.catalog import BY_FOLDER, EventType, event_type_of
from shared.events.generated import Event
from shared.events.schemas import SchemaVersion, all_versions

MARKER = b"\xc3\x01"
HEADER_LEN = len(MARKER) + 8


class CodecError(Exception):
    """A value could not be encoded or decoded; `reason` says why in one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Codec:
    """Encodes events with their newest schema; decodes any known version to the newest model."""

    def __init__(self, versions: Mapping[str, tuple[SchemaVersion, ...]] | None = None) -> None:
        versions = all_versions() if versions is None else versions
        self._by_fingerprint: dict[bytes, SchemaVersion] = {}
        self._latest: dict[str, SchemaVersion] = {}
        for folder, event_versions in versions.items():
            for version in event_versions:
                self._by_fingerprint[version.fingerprint] = version
            self._latest[folder] = event_versions[-1]

    def schema_version(self, event_type: EventType) -> int:
        return self._latest[event_type.folder].version

    def encode(self, event: Event) -> bytes:
        schema = self._latest[event_type_of(event).folder]
        buf = io.BytesIO()
        buf.write(MARKER)
        buf.write(schema.fingerprint)
        try:
            fastavro.schemaless_writer(buf, schema.parsed, event.model_dump())
        except (TypeError, ValueError, OverflowError) as exc:
            raise CodecError(f"cannot encode {type(event).__name__}: {exc}") from None
        return buf.getvalue()

    def decode_raw(self, data: bytes) -> tuple[EventType, dict[str, Any]]:
        """Decode to the event type and a plain dict (no model validation): the fast path."""
        writer = self._writer_of(data)
        reader = self._latest[writer.event]
        body = io.BytesIO(memoryview(data)[HEADER_LEN:])
        try:
            record = fastavro.schemaless_reader(
                body, writer.parsed, reader.parsed if reader is not writer else None
            )
        except (EOFError, StopIteration, ValueError, IndexError, UnicodeDecodeError) as exc:
            detail = f"{type(exc).__name__} {exc}".strip()
            raise CodecError(f"truncated or corrupt {writer.record_name} body: {detail}") from None
        except Exception as exc:  # fastavro raises assorted types on garbage bodies
            raise CodecError(f"corrupt {writer.record_name} body: {type(exc).__name__}") from None
        trailing = len(data) - HEADER_LEN - body.tell()
        if trailing:
            raise CodecError(f"{writer.record_name} body has {trailing} trailing bytes")
        if not isinstance(record, dict):
            raise CodecError(f"{writer.record_name} body is not a record")
        return BY_FOLDER[writer.event], record

    def decode(self, data: bytes) -> Event:
        event_type, record = self.decode_raw(data)
        try:
            return event_type.model.model_validate(record)
        except ValidationError as exc:
            raise CodecError(f"{event_type.name} does not fit its model: {exc}") from None

    def _writer_of(self, data: bytes) -> SchemaVersion:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise CodecError(f"expected bytes, got {type(data).__name__}")
        if len(data) < HEADER_LEN or bytes(data[:2]) != MARKER:
            raise CodecError(
                "not Avro single-object encoding (expected marker C3 01 and an 8-byte fingerprint)"
            )
        fingerprint = bytes(data[2:HEADER_LEN])
        writer = self._by_fingerprint.get(fingerprint)
        if writer is None:
            raise CodecError(f"unknown schema fingerprint {fingerprint.hex()}")
        return writer
