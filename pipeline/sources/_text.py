"""Shared reading helpers for the adapters: raw text tables, NULL literals, numbers and timestamps.

Adapters read every cell as text first (nothing is guessed by a CSV sniffer), then parse the columns
they need. A value that cannot be parsed becomes missing in the canonical frame, and the raw text stays
in the raw frame so the quarantine file can show exactly what was in the input.

Input limits (module constants; a test or an embedding application may change them):
    gzip inputs are decompressed as a stream and stop with ``InputLimitExceeded`` once the output passes
    ``MAX_DECOMPRESSED_BYTES``, or passes ``GZIP_RATIO_MIN_BYTES`` while being more than ``MAX_GZIP_RATIO``
    times the compressed bytes read so far (a gzip bomb stops after ~``GZIP_RATIO_MIN_BYTES``, whatever
    its full size); nothing is decompressed to disk.
    JSON (whole documents and JSON cells such as tags) is parsed by ``loads_json``, which refuses text
    longer than a size limit or nested deeper than ``MAX_JSON_DEPTH`` *before* parsing, so neither a
    RecursionError nor a deep structure is ever built.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator
import gzip
import hashlib
import io
import itertools
import json
import os
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.errors import InputError

NULL_LITERALS = {"", "NULL", "null", "None", "N/A", "NA", "n/a", "[N/A]", "nan", "NaN"}


@dataclass
class RawTable:
    """All cells as strings; ``source_row`` is the 1-based line number of each data row (header = 1)."""

    path: Path
    frame: pd.DataFrame
    malformed: dict = None   # frame index -> reason, for rows whose field count differs from the header
    # column -> function(positions) -> its texts for those rows: a column written out only where it is shown
    # (quarantine files); in ``frame`` it is a placeholder
    derived: dict = None

    def __post_init__(self) -> None:
        if self.malformed is None:
            self.malformed = {}
        if self.derived is None:
            self.derived = {}

    def column(self, name: str, positions=None) -> pd.Series:
        """A column as text, derived columns written out (``positions``: those rows only, else all)."""
        if positions is None:
            positions = np.arange(len(self.frame))
        if name in self.derived:
            return pd.Series(self.derived[name](positions), index=self.frame.index[positions], dtype="string")
        return self.frame[name].iloc[positions]

    @property
    def columns(self) -> list[str]:
        return [c for c in self.frame.columns if c != "source_row"]


_SHA256: dict[tuple, str] = {}     # (path, size, mtime_ns, inode) -> digest: a run hashes each input once


def _sha_key(path: Path) -> tuple:
    st = Path(path).stat()
    return (str(Path(path).resolve()), st.st_size, st.st_mtime_ns, st.st_ino)


def sha256_file(path: Path) -> str:
    """SHA-256 of a file. Remembered while the file's size, modification time and inode stay the same, so the
    run's fingerprint and each input's report do not read the quarter's gigabytes twice."""
    key = _sha_key(path)
    if key in _SHA256:
        return _SHA256[key]
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)             # hashlib releases the GIL here: several files hash in parallel threads
    _SHA256[key] = h.hexdigest()
    return _SHA256[key]


def known_sha256_of(path: Path) -> dict[tuple, str]:
    """The digest of ``path`` computed so far, if any, for a worker process (``remember_sha256``)."""
    try:
        key = _sha_key(path)
    except OSError:
        return {}
    return {key: _SHA256[key]} if key in _SHA256 else {}


def remember_sha256(known: dict[tuple, str]) -> None:
    _SHA256.update(known)


def sha256_files(paths: list[Path], threads: int = 4) -> list[str]:
    """``sha256_file`` of each path, in order, several at a time."""
    if len(paths) < 2:
        return [sha256_file(p) for p in paths]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(sha256_file, paths))


# --- input limits ------------------------------------------------------------------------------------

MAX_GZIP_RATIO = 200                   # decompressed / compressed bytes above which a gzip input is refused ...
GZIP_RATIO_MIN_BYTES = 64 * 2**20      # ... once it has decompressed to more than this (small files compress well;
                                       # readers hold ~8x the text as Python rows, so this caps a bomb's cost)
MAX_DECOMPRESSED_BYTES = 4 * 2**30     # hard cap on the decompressed size of any one gzip input
MAX_JSON_DEPTH = 64                    # nesting levels of a JSON document or cell (real inputs use < 10)
MAX_JSON_DOCUMENT_CHARS = 512 * 2**20  # one JSON document (a Prometheus response, one JSON line)
MAX_TAGS_CHARS = 65_536                # one JSON cell (tags, labels, AdditionalInfo, credits)


class InputLimitExceeded(InputError):
    """An input is over a size or nesting limit. Raised as it is (``kind: auto`` does not try other formats)."""


def _mb(n: float) -> str:
    return f"{n / 2**20:,.1f} MB"


class _GzipGuard(io.RawIOBase):
    """A gzip stream that stops with InputLimitExceeded when it expands past the limits (module docstring)."""

    def __init__(self, raw: io.BufferedReader, path: Path) -> None:
        super().__init__()
        self._raw = raw
        self._gz = gzip.GzipFile(fileobj=raw)
        self._path = path
        self._out = 0
        # read at open time, so a changed module constant applies to the next file
        self._cap = MAX_DECOMPRESSED_BYTES
        self._ratio = MAX_GZIP_RATIO
        self._ratio_min = GZIP_RATIO_MIN_BYTES

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            n = self._gz.readinto(buffer)
        except zlib.error as exc:   # not an OSError: the readers' "cannot be read" handling would miss it
            raise gzip.BadGzipFile(f"corrupt gzip data ({exc})") from None
        self._out += n
        if self._out > self._cap:
            self._stop(f"decompresses to more than {_mb(self._cap)} (the limit for one file)")
        if self._out > self._ratio_min:
            read = max(self._raw.tell(), 1)            # compressed bytes consumed so far (read ahead: >= used)
            if self._out > self._ratio * read:
                self._stop(f"expands more than {self._ratio}x: {_mb(read)} of compressed data already gave "
                           f"{_mb(self._out)} (a gzip bomb?)")
        return n

    def _stop(self, why: str) -> None:
        size = os.fstat(self._raw.fileno()).st_size
        raise InputLimitExceeded(
            f"gzip input ({_mb(size)} compressed) {why}; reading stopped", file=str(self._path),
            fix="check the file (gzip -l shows its uncompressed size). A genuine export this large: split it "
                "into several files (a glob in the source's path reads them all), or raise "
                "pipeline.sources._text.MAX_GZIP_RATIO / GZIP_RATIO_MIN_BYTES / MAX_DECOMPRESSED_BYTES")

    def close(self) -> None:
        try:
            self._gz.close()
            self._raw.close()
        finally:
            super().close()


# first bytes of files that are neither text nor gzip (checked before decoding, so the user is told what the
# file is instead of "not UTF-8"): (magic, what the file is, what to do)
_COMPRESSED_FIX = "decompress it (or compress it again with gzip, the one compression read) and point the source at it"
_NOT_TEXT_MAGIC = [
    (b"PAR1", "a Parquet file, not CSV or JSON text",
     "if this format can be read from Parquet, give the file a .parquet name; otherwise export it again as CSV"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel 97-2003 workbook (.xls) or another OLE document, not text",
     "use the original CSV export if you have it; otherwise save the sheet as 'CSV UTF-8' and point the source at it"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive, not gzip or text",
     "extract it and point the source at the file inside"),
    (b"\xfd7zXZ\x00", "xz-compressed, not gzip or text", _COMPRESSED_FIX),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed, not gzip or text", _COMPRESSED_FIX),
    (b"%PDF-", "a PDF document, not a data export",
     "download the data itself (CSV, or Parquet where the format allows it), not the PDF invoice or report"),
]
_BZIP2 = re.compile(rb"BZh[1-9]1AY&SY")


def _zip_error(path: Path) -> InputError:
    """What a ZIP-signed file is (an Excel workbook is a ZIP too), naming the files inside when it can."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
    except (zipfile.BadZipFile, OSError, EOFError):
        names = None                           # a damaged or cut archive: the signature is all there is
    if names is not None and any(n.startswith("xl/") for n in names):
        return InputError("is an Excel workbook (.xlsx), not CSV text", file=str(path),
                          fix="use the original CSV export if you have it; otherwise save the sheet as 'CSV UTF-8' "
                              "and point the source at the CSV")
    inside = ""
    if names:
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        inside = f" holding {shown}"
    return InputError(f"is a ZIP archive{inside}, not gzip or text", file=str(path),
                      fix="unzip it and point the source at the CSV (or other export) inside")


def _refuse_non_text(path: Path, head: bytes) -> None:
    """InputError when ``head`` (the file's first bytes) is the signature of an archive, workbook or binary
    format that no text reader can read; nothing for text and gzip."""
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):     # a ZIP archive (with entries / empty): also .xlsx
        raise _zip_error(path)
    if _BZIP2.match(head):
        raise InputError("is bzip2-compressed, not gzip or text", file=str(path), fix=_COMPRESSED_FIX)
    for magic, what, fix in _NOT_TEXT_MAGIC:
        if head.startswith(magic):
            raise InputError(f"is {what}", file=str(path), fix=fix)


def _open_text(path: Path) -> io.TextIOBase:
    """The file as UTF-8 text (gzip decompressed on the fly, behind the limits above). An archive, workbook or
    other binary format is refused with an InputError that says what the file is (``_refuse_non_text``)."""
    raw = open(path, "rb")
    try:
        head = raw.read(10)
        raw.seek(0)
        if head[:2] != b"\x1f\x8b":
            _refuse_non_text(path, head)
    except BaseException:
        raw.close()
        raise
    stream = io.BufferedReader(_GzipGuard(raw, path)) if head[:2] == b"\x1f\x8b" else raw
    return io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")


class JsonLimitError(ValueError):
    """JSON text over ``loads_json``'s size or depth limit. ``position``: offset of the first character
    nested too deep (None for size); ``line`` gives its 1-based line number."""

    def __init__(self, message: str, *, text: str, position: int | None) -> None:
        super().__init__(message)
        self.position = position
        self.line = None if position is None else text.count("\n", 0, position) + 1


_NOT_JSON_STRUCTURE = bytes(c for c in range(256) if c not in b'"[]{}')
_EMPTY_PAIR = re.compile(rb"\[\]|\{\}")


def _nested_deeper_than(text: str, max_depth: int) -> bool:
    """True if JSON text opens more than ``max_depth`` nested arrays / objects. Linear and never recursive
    (C-speed bytes operations): escapes and string contents are removed, then the innermost ``[]`` / ``{}``
    pairs are peeled off, one nesting level per pass."""
    if text.count("[") + text.count("{") <= max_depth:
        return False
    b = text.encode("utf-8", "surrogatepass")
    b = b.replace(b"\\\\", b"").replace(b'\\"', b"")      # escaped backslashes, then escaped quotes
    b = b.translate(None, _NOT_JSON_STRUCTURE)             # only quotes and brackets are left
    brackets = b"".join(b.split(b'"')[0::2])               # drop what is between quotes (string contents)
    run = re.compile(rb"[\[{]{%d}" % (max_depth + 1))      # that many openers in a row: deep (or broken) at once
    for _ in range(max_depth):
        if run.search(brackets):
            return True
        peeled = _EMPTY_PAIR.sub(b"", brackets)
        if not peeled:
            return False
        if peeled == brackets:     # mismatched brackets: invalid JSON; refused here only if it opens too deep
            return len(peeled) > max_depth and peeled[: max_depth + 1].strip(b"[{") == b""
        brackets = peeled
    return bool(brackets)


def _too_deep_at(text: str, max_depth: int) -> int:
    """Offset of the first bracket opening level ``max_depth + 1`` (text known to be nested that deep)."""
    depth = 0
    for m in re.finditer(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', text):
        c = m.group()
        if c in "[{":
            depth += 1
            if depth > max_depth:
                return m.start()
        elif c in "]}":
            depth -= 1
    return 0


def loads_json(text: str, *, max_chars: int | None = None, max_depth: int | None = None) -> object:
    """``json.loads`` with limits checked first: more than ``max_chars`` characters (default
    MAX_JSON_DOCUMENT_CHARS) or nesting deeper than ``max_depth`` (default MAX_JSON_DEPTH) raises
    JsonLimitError; invalid JSON raises ValueError as json.loads does. Never raises RecursionError."""
    max_chars = MAX_JSON_DOCUMENT_CHARS if max_chars is None else max_chars
    max_depth = MAX_JSON_DEPTH if max_depth is None else max_depth
    if len(text) > max_chars:
        raise JsonLimitError(f"is {len(text):,} characters long, over the limit of {max_chars:,}",
                             text=text, position=None)
    if _nested_deeper_than(text, max_depth):
        raise JsonLimitError(f"is nested more than {max_depth} levels deep", text=text,
                             position=_too_deep_at(text, max_depth))
    try:
        return json.loads(text)
    except RecursionError:   # unbalanced brackets nested deep enough to exhaust the stack before failing
        raise JsonLimitError(f"is nested more than {max_depth} levels deep", text=text,
                             position=_too_deep_at(text, max_depth)) from None


def json_limit_error(exc: JsonLimitError, *, file: str, what: str, row: int | None = None) -> InputLimitExceeded:
    """The InputError for a JSON document over a limit (``row``: defaults to the line of the deep part)."""
    return InputLimitExceeded(
        f"the JSON {exc}", file=file, row=row if row is not None else exc.line,
        fix=f"check the {what}: real exports are nested a few levels deep; split a genuine document this large "
            "into several files (a glob in the source's path reads them all), or raise "
            "pipeline.sources._text.MAX_JSON_DEPTH / MAX_JSON_DOCUMENT_CHARS")


def load_json_document(text: str, *, file: str, what: str, fix: str) -> object:
    """A whole JSON document (``loads_json``), or the InputError that names the file: over a limit
    (``json_limit_error``), or not valid JSON (``fix`` says what to save instead)."""
    try:
        return loads_json(text)
    except JsonLimitError as exc:
        raise json_limit_error(exc, file=file, what=what) from None
    except ValueError as exc:
        raise InputError(f"is not valid JSON ({exc})", file=file, fix=fix) from None


def read_text(path: Path, *, what: str) -> str:
    """A whole text file (UTF-8, optionally gzip) with the same clear errors as every adapter."""
    if not path.is_file():
        raise InputError("file not found", file=str(path), fix="check the source 'path' in the config")
    try:
        with _open_text(path) as fh:
            return fh.read()
    except UnicodeDecodeError as exc:
        offset, line = _decode_error_position(path, exc)
        raise InputError(f"is not UTF-8 text ({exc.reason} at byte {offset})", file=str(path), row=line,
                         fix=f"save the {what} as UTF-8 text") from None
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot be read as {what}: {exc}", file=str(path),
                         fix="check that the file is a complete, uncompressed or gzip-compressed export") from None


def _is_nested(arrow_type: pa.DataType) -> bool:
    return (pa.types.is_map(arrow_type) or pa.types.is_struct(arrow_type) or pa.types.is_list(arrow_type)
            or pa.types.is_large_list(arrow_type) or pa.types.is_fixed_size_list(arrow_type))


def _json_text(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _text_scalar(text: str) -> pa.Scalar:
    return pa.scalar(text, pa.large_string())


def _pieces(values: pa.Array) -> pa.Array | None:
    """Each flat value as self-delimiting text, ``<byte length>:<text>`` (``~`` for null), so that pieces joined
    end to end tell their values apart. None for a type that has no text cast (nested, binary not UTF-8)."""
    if _is_nested(values.type):
        return None
    try:
        text = pc.cast(values, pa.large_string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    length = pc.cast(pc.binary_length(text), pa.large_string())
    return pc.fill_null(pc.binary_join_element_wise(length, text, _text_scalar(":")), _text_scalar("~"))



def _signatures(array: pa.Array) -> pa.Array | None:
    """One string per row that differs exactly when the rows' values differ (``!`` for a null row), built with
    vectorised Arrow kernels; None when the column is nested more than one level (then converted row by row)."""
    t = array.type
    if pa.types.is_struct(t):
        parts = [_pieces(child) for child in array.flatten()]
        if any(part is None for part in parts):
            return None
        sig = (pc.binary_join_element_wise(*parts, _text_scalar("")) if len(parts) > 1 else parts[0]) if parts \
            else pa.array([""] * len(array), pa.large_string())
    elif pa.types.is_map(t) or pa.types.is_list(t) or pa.types.is_large_list(t):
        if pa.types.is_map(t):
            keys, items = _pieces(array.keys), _pieces(array.items)
            entries = (None if keys is None or items is None
                       else pc.binary_join_element_wise(keys, items, _text_scalar("")))
        else:
            entries = _pieces(array.values)
        if entries is None:
            return None
        # .keys / .items / .values are the whole child arrays and .offsets index into them (slices included)
        lists = pa.LargeListArray.from_arrays(pc.cast(array.offsets, pa.int64()), entries)
        sig = pc.binary_join(lists, _text_scalar(""))
    else:
        return None
    return pc.if_else(array.is_null(), _text_scalar("!"), sig)


def _nested_to_text(array: pa.Array) -> pd.Series:
    """A nested column as JSON text, converted once per distinct value (found by ``_signatures``)."""
    sig = _signatures(array)
    if sig is None:
        return pd.Series([None if v is None else _json_text(v) for v in array.to_pylist(maps_as_pydicts="lossy")],
                         dtype="string")
    codes = pc.dictionary_encode(sig).indices.to_numpy(zero_copy_only=False)
    _, first = np.unique(codes, return_index=True)           # the first row of each distinct value, by code
    distinct = array.take(pa.array(first)).to_pylist(maps_as_pydicts="lossy")
    texts = np.array([None if v is None else _json_text(v) for v in distinct], dtype=object)
    return pd.Series(texts[codes], dtype="string")


def arrow_column_to_text(array: pa.Array | pa.ChunkedArray) -> pd.Series:
    """One Arrow column as a pandas ``string`` Series (0-based RangeIndex; nulls are <NA>).

    Flat types are converted in one vectorised step, as pandas prints them (``8.0``, ``2026-07-01 00:00:00+00:00``).
    Nested types become JSON text with sorted keys, so the tag / label readers parse them as they parse a CSV cell:
    a map -> an object (``{"phase": "training", "project": "llm"}``; a repeated key keeps its last value),
    a struct -> an object, a list -> an array; dates, decimals and bytes inside them as their ``str()``.
    A nested value is converted to JSON once per distinct value (real tag columns repeat a few tag sets over many
    rows); the distinct values of a column nested one level are found with Arrow kernels, not row by row."""
    if not _is_nested(array.type):
        return array.to_pandas().astype("string").reset_index(drop=True)
    if isinstance(array, pa.ChunkedArray):
        parts = [_nested_to_text(chunk) for chunk in array.chunks]
        return pd.concat(parts, ignore_index=True) if parts else pd.Series([], dtype="string")
    return _nested_to_text(array)


def read_parquet_text(path: Path, *, what: str) -> RawTable:
    """A Parquet file with every cell as text (nested columns as JSON text: ``arrow_column_to_text``);
    source_row = 1-based row number in the file."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for broken files
        raise InputError(f"cannot be read as Parquet: {exc}", file=str(path),
                         fix=f"export the {what} again as Parquet or CSV") from None
    frame = pd.DataFrame({name: arrow_column_to_text(column)
                          for name, column in zip(table.column_names, table.columns)},
                         index=pd.RangeIndex(table.num_rows))
    frame["source_row"] = pd.Series(range(1, len(frame) + 1), dtype="int64")
    return RawTable(path=path, frame=frame)


def _decode_error_position(path: Path, exc: UnicodeDecodeError) -> tuple[int, int | None]:
    """The first undecodable byte's offset in the file and its line. The text reader decodes in chunks, so
    ``exc.start`` is an offset inside a chunk: the file is scanned again (plain files only; for a .gz the
    chunk offset is all there is, and no line is named)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(2)
            if head == b"\x1f\x8b":
                return exc.start, None
            fh.seek(0)
            carry, read = b"", 0
            while chunk := fh.read(1 << 20):
                data, base = carry + chunk, read - len(carry)     # base: file offset of data[0]
                read += len(chunk)
                try:
                    data.decode("utf-8")
                    carry = b""
                except UnicodeDecodeError as inner:
                    if inner.end == len(data) and len(data) - inner.start < 4:   # a character cut by the chunk
                        carry = data[inner.start:]
                        continue
                    bad = base + inner.start
                    with open(path, "rb") as again:
                        return bad, again.read(bad).count(b"\n") + 1
    except OSError:
        pass
    return exc.start, None


# Appended after a delimited file's last line. csv.reader (strict=False) closes a quoted field left open at the end
# of the file without a word; the mark is then read into that field, which tells a cut last row from a whole one.
_END_MARK = "\ue000end of input\ue000"
_CUT_ROW = ("the file ends inside a quoted field of this row (no closing quote): the row is truncated (export or "
            "download cut off?) or a quote in it is never closed")


def _header_problem(header: list[str], path: Path) -> InputError | None:
    """Unnamed (empty) or repeated column names: no column of the header can be told by its name."""
    empty = [k for k, name in enumerate(header, start=1) if not name]
    if len(empty) > 1:
        trailing = empty == list(range(len(header) - len(empty) + 1, len(header) + 1))
        return InputError(
            f"the header has {len(empty)} empty column names (columns {', '.join(map(str, empty))}"
            + (": a spreadsheet's trailing commas?" if trailing else "") + ")", file=str(path), row=1,
            fix="delete the unnamed columns (or give each a name), then save the file again")
    dup = sorted(h for h, n in Counter(header).items() if n > 1)
    if dup:
        return InputError(f"repeats column(s) {', '.join(dup)} in its header", file=str(path), row=1,
                          fix="remove the duplicated columns")
    return None


def read_delimited(path: Path, *, delimiter: str = ",", what: str, quoting: bool = True) -> RawTable:
    """Read a delimited text file into strings, keeping line numbers. Short / long rows, and a last row the file
    cuts inside a quoted field, are kept and listed in ``malformed`` (quarantined with the reason).
    ``quoting=False`` for formats that never quote (sacct --parsable2): a '"' is then an ordinary character."""
    (raw,) = iter_delimited(path, delimiter=delimiter, what=what, quoting=quoting, chunk_rows=None)
    return raw


def iter_delimited(path: Path, *, delimiter: str = ",", what: str, quoting: bool = True,
                   chunk_rows: int | None) -> Iterator[RawTable]:
    """``read_delimited`` in chunks of ``chunk_rows`` rows (None: one chunk, the whole file). Each chunk's frame is
    indexed by the row's ordinal in the file (0-based, unique across chunks), as are its ``malformed`` keys; a
    header-only file gives one empty chunk. Errors about the file as a whole (empty, not UTF-8, cut header)
    are raised when the chunk that meets them is read."""
    if not path.is_file():
        raise InputError("file not found", file=str(path), fix="check the source 'path' in the config")
    header: list[str] = []
    rows, lines, malformed = [], [], {}
    start = 0

    def chunk() -> RawTable:
        frame = pd.DataFrame(rows, columns=header, dtype="string") if rows else pd.DataFrame(
            {h: pd.Series(dtype="string") for h in header})
        frame.index = pd.RangeIndex(start, start + len(rows))
        frame["source_row"] = pd.Series(lines, dtype="int64", index=frame.index)
        return RawTable(path=path, frame=frame, malformed=dict(malformed))

    try:
        with _open_text(path) as fh:
            lines_in = itertools.chain(fh, [_END_MARK]) if quoting else fh
            reader = csv.reader(lines_in, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL if quoting else csv.QUOTE_NONE)
            try:
                header = next(reader)
            except StopIteration:
                header = [_END_MARK]
            if header == [_END_MARK] and reader.line_num <= 1:
                raise InputError(f"the file is empty; expected a {what} with a header row", file=str(path),
                                 fix=f"export the {what} again, or remove the source from the config")
            if quoting and header and header[-1].endswith(_END_MARK):
                raise InputError("the file ends inside a quoted column name of the header (no closing quote)",
                                 file=str(path), row=1, fix=f"export the {what} again: the file is cut off")
            if not header:     # a blank first line: no column names, every row would be malformed
                raise InputError(f"the first line is empty; expected the header row of a {what}", file=str(path),
                                 row=1, fix="remove the blank line(s) above the header")
            header = [h.strip() for h in header]
            problem = _header_problem(header, path)
            if problem is not None:
                raise problem
            yielded = False
            for row in reader:
                cut = quoting and bool(row) and row[-1].endswith(_END_MARK)
                if cut:
                    if row == [_END_MARK]:     # the mark on a line of its own: the file ended outside any quotes
                        break
                    row[-1] = row[-1][: -len(_END_MARK)]
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                why = []
                if len(row) != len(header):
                    # kept (quarantined with the reason), never dropped: pad / fold into the header's width
                    why.append(f"has {len(row)} fields where the header has {len(header)} "
                               "(truncated line or broken quoting)")
                    row = (row + [""] * len(header))[:len(header)] if len(row) < len(header) else \
                        row[:len(header) - 1] + [delimiter.join(row[len(header) - 1:])]
                if cut:
                    why.append(_CUT_ROW)
                if why:
                    malformed[start + len(rows)] = "; ".join(why)
                rows.append(row)
                lines.append(reader.line_num - 1 if cut else reader.line_num)   # the mark's line is not the file's
                if chunk_rows is not None and len(rows) >= chunk_rows:
                    yield chunk()
                    yielded = True
                    start += len(rows)
                    rows, lines, malformed = [], [], {}
    except UnicodeDecodeError as exc:
        offset, line = _decode_error_position(path, exc)
        raise InputError(f"is not UTF-8 text ({exc.reason} at byte {offset})", file=str(path), row=line,
                         fix="re-export the file as UTF-8 (CSV UTF-8 in spreadsheet tools)") from None
    except (OSError, EOFError, csv.Error) as exc:
        raise InputError(f"cannot be read as {what}: {exc}", file=str(path),
                         fix="check that the file is a complete, uncompressed or gzip-compressed text export") from None
    if rows or not yielded:
        yield chunk()


def _row_runs(pairs: list[tuple[int, int]], limit: int = 5) -> str:
    """[(5, 2), (6, 3), (7, 4), (12, 2)] -> "rows 5-7 repeat 2-4, row 12 repeats 2": (repeat, first) pairs sorted
    by repeat, runs where both sides step by one written as ranges; ``limit`` runs shown."""
    runs: list[list[tuple[int, int]]] = []
    for rep, first in pairs:
        if runs and rep == runs[-1][-1][0] + 1 and first == runs[-1][-1][1] + 1:
            runs[-1].append((rep, first))
        else:
            runs.append([(rep, first)])
    parts = []
    for run in runs[:limit]:
        (r0, f0), (r1, f1) = run[0], run[-1]
        parts.append(f"row {r0} repeats {f0}" if len(run) == 1 else f"rows {r0}-{r1} repeat {f0}-{f1}")
    more = f", and {len(runs) - limit} more run(s)" if len(runs) > limit else ""
    return ", ".join(parts) + more


def identical_rows_note(raw: RawTable) -> str | None:
    """The note for rows whose every raw cell equals an earlier row's (None if there are none), for formats whose
    rows carry no line-item id (Azure cost details, Google Cloud billing): such a repeat cannot be told from a
    second, identical charge, so it is read like any row; the note makes a twice-delivered file visible. Rows the
    reader already found malformed (quarantined) are left out."""
    cells = raw.frame.drop(columns=["source_row"]).drop(index=list(raw.malformed), errors="ignore")
    if len(cells) < 2 or cells.shape[1] == 0:
        return None
    # one vectorised hash per row finds the candidates; they are then compared cell by cell (no hash collision)
    maybe = pd.util.hash_pandas_object(cells, index=False).duplicated(keep=False)
    if not maybe.any():
        return None
    cand = cells[maybe]
    repeat = cand.duplicated(keep="first")
    if not repeat.any():
        return None
    group = cand.groupby(list(cand.columns), dropna=False, sort=False).ngroup()
    rows = raw.frame.loc[cand.index, "source_row"].astype("int64")
    first = rows.groupby(group).transform("min")
    pairs = sorted(zip(rows[repeat].tolist(), first[repeat].tolist()))
    return (f"{len(pairs)} row(s) identical to an earlier row of this file ({_row_runs(pairs)}): read as separate "
            "charges, since the export has no line-item id to tell a repeat from a second identical charge; check "
            "whether the file was delivered twice")


def nullify(s: pd.Series) -> pd.Series:
    s = s.astype("string").str.strip()
    return s.mask(s.isin(NULL_LITERALS))


_PLAIN_DECIMAL = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"


def arrow_floats(arr: pa.Array) -> tuple[np.ndarray, np.ndarray] | None:
    """(values, read) when Arrow reads every non-null text of ``arr`` as a number (the usual case: one pass, no
    regex), else None. Arrow reads a subset of what ``float`` reads (no spaces, underscores or non-ASCII digits)
    and gives the same, correctly rounded value; ``nan`` / ``inf`` come out as they do from ``float``. Nulls are
    NaN and not read."""
    try:
        values = pc.cast(arr, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    read = ~np.asarray(values.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    return np.array(values.to_numpy(zero_copy_only=False), dtype=float), read       # writable


def plain_decimals(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(values, plain) of an Arrow text array: rows that are plain decimals (``-1.5``, ``2e3``, ``.5``) converted
    by Arrow, correctly rounded as ``float`` does; other rows NaN and not plain (the caller parses them its way)."""
    whole = arrow_floats(arr)
    if whole is not None:
        return whole
    out = np.full(len(arr), np.nan)
    plain = np.asarray(pc.fill_null(pc.match_substring_regex(arr, _PLAIN_DECIMAL), False), dtype=bool)
    if plain.any():
        try:
            out[plain] = pc.cast(arr.filter(pa.array(plain)), pa.float64()).to_numpy(zero_copy_only=False)
        except pa.ArrowInvalid:          # not expected for this syntax; then every row goes the caller's way
            plain[:] = False
    return out, plain


def to_number(s: pd.Series) -> pd.Series:
    """Parse decimal numbers (accepts exponents like 1.2E+05); anything else becomes NaN - infinity too
    (``inf``, ``Infinity``, ``1e999``): no input quantity is infinite, so it is an error to quarantine.
    Plain decimals are converted by Arrow (correctly rounded, as ``float``), other text by ``pd.to_numeric``."""
    text = nullify(s)
    out, plain = plain_decimals(pa.array(text.array, type=pa.large_string()))
    rest = ~plain & text.notna().to_numpy(dtype=bool)
    if rest.any():
        out[rest] = pd.to_numeric(text[rest], errors="coerce").astype("float64").to_numpy(dtype=float, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        out[~np.isfinite(out)] = np.nan
    return pd.Series(out, index=s.index, dtype="float64")


_HAS_ZONE = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")
_EARLIEST, _LATEST = pd.Timestamp("1900-01-01"), pd.Timestamp("2200-01-01")


def _in_range(ts: pd.Series) -> pd.Series:
    """Parsed timestamps outside 1900..2200 are errors in the input, not dates: make them NaT
    (they would also overflow nanosecond precision)."""
    naive = ts.dt.tz_localize(None) if ts.dt.tz is not None else ts
    ok = (naive >= _EARLIEST) & (naive < _LATEST)
    return ts.where(ok).dt.as_unit("ns")


def to_utc(s: pd.Series, *, assume_zone: str | None, fmt: str | None = None) -> pd.Series:
    """Parse timestamps to UTC.

    Values carrying a zone (``Z`` or ``+01:00``) are converted. Values without one take ``assume_zone``
    (e.g. FOCUS times are UTC by specification; Slurm times are in the site's zone). With
    ``assume_zone=None`` a value without a zone is unparseable (NaT) - the caller quarantines it.
    Ambiguous / non-existent local times (DST changes) become NaT rather than guessed.
    """
    s = nullify(s)
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    if len(s) > 1000 and len(uniques) * 4 < len(s):
        # exports repeat timestamps (2,208 hours in a quarter over millions of rows): parse each value once
        parsed = _to_utc_text(pd.Series(uniques, dtype="string"), assume_zone, fmt)
        return pd.Series(parsed.array.take(codes, allow_fill=True), index=s.index)
    return _to_utc_text(s, assume_zone, fmt)


def _to_utc_text(s: pd.Series, assume_zone: str | None, fmt: str | None) -> pd.Series:
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns, UTC]")
    if s.isna().all():
        return out
    zoned = s.str.contains(_HAS_ZONE, na=False)
    if zoned.any():
        out[zoned] = _in_range(pd.to_datetime(s[zoned], utc=True, errors="coerce", format=fmt or "ISO8601"))
    naive = ~zoned & s.notna()
    if naive.any() and assume_zone is not None:
        local = _in_range(pd.to_datetime(s[naive], errors="coerce", format=fmt or "ISO8601"))
        if assume_zone.upper() == "UTC":
            out[naive] = local.dt.tz_localize("UTC")
        else:
            out[naive] = local.dt.tz_localize(assume_zone, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
    return out


def loads_json_cell(text: str) -> object:
    """One JSON cell (tags, labels, AdditionalInfo, credits): ``loads_json`` with the cell size limit
    MAX_TAGS_CHARS. Raises ValueError (unreadable, oversized or too deeply nested)."""
    return loads_json(text, max_chars=MAX_TAGS_CHARS)


def normalise_tags(text: object) -> tuple[str, bool]:
    """Tags as a JSON object string with sorted keys; returns (json, readable).
    Unreadable tags (invalid, oversized or too deeply nested JSON) are ("{}", False): the row is kept
    without tags and the adapter counts it in its notes."""
    if not isinstance(text, str) or not text.strip():
        return "{}", True
    try:
        obj = loads_json_cell(text)
    except ValueError:
        return "{}", False
    if not isinstance(obj, dict):
        return "{}", False
    flat = {str(k).strip(): ("" if v is None else str(v)) for k, v in obj.items()}
    return json.dumps(flat, sort_keys=True, ensure_ascii=False), True
