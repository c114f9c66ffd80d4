"""The long table of answers as CSV or JSON, and back (plain Python, no Django)."""

from __future__ import annotations

import csv
import io
import json


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


def to_csv(rows: list[dict], columns: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in columns])
    return buffer.getvalue()


def to_json(rows: list[dict], **about) -> str:
    return json.dumps({**about, "answers": rows}, indent=1)


class FormatError(ValueError):
    pass


def read_rows(text: str) -> list[dict]:
    """Rows from an exported CSV or JSON file (told apart by their first character)."""
    text = text.lstrip("\ufeff")  # spreadsheet programs add a byte-order mark
    if text.lstrip().startswith(("{", "[")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise FormatError(f"not valid JSON: {error}") from None
        rows = data.get("answers") if isinstance(data, dict) else data
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise FormatError('JSON answers must be a list of objects (or {"answers": [...]})')
        return rows
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "participant" not in reader.fieldnames:
        raise FormatError("a CSV of answers needs a header row with at least a participant column")
    return list(reader)
