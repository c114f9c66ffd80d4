"""The long table of answers as CSV or JSON, and back (plain Python, no Django)."""

from __future__ import annotations

import csv
import io
import json

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """The OWASP rule: a text cell a spreadsheet would run gets a leading apostrophe, which
    spreadsheets show as text. Text that already starts with an apostrophe before such a
    character gets one more, so `from_spreadsheet` undoes exactly what this did."""
    stripped = text[1:] if text.startswith("'") else None
    if text.startswith(FORMULA_STARTS) or (stripped and stripped.startswith(FORMULA_STARTS)):
        return "'" + text
    return text


def from_spreadsheet(text: str) -> str:
    """The text `spreadsheet_safe` was given."""
    if text.startswith("'") and spreadsheet_safe(text[1:]) == text:
        return text[1:]
    return text


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return spreadsheet_safe(json.dumps(value, sort_keys=True))
    if isinstance(value, int | float):
        return str(value)  # a number is never a formula, and "-2" stays a number
    return spreadsheet_safe(str(value))


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
    if not reader.fieldnames or not {"participant", "count"} & set(reader.fieldnames):
        raise FormatError(
            "a CSV of answers needs a header row with a participant column (one listener's "
            "answers) or a count column (answers counted per clip)"
        )
    return [
        {name: from_spreadsheet(value) if isinstance(value, str) else value
         for name, value in row.items()}
        for row in reader
    ]  # fmt: skip
