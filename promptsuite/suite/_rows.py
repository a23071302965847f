"""Rows of a data file (CSV, JSON Lines, YAML), each with the line it starts on.

A suite's ``cases:`` may name a data file (``{file: ../data/x.csv, ...}``); every row becomes
one case. Reading keeps each row's line so that a problem names ``file:line`` and the column.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from promptsuite.errors import ConfigError, Location
from promptsuite.suite._yaml import parse_yaml, read_capped

#: File name endings of the data files cases may come from, and what each holds.
FORMATS = {".csv": "CSV", ".jsonl": "JSON Lines", ".yaml": "YAML", ".yml": "YAML"}


@dataclass(frozen=True)
class Row:
    """One row of a data file.

    Attributes:
        line: 1-based line of the data file the row starts on.
        number: 1-based position of the row among the file's rows.
        values: Column name -> value (strings for CSV; any JSON/YAML value otherwise).
    """

    line: int
    number: int
    values: Mapping[str, Any]


@dataclass(frozen=True)
class DataFile:
    """A data file's rows and the columns its header (or first row) names."""

    display: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...]


def read_rows(path: Path, display: str) -> DataFile:
    """Read a data file of cases.

    Raises:
        ConfigError: the file is missing, too large, not UTF-8, of an unknown kind, or a
            row is malformed; located at the file's line.
    """
    kind = path.suffix.lower()
    if kind not in FORMATS:
        known = ", ".join(FORMATS)
        raise ConfigError(f"unknown data file kind {kind!r}; expected one of: {known}")
    text = read_capped(path, display, "data file", encoding="utf-8-sig")
    if kind == ".csv":
        columns, rows = _csv_rows(text, display)
    else:
        rows = _jsonl_rows(text, display) if kind == ".jsonl" else _yaml_rows(text, display)
        columns = tuple(dict.fromkeys(name for row in rows for name in row.values))
    if not rows:
        raise ConfigError("data file has no rows; expected at least one", Location(display, 1))
    return DataFile(display, columns, tuple(rows))


def _csv_rows(text: str, display: str) -> tuple[tuple[str, ...], list[Row]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return (), []
    except csv.Error as exc:
        raise ConfigError(f"not valid CSV: {exc}", Location(display, 1)) from None
    blank = [i + 1 for i, name in enumerate(header) if not name.strip()]
    if blank:
        raise ConfigError(
            f"header column #{blank[0]} has no name; expected a name for every column",
            Location(display, 1),
        )
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise ConfigError(
            f"header names column {duplicates[0]!r} twice; expected unique names",
            Location(display, 1),
        )
    rows: list[Row] = []
    start = reader.line_num + 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise ConfigError(f"not valid CSV: {exc}", Location(display, start)) from None
        if fields:  # a blank line is no row
            if len(fields) != len(header):
                raise ConfigError(
                    f"row has {len(fields)} values; the header has {len(header)} columns "
                    f"({', '.join(header)})",
                    Location(display, start),
                )
            rows.append(Row(start, len(rows) + 1, dict(zip(header, fields, strict=True))))
        # A quoted value may span lines; the next row starts after this one ends.
        start = reader.line_num + 1
    return tuple(header), rows


def _jsonl_rows(text: str, display: str) -> list[Row]:
    rows: list[Row] = []
    for line_number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"not valid JSON: {exc.msg}", Location(display, line_number, exc.colno)
            ) from None
        if not isinstance(value, dict):
            raise ConfigError(
                f"row is a JSON {type(value).__name__}; expected an object of columns",
                Location(display, line_number, 1),
            )
        rows.append(Row(line_number, len(rows) + 1, value))
    return rows


def _yaml_rows(text: str, display: str) -> list[Row]:
    node, data = parse_yaml(text, display)
    if node is None:
        return []
    if not isinstance(node, yaml.SequenceNode) or not isinstance(data, list):
        raise ConfigError(
            "top level is not a list; expected a list of rows (mappings of columns)",
            Location(display, node.start_mark.line + 1, node.start_mark.column + 1),
        )
    rows: list[Row] = []
    for item_node, item in zip(node.value, data, strict=True):
        mark = item_node.start_mark
        if not isinstance(item, dict):
            raise ConfigError(
                f"row is a {type(item).__name__}; expected a mapping of columns",
                Location(display, mark.line + 1, mark.column + 1),
            )
        rows.append(Row(mark.line + 1, len(rows) + 1, {str(k): v for k, v in item.items()}))
    return rows
