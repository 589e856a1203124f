"""Tabular writers: CSV, JSON Lines, Parquet and XLSX, each fed batch by batch.

Every writer takes the output columns once, then ``write(rows)`` for each batch of value
tuples (Python ints, str, date, datetime, Decimal, bool or None), then ``close()``. None of
them holds more than a batch (Parquet: one row group) in memory.

How values are written (docs/export.md has the table): dates as ISO text in CSV and JSON
Lines (date-times ``2024-03-01 14:05:00`` in CSV, ``2024-03-01T14:05:00`` in JSON), money as
text with two decimals (``"12.50"``, exact), booleans ``true``/``false``; Parquet types
int64, string, date32, timestamp[us], decimal128(12, 2), bool; XLSX numbers, dates with a
date format, text always as text (never a formula).

CSV has no cell types: a spreadsheet opening it runs any cell that starts with ``=``, ``+``,
``-`` or ``@`` (or a tab or carriage return before one) as a formula, and names, emails and
addresses can be typed by patients themselves in web forms. Unless told otherwise
(``guard_formulas=False``), text cells that start that way get a leading apostrophe
(:func:`neutralise_formula`), which spreadsheets show as text and never run.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol, TextIO

from odbridge.export.columns import Kind, OutputColumn

Rows = Sequence[Sequence[Any]]


class RowWriter(Protocol):
    """Receives batches of rows; ``close()`` finishes the file (it does not close streams
    it was given)."""

    def write(self, rows: Sequence[Any]) -> None: ...

    def close(self) -> None: ...


# -- text formats ---------------------------------------------------------------------------


FORMULA_TRIGGERS: tuple[str, ...] = (
    "=",
    "+",
    "-",
    "@",
    "\t",
    "\r",
    *("\uff1d", "\uff0b", "\uff0d", "\uff20"),  # full-width = + - @, which Excel accepts too
)
"""First characters that make a spreadsheet treat a CSV cell as a formula (OWASP's list, plus
the full-width forms)."""


def neutralise_formula(value: str) -> str:
    """``value`` with a leading apostrophe if a spreadsheet would run it as a formula (spaces
    before the trigger do not save it); anything else unchanged."""
    if value.lstrip(" ").startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def _csv_date(value: date) -> str:
    return value.isoformat()


def _csv_datetime(value: datetime) -> str:
    return value.isoformat(sep=" ")


def _json_datetime(value: datetime) -> str:
    return value.isoformat()


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _bool(value: bool) -> str:
    return "true" if value else "false"


_CSV_FORMAT: dict[Kind, Callable[[Any], Any] | None] = {
    "int": None,
    "text": None,
    "date": _csv_date,
    "datetime": _csv_datetime,
    "money": _money,
    "bool": _bool,
}

_JSON_FORMAT: dict[Kind, Callable[[Any], Any] | None] = {
    "int": None,
    "text": None,
    "date": _csv_date,
    "datetime": _json_datetime,
    "money": _money,
    "bool": None,
}


def _formatters(
    columns: Sequence[OutputColumn], table: dict[Kind, Callable[[Any], Any] | None]
) -> list[tuple[int, Callable[[Any], Any]]]:
    """(position, function) for the columns whose values need converting."""
    found: list[tuple[int, Callable[[Any], Any]]] = []
    for i, column in enumerate(columns):
        function = table[column.kind]
        if function is not None:
            found.append((i, function))
    return found


def _converted(row: Sequence[Any], formatters: list[tuple[int, Callable[[Any], Any]]]) -> list[Any]:
    values = list(row)
    for i, function in formatters:
        value = values[i]
        if value is not None:
            values[i] = function(value)
    return values


class CsvWriter:
    """RFC 4180 CSV (``\\r\\n`` line ends, quotes where needed), UTF-8, a header row; text
    cells a spreadsheet would run as formulas are neutralised unless ``guard_formulas`` is
    false."""

    def __init__(
        self, stream: TextIO, columns: Sequence[OutputColumn], *, guard_formulas: bool = True
    ) -> None:
        self._writer = csv.writer(stream)
        self._formatters = _formatters(columns, _CSV_FORMAT)
        if guard_formulas:
            self._formatters += [
                (i, neutralise_formula) for i, c in enumerate(columns) if c.kind == "text"
            ]
        self._writer.writerow([c.name for c in columns])

    def write(self, rows: Rows) -> None:
        formatters = self._formatters
        self._writer.writerows(_converted(row, formatters) for row in rows)

    def close(self) -> None:
        """Nothing to finish: every row is already written."""


class JsonLinesWriter:
    """One JSON object per line, keys in column order, UTF-8 (not escaped)."""

    def __init__(self, stream: TextIO, columns: Sequence[OutputColumn]) -> None:
        self._stream = stream
        self._names = [c.name for c in columns]
        self._formatters = _formatters(columns, _JSON_FORMAT)
        self._encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

    def write(self, rows: Rows) -> None:
        names, formatters, encode = self._names, self._formatters, self._encode
        self._stream.write(
            "".join(
                encode(dict(zip(names, _converted(row, formatters), strict=True))) + "\n"
                for row in rows
            )
        )

    def close(self) -> None:
        """Nothing to finish: every row is already written."""


# -- Parquet ----------------------------------------------------------------------------------

ROW_GROUP_ROWS = 32_768
"""Rows buffered into one Parquet row group: bounds memory, keeps groups useful to readers."""


def arrow_type(kind: Kind) -> Any:
    """The Arrow type of a column kind."""
    import pyarrow as pa

    types: dict[Kind, Any] = {
        "int": pa.int64(),
        "text": pa.string(),
        "date": pa.date32(),
        "datetime": pa.timestamp("us"),
        "money": pa.decimal128(12, 2),
        "bool": pa.bool_(),
    }
    return types[kind]


class ParquetWriter:
    """Typed Parquet, written a row group at a time with ``pyarrow.parquet.ParquetWriter``."""

    def __init__(
        self, path: Path, columns: Sequence[OutputColumn], metadata: dict[str, str] | None = None
    ) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._pa = pa
        self._schema = pa.schema(
            [pa.field(c.name, arrow_type(c.kind)) for c in columns],
            metadata={f"odbridge.{k}": v for k, v in (metadata or {}).items()},
        )
        self._writer = pq.ParquetWriter(str(path), self._schema, compression="snappy")
        self._pending: list[Any] = []
        self._pending_rows = 0

    def write(self, rows: Rows) -> None:
        if not rows:
            return
        pa = self._pa
        arrays = [
            pa.array(values, type=field.type)
            for values, field in zip(zip(*rows, strict=True), self._schema, strict=True)
        ]
        self._pending.append(pa.RecordBatch.from_arrays(arrays, schema=self._schema))
        self._pending_rows += len(rows)
        if self._pending_rows >= ROW_GROUP_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            table = self._pa.Table.from_batches(self._pending, schema=self._schema)
            self._writer.write_table(table, row_group_size=max(self._pending_rows, 1))
            self._pending = []
            self._pending_rows = 0

    def close(self) -> None:
        self._flush()
        self._writer.close()


# -- XLSX -------------------------------------------------------------------------------------

XLSX_MAX_ROWS = 1_048_576
"""Rows per worksheet in Excel (header included); more go on the next sheet."""

_WIDTHS: dict[Kind, float] = {
    "int": 10,
    "text": 16,
    "date": 11,
    "datetime": 19,
    "money": 12,
    "bool": 8,
}
_WIDE_TEXT = {"address": 28, "address2": 14, "email": 30, "fam_fin_urg_note": 40}


def _money_cell(sheet: Any, cell_format: Any) -> Callable[[int, int, Any], Any]:
    return lambda r, c, v: sheet.write_number(r, c, float(v), cell_format)


def _formatted_cell(method: Any, cell_format: Any) -> Callable[[int, int, Any], Any]:
    return lambda r, c, v: method(r, c, v, cell_format)


class XlsxWriter:
    """An .xlsx workbook streamed in xlsxwriter's ``constant_memory`` mode: a bold header,
    frozen below it, an autofilter, column widths and number formats by kind."""

    def __init__(
        self,
        path: Path,
        columns: Sequence[OutputColumn],
        sheet_name: str = "patients",
        properties: dict[str, str] | None = None,
    ) -> None:
        import xlsxwriter

        self._book = xlsxwriter.Workbook(
            str(path),
            {
                "constant_memory": True,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
            },
        )
        if properties:
            self._book.set_properties(properties)
        self._columns = list(columns)
        self._sheet_name = sheet_name
        self._header = self._book.add_format({"bold": True, "bottom": 1})
        formats = {
            "date": self._book.add_format({"num_format": "yyyy-mm-dd"}),
            "datetime": self._book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
            "money": self._book.add_format({"num_format": "#,##0.00"}),
            "int": self._book.add_format({"num_format": "0"}),
        }
        self._formats = [formats.get(c.kind) for c in self._columns]
        self._sheets = 0
        self._new_sheet()

    def _new_sheet(self) -> None:
        self._sheets += 1
        name = self._sheet_name if self._sheets == 1 else f"{self._sheet_name} {self._sheets}"
        sheet = self._book.add_worksheet(name)
        for col, column in enumerate(self._columns):
            width = _WIDE_TEXT.get(column.name, _WIDTHS[column.kind])
            sheet.set_column(col, col, max(width, len(column.name) + 2), self._formats[col])
            sheet.write_string(0, col, column.name, self._header)
        sheet.freeze_panes(1, 0)
        self._sheet = sheet
        self._row = 1
        self._cell = self._cell_writers(sheet)

    def _cell_writers(self, sheet: Any) -> list[Callable[[int, int, Any], Any]]:
        writers: list[Callable[[int, int, Any], Any]] = []
        for column, cell_format in zip(self._columns, self._formats, strict=True):
            kind = column.kind
            if kind == "text":
                writers.append(sheet.write_string)
            elif kind == "bool":
                writers.append(sheet.write_boolean)
            elif kind == "money":
                writers.append(_money_cell(sheet, cell_format))
            elif kind in ("date", "datetime"):
                writers.append(_formatted_cell(sheet.write_datetime, cell_format))
            else:
                writers.append(_formatted_cell(sheet.write_number, cell_format))
        return writers

    def write(self, rows: Rows) -> None:
        for row in rows:
            if self._row >= XLSX_MAX_ROWS:
                self._finish_sheet()
                self._new_sheet()
            r, cells = self._row, self._cell
            for c, value in enumerate(row):
                if value is not None:
                    cells[c](r, c, value)
            self._row += 1

    def _finish_sheet(self) -> None:
        self._sheet.autofilter(0, 0, max(self._row - 1, 1), max(len(self._columns) - 1, 0))

    def close(self) -> None:
        self._finish_sheet()
        self._book.close()
