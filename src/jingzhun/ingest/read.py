"""Read a raw file into a staging table of text columns, one row per data record.

Sniffing (kind, compression, encoding, delimiter) looks at the first bytes only; the bulk of a
CSV is parsed by DuckDB's reader (fast, streaming, bounded memory). Python touches every byte only
where DuckDB cannot: non-UTF-8 encodings (GBK/GB18030/UTF-16 are transcoded to a temporary UTF-8
file in 8 MiB chunks) and whitespace-aligned text (runs of blanks become tabs). Encoding detection
uses charset-normalizer on a sample, with a GB18030 preference for Chinese text (charset-normalizer
alone often names a Big5 or cp949 code page for short GBK samples).

The staging table ``_raw`` has ``_row`` (1-based data-record number, the header not counted),
``_source`` (file, or file#sheet) and one VARCHAR column per source column (``c0, c1, ...``);
``StagedFile.columns`` gives the source header of each. Lines that cannot be split into the
header's number of columns go to ``_malformed`` (``_row``, ``_source``, ``line_text``, ``error``).
Record numbers are exact unless a malformed line follows records that hold quoted line breaks
(DuckDB reports a malformed line by its physical line number, from which the numbers are derived).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from jingzhun.errors import InputError

log = logging.getLogger(__name__)

SAMPLE_BYTES = 256 * 1024
CHUNK_BYTES = 8 * 1024 * 1024
DELIMITERS = (",", "\t", ";", "|")
WHITESPACE = "whitespace"

ProgressFn = Callable[[int], None]  # called with bytes processed since the last call


@dataclass(frozen=True)
class FileFormat:
    """What sniffing found (or the mapping declared) about a file."""

    kind: str  # csv | excel | parquet
    compression: str | None = None  # gzip | None
    encoding: str = "utf-8"  # python codec name; utf-8-sig when a BOM is present
    delimiter: str = ","  # one of DELIMITERS or "whitespace"
    header: bool = True
    sheets: tuple[str, ...] = ()  # excel: sheets to read (default: the first)


@dataclass
class StagedFile:
    """The result of staging: source column names and counts."""

    path: Path
    fmt: FileFormat
    columns: list[str]  # source header per staged column c0, c1, ...
    rows_staged: int = 0
    rows_malformed: int = 0
    notes: list[str] = field(default_factory=list)


# -- sniffing ---------------------------------------------------------------------------------
def _open_bytes(path: Path, compression: str | None):
    return gzip.open(path, "rb") if compression == "gzip" else open(path, "rb")


def sniff(path: Path, *, encoding: str = "auto", delimiter: str = "auto",
          header: bool = True, sheets: tuple[str, ...] = ()) -> FileFormat:
    """Detect a file's kind, compression, encoding and delimiter from its first bytes.

    Raises ``InputError`` (naming the file) for a missing, empty or binary file.
    """
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a file",
                         hint="pass the files inside it, or a built-in --source that reads folders")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty (0 bytes)")
    with open(path, "rb") as fh:
        magic = fh.read(8)
    if magic.startswith(b"PAR1"):
        return FileFormat(kind="parquet")
    if magic.startswith(b"PK\x03\x04"):
        return FileFormat(kind="excel", sheets=sheets)
    if magic.startswith(b"\xd0\xcf\x11\xe0"):
        raise InputError(f"{path}: an old binary Excel (.xls) workbook",
                         hint="save it as .xlsx or CSV in Excel and ingest that")
    compression = "gzip" if magic.startswith(b"\x1f\x8b") else None
    try:
        with _open_bytes(path, compression) as fh:
            sample = fh.read(SAMPLE_BYTES)
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: cannot read the gzip stream ({exc})") from exc
    if not sample.strip():
        raise InputError(f"{path}: the file is empty (no data lines)")
    enc = _detect_encoding(path, sample) if encoding == "auto" else encoding
    text = sample.decode(enc, errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    delim = _detect_delimiter(path, text) if delimiter == "auto" else delimiter
    if delim == "\\t":
        delim = "\t"
    return FileFormat(kind="csv", compression=compression, encoding=enc, delimiter=delim,
                      header=header)


def _detect_encoding(path: Path, sample: bytes) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in sample:
        # UTF-16 without a BOM has a NUL in every other byte of ASCII text
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        if odd > len(sample) // 4 and even == 0:
            return "utf-16-le"
        if even > len(sample) // 4 and odd == 0:
            return "utf-16-be"
        raise InputError(f"{path}: looks like a binary file, not text (NUL bytes at the start)",
                         hint="ingest reads CSV/TSV/text (optionally .gz), .xlsx and Parquet")
    body = sample if len(sample) < SAMPLE_BYTES else sample[: sample.rfind(b"\n") + 1] or sample
    # the encoding under which the fewest lines have undecodable bytes; those lines are then
    # quarantined as bad_encoding instead of failing the whole file
    n_lines = len(body.splitlines()) or 1
    bad = {enc: _bad_lines(body, enc) for enc in ("utf-8", "gb18030")}
    enc, n_bad = min(bad.items(), key=lambda kv: kv[1])
    if n_bad <= max(2, n_lines // 10):
        return enc
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    if best is None:
        raise InputError(f"{path}: looks like a binary file; no text encoding fits its bytes",
                         hint="pass --encoding if you know it")
    return best.encoding


def _bad_lines(sample: bytes, encoding: str) -> int:
    """Number of the sample's lines that hold bytes ``encoding`` cannot decode."""
    bad = 0
    for line in sample.splitlines():
        try:
            line.decode(encoding)
        except UnicodeDecodeError:
            bad += 1
    return bad


def _detect_delimiter(path: Path, text: str) -> str:
    lines = [ln for ln in text.splitlines()[:50] if ln.strip()]
    if len(lines) > 2:
        lines = lines[:-1]  # the last line of a sample may be cut
    best, best_score = None, 0.0
    for d in DELIMITERS:
        counts = [len(next(csv.reader([ln], delimiter=d))) for ln in lines]
        if not counts or counts[0] < 2:
            continue
        share = sum(c == counts[0] for c in counts) / len(counts)
        score = share * 1000 + counts[0]
        if share >= 0.8 and score > best_score:
            best, best_score = d, score
    if best is not None:
        return best
    counts = [len(ln.split()) for ln in lines]
    if counts and counts[0] >= 2 and sum(c == counts[0] for c in counts) / len(counts) >= 0.8:
        return WHITESPACE
    return ","  # one column, or no consistent delimiter: let the column check explain


# -- staging ----------------------------------------------------------------------------------
def stage(con: duckdb.DuckDBPyConnection, path: Path, fmt: FileFormat, *,
          progress: ProgressFn | None = None) -> StagedFile:
    """Load ``path`` into the temporary tables ``_raw`` and ``_malformed`` (see module doc)."""
    con.execute("DROP TABLE IF EXISTS _raw")
    con.execute("DROP TABLE IF EXISTS _malformed")
    con.execute("CREATE TEMP TABLE _malformed (_row BIGINT, _source VARCHAR, "
                "line_text VARCHAR, error VARCHAR)")
    if fmt.kind == "parquet":
        staged = _stage_parquet(con, path, fmt)
    elif fmt.kind == "excel":
        staged = _stage_excel(con, path, fmt, progress)
    else:
        staged = _stage_csv(con, path, fmt, progress)
    staged.rows_staged = con.execute("SELECT count(*) FROM _raw").fetchone()[0]
    staged.rows_malformed = con.execute("SELECT count(*) FROM _malformed").fetchone()[0]
    return staged


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, n in enumerate(names):
        n = (n or "").strip() or f"column_{i + 1}"
        if n in seen:
            seen[n] += 1
            n = f"{n}_{seen[n]}"
        else:
            seen[n] = 1
        out.append(n)
    return out


def _stage_parquet(con, path: Path, fmt: FileFormat) -> StagedFile:
    cols = [r[0] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()]
    select = ", ".join(f'CAST("{c}" AS VARCHAR) AS c{i}' for i, c in enumerate(cols))
    con.execute(
        f"CREATE TEMP TABLE _raw AS SELECT file_row_number + 1 AS _row, "
        f"'{_sql_str(path.name)}' AS _source, {select} "
        f"FROM read_parquet('{_sql_str(str(path))}', file_row_number = true)"
    )
    return StagedFile(path, fmt, _unique_names(cols))


def _cell_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
    return str(value)


def _stage_excel(con, path: Path, fmt: FileFormat, progress: ProgressFn | None) -> StagedFile:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken workbook
        raise InputError(f"{path}: cannot open as an .xlsx workbook ({exc})") from exc
    sheets = list(fmt.sheets) or [wb.sheetnames[0]]
    if sheets == ["*"]:
        sheets = list(wb.sheetnames)
    missing = [s for s in sheets if s not in wb.sheetnames]
    if missing:
        raise InputError(f"{path}: no sheet named {missing[0]!r}",
                         hint=f"sheets: {', '.join(wb.sheetnames)}")
    header: list[str] | None = None
    created = False
    for sheet in sheets:
        rows = wb[sheet].iter_rows(values_only=True)
        sheet_header = [_cell_text(v) or "" for v in next(rows, [])]
        while sheet_header and not sheet_header[-1].strip():
            sheet_header.pop()  # read-only sheets pad every row to the sheet's widest
        if header is None:
            header = _unique_names(sheet_header)
        elif _unique_names(sheet_header) != header:
            raise InputError(f"{path}: sheet {sheet!r} has other columns than {sheets[0]!r}",
                             hint="ingest the sheets one at a time")
        source = f"{path.name}#{sheet}" if len(sheets) > 1 else path.name
        batch: list[list[str | None]] = []
        row_no = 0
        malformed = []
        for values in rows:
            row_no += 1
            texts = [_cell_text(v) for v in values]
            if all(t is None for t in texts):
                continue  # Excel's trailing empty rows are not records
            if any(t is not None for t in texts[len(header):]):
                line = "\t".join("" if t is None else t for t in texts)
                malformed.append((row_no, source, line, f"TOO MANY COLUMNS: Expected Number "
                                  f"of Columns: {len(header)} Found: {len(texts)}"))
                continue
            texts = texts[: len(header)] + [None] * (len(header) - len(texts))
            batch.append([row_no, source, *texts])
            if len(batch) >= 50_000:
                created = _append_batch(con, batch, len(header), created)
                batch = []
        created = _append_batch(con, batch, len(header), created)
        if malformed:
            con.executemany("INSERT INTO _malformed VALUES (?, ?, ?, ?)", malformed)
    wb.close()
    if progress:
        progress(path.stat().st_size)
    return StagedFile(path, fmt, header or [])


def _append_batch(con, batch, n_cols: int, created: bool) -> bool:
    """Append rows ``[_row, _source, c0, ...]`` to ``_raw`` (creating it first); returns True."""
    import pyarrow as pa

    cols = list(zip(*batch, strict=False)) if batch else [[] for _ in range(n_cols + 2)]
    arrays = [pa.array(cols[0], pa.int64()), pa.array(cols[1], pa.string())]
    arrays += [pa.array(c, pa.string()) for c in cols[2:]]
    names = ["_row", "_source"] + [f"c{i}" for i in range(n_cols)]
    tbl = pa.Table.from_arrays(arrays, names=names)  # noqa: F841  (read by DuckDB by name)
    if not created:
        con.execute("CREATE TEMP TABLE _raw AS SELECT * FROM tbl")
    elif batch:
        con.execute("INSERT INTO _raw SELECT * FROM tbl")
    return True


def _sql_str(s: str) -> str:
    return s.replace("'", "''")


def _needs_transcode(fmt: FileFormat) -> bool:
    return fmt.encoding.replace("_", "-").lower() not in ("utf-8", "utf8", "utf-8-sig", "ascii")


def _transcode(path: Path, fmt: FileFormat, progress: ProgressFn | None) -> Path:
    """Write a UTF-8 copy (blanks -> tabs for whitespace text); undecodable bytes become U+FFFD."""
    fd, tmp = tempfile.mkstemp(suffix=".csv", prefix="jz-")
    decoder = codecs.getincrementaldecoder(fmt.encoding)(errors="replace")
    with _open_bytes(path, fmt.compression) as src, os.fdopen(fd, "w", encoding="utf-8",
                                                              newline="") as dst:
        pending = ""
        while True:
            chunk = src.read(CHUNK_BYTES)
            text = decoder.decode(chunk, final=not chunk)
            if progress and chunk:
                progress(len(chunk))
            if fmt.delimiter == WHITESPACE:
                text = pending + text
                lines = text.split("\n")
                pending = lines.pop() if chunk else ""
                dst.write("".join("\t".join(ln.split()) + "\n" for ln in lines))
                if not chunk and pending:
                    dst.write("\t".join(pending.split()) + "\n")
            else:
                dst.write(text)
            if not chunk:
                break
    return Path(tmp)


def _read_header(path: Path, fmt: FileFormat) -> list[str]:
    enc = "utf-8-sig" if fmt.encoding.startswith("utf-8") else fmt.encoding
    with _open_bytes(path, fmt.compression) as raw:
        text = io.TextIOWrapper(raw, encoding=enc, errors="replace", newline="")
        first = ""
        for line in text:
            if line.strip():
                first = line
                break
    first = first.lstrip("\ufeff").rstrip("\r\n")
    if fmt.delimiter == WHITESPACE:
        return first.split()
    return next(csv.reader([first], delimiter=fmt.delimiter), [])


def _stage_csv(con, path: Path, fmt: FileFormat, progress: ProgressFn | None) -> StagedFile:
    work = path
    tmp: Path | None = None
    read_fmt = fmt
    if _needs_transcode(fmt) or fmt.delimiter == WHITESPACE:
        tmp = work = _transcode(path, fmt, progress)
        read_fmt = FileFormat("csv", None, "utf-8", "\t" if fmt.delimiter == WHITESPACE
                              else fmt.delimiter, fmt.header)
    elif progress:
        progress(path.stat().st_size)
    try:
        names = _read_header(work, read_fmt)
        if not fmt.header:
            names = [f"column_{i + 1}" for i in range(len(names))]
        names = _unique_names(names)
        if not names:
            raise InputError(f"{path}: no header line", hint="the first line must name the columns")
        _read_csv_into_raw(con, work, read_fmt, path.name, len(names))
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    return StagedFile(path, fmt, names)


def _read_csv_into_raw(con, work: Path, fmt: FileFormat, source: str, n_cols: int) -> None:
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(n_cols)) + "}"
    delim = fmt.delimiter.replace("'", "''")
    comp = ", compression = 'gzip'" if fmt.compression == "gzip" else ""
    src = _sql_str(source)
    con.execute("DROP TABLE IF EXISTS reject_errors")
    con.execute("DROP TABLE IF EXISTS reject_scans")
    con.execute(
        f"CREATE TEMP TABLE _raw AS SELECT row_number() OVER () AS _row, '{src}' AS _source, * "
        f"FROM read_csv('{_sql_str(str(work))}', "
        f"auto_detect = false, header = {str(fmt.header).lower()}, columns = {columns}, "
        f"delim = '{delim}', quote = '\"', escape = '\"', strict_mode = true, "
        f"ignore_errors = true, store_rejects = true, max_line_size = 16777216{comp})"
    )
    header_lines = 1 if fmt.header else 0
    # one reject row per error; a line is one record (records with quoted line breaks make the
    # numbers of later rejected lines approximate: see the module docstring)
    con.execute(
        f"INSERT INTO _malformed SELECT line - {header_lines} AS _row, '{src}', "
        "first(csv_line), string_agg(DISTINCT error_type || ': ' || error_message, '; ') "
        "FROM reject_errors GROUP BY line"
    )
    n_bad = con.execute("SELECT count(*) FROM _malformed").fetchone()[0]
    if n_bad:
        # the k-th accepted record is the k-th record number not taken by a rejected line
        n_ok = con.execute("SELECT count(*) FROM _raw").fetchone()[0]
        con.execute(
            f"CREATE TEMP TABLE _rowmap AS SELECT row_number() OVER (ORDER BY n) AS k, n "
            f"FROM range(1, {n_ok + n_bad} + 1) t(n) WHERE n NOT IN (SELECT _row FROM _malformed)"
        )
        con.execute("CREATE OR REPLACE TEMP TABLE _raw AS SELECT m.n AS _row, r.* EXCLUDE (_row) "
                    "FROM _raw r LEFT JOIN _rowmap m ON m.k = r._row ORDER BY r._row")
        con.execute("DROP TABLE _rowmap")


def iter_chunks(path: Path, size: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Yield the raw bytes of a file in chunks (for hashing)."""
    with open(path, "rb") as fh:
        while chunk := fh.read(size):
            yield chunk
