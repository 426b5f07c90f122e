"""Model file writer and reader, version 1 (docs/FORMAT.md "Model file").

read_model makes the same checks, in the same order, as runtime_c/src/format.c
and names failures by their hecate.h status (FormatError.name).  describe()
backs the `inspect` CLI.
"""
import math
import struct
import zlib

import numpy as np

from hecate_edge.config import (COMPOSITIONS, CONV_KERNEL_RANGE, D_MODEL_RANGE, MAX_LEVELS, MAX_PERIOD, MAX_RULE_PARAMS,
                                 MAX_LAYERS, SUPPORTED_LEVELS, VOCAB_RANGE, WINDOW_RANGE,
                                 ModelConfig, tensor_specs)
from hecate_edge.quantize import W8A16Matrix, dequantize_rows, int8_allowed, quantize_rows, w8a16_allowed
from hecate_edge.reference.retention import RETENTION_NAMES
from hecate_edge.reference.retention import resolve as resolve_retention
from hecate_edge.reference.rules import RULES_BY_ID

crc32 = zlib.crc32

MAGIC = b"HCTMODEL"
VERSION = 1
ENDIAN_MARKER = 0x01020304
HEADER_BYTES = 256
ENTRY_BYTES = 80
ALIGN = 64
NAME_BYTES = 40
MAX_RANK = 4
CRC_START = 28               # the CRC covers bytes [28, file size)
RESERVED_START = 144
FLAG_QK_NORM = 1
FLAG_FREQ_GATES = 2          # MATH §6.2; needs n_levels >= 2
FLAG_CONV = 4                # MATH §3.1 short convolution; its kernel size at offset 140
FLAG_ROPE = 8                # MATH §2 rotary positions; needs an even head width d / n_heads
FLAG_BOUNDED_STEP = 16       # MATH §3.1 bounded inner steps
FLAGS_KNOWN = FLAG_QK_NORM | FLAG_FREQ_GATES | FLAG_CONV | FLAG_ROPE | FLAG_BOUNDED_STEP

# offset 0 .. 256, little-endian, no padding (FORMAT.md header table)
HEADER = struct.Struct(f"<8sIIQII10I{MAX_LEVELS}I{MAX_RULE_PARAMS}ffI{HEADER_BYTES - RESERVED_START}s")
ENTRY = struct.Struct(f"<{NAME_BYTES}sII{MAX_RANK}IQQ")
assert HEADER.size == HEADER_BYTES and ENTRY.size == ENTRY_BYTES

# id -> (label, element type); "i8" data is one float32 scale per row, then
# the int8 values (hecate_edge.quantize); "i8a16" is stored the same way and
# multiplies through int16 activations (MATH §1.1)
DTYPES = {0: ("f32", np.dtype("<f4")), 1: ("f64", np.dtype("<f8")), 2: ("i8", np.dtype("i1")),
          3: ("i8a16", np.dtype("i1"))}
DTYPE_IDS = {label: dtype_id for dtype_id, (label, _) in DTYPES.items()}
FLOAT_DTYPES = ("f32", "f64")
INT8_DTYPES = ("i8", "i8a16")
SCALE_DTYPE = np.dtype("<f4")
# quantize= of write_model -> (the label of a matrix it quantizes, which matrices); int8
# stores every int8_allowed one as i8, w8a16 the products' ones as i8a16 and the embedding as i8
QUANTIZE = ("int8", "w8a16")


class FormatError(ValueError):
    """A model file failed a FORMAT.md check; `name` is the hecate.h status name."""

    def __init__(self, name: str, message: str):
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


def _align(offset: int) -> int:
    return (offset + ALIGN - 1) // ALIGN * ALIGN


# ---------------------------------------------------------------- writer

def _data_bytes(label: str, shape: tuple) -> int:
    """Bytes of a tensor's data: elements x size, plus one float32 scale per row for int8."""
    elems = math.prod(shape) * DTYPES[DTYPE_IDS[label]][1].itemsize
    return elems + (shape[0] * SCALE_DTYPE.itemsize if label in INT8_DTYPES else 0)


def write_model(cfg: ModelConfig, tensors: dict[str, np.ndarray], dtype: str = "f32",
                quantize: str | None = None) -> bytes:
    """Serialize cfg and its tensors (exactly those of tensor_specs(cfg), finite) as a model file.

    dtype: "f32" or "f64" for the tensors; quantize="int8" stores the
    matrices quantize.int8_allowed names as int8 with row scales instead;
    "w8a16" does too, with the products' matrices (quantize.w8a16_allowed)
    multiplying through int16 activations (dtype 3, MATH §1.1).
    """
    if dtype not in FLOAT_DTYPES:
        raise ValueError(f"dtype must be one of {list(FLOAT_DTYPES)}, got {dtype!r}")
    if quantize not in (None, *QUANTIZE):
        raise ValueError(f"quantize must be None or one of {list(QUANTIZE)}, got {quantize!r}")
    dtype_id = DTYPE_IDS[dtype]
    np_dtype = DTYPES[dtype_id][1]
    specs = tensor_specs(cfg)
    if set(tensors) != {name for name, _ in specs}:
        raise ValueError(f"tensor names differ from the config's: got {sorted(tensors)}")

    arrays, entries = [], []
    offset = _align(HEADER_BYTES + ENTRY_BYTES * len(specs))
    for name, shape in specs:
        with np.errstate(over="ignore"):  # an f32 overflow becomes Inf, rejected below
            array = np.ascontiguousarray(tensors[name], dtype=np_dtype)
        if array.shape != shape:
            raise ValueError(f"{name}: shape {array.shape}, config needs {shape}")
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{name}: holds NaN or Inf (after conversion to {dtype})")
        tensor_dtype, raw = dtype_id, array.tobytes()
        if quantize and int8_allowed(name):
            scales, values = quantize_rows(tensors[name])
            label = "i8a16" if quantize == "w8a16" and w8a16_allowed(name) else "i8"
            tensor_dtype, raw = DTYPE_IDS[label], scales.astype(SCALE_DTYPE).tobytes() + values.tobytes()
        dims = tuple(shape) + (1,) * (MAX_RANK - len(shape))
        entries.append(ENTRY.pack(name.encode("ascii"), tensor_dtype, len(shape), *dims, offset, len(raw)))
        arrays.append((offset, raw))
        offset = _align(offset + len(raw))
    file_size = arrays[-1][0] + len(arrays[-1][1])

    buf = bytearray(file_size)
    buf[:HEADER_BYTES] = _pack_header(cfg, file_size, len(specs))
    buf[HEADER_BYTES:HEADER_BYTES + ENTRY_BYTES * len(entries)] = b"".join(entries)
    for data_offset, raw in arrays:
        buf[data_offset:data_offset + len(raw)] = raw
    struct.pack_into("<I", buf, 24, crc32(buf[CRC_START:]))
    return bytes(buf)


def _pack_header(cfg: ModelConfig, file_size: int, n_tensors: int) -> bytes:
    periods = cfg.periods + (0,) * (MAX_LEVELS - len(cfg.periods))
    params = cfg.rule_params + (0.0,) * (MAX_RULE_PARAMS - len(cfg.rule_params))
    return HEADER.pack(MAGIC, VERSION, ENDIAN_MARKER, file_size, 0, n_tensors,
                       cfg.vocab, cfg.d_model, cfg.n_heads, cfg.window, cfg.composition_id,
                       cfg.rule_id, cfg.n_levels, cfg.flags, cfg.n_layers, cfg.retention_id,
                       *periods, *params, cfg.retention_param, cfg.conv_kernel,
                       bytes(HEADER_BYTES - RESERVED_START))


# ---------------------------------------------------------------- reader

def _unpack_header(data) -> dict:
    v = HEADER.unpack_from(data, 0)
    return {
        "magic": v[0], "format_version": v[1], "endian": v[2], "file_size": v[3],
        "crc32": v[4], "n_tensors": v[5], "vocab": v[6], "d_model": v[7], "n_heads": v[8],
        "window": v[9], "composition_id": v[10], "rule_id": v[11], "n_levels": v[12],
        "flags": v[13], "n_layers": v[14], "retention": v[15],
        "periods": tuple(v[16:16 + MAX_LEVELS]),
        "rule_params": tuple(v[16 + MAX_LEVELS:16 + MAX_LEVELS + MAX_RULE_PARAMS]),
        "retention_param": v[16 + MAX_LEVELS + MAX_RULE_PARAMS],
        "conv_kernel": v[17 + MAX_LEVELS + MAX_RULE_PARAMS],
        "reserved": v[-1],
    }


def _unpack_entry(data, index: int) -> dict:
    raw_name, dtype_id, rank, *rest = ENTRY.unpack_from(data, HEADER_BYTES + ENTRY_BYTES * index)
    dims, offset, nbytes = tuple(rest[:MAX_RANK]), rest[MAX_RANK], rest[MAX_RANK + 1]
    return {"raw_name": raw_name, "dtype_id": dtype_id, "rank": rank, "dims": dims,
            "offset": offset, "nbytes": nbytes}


def _check_identity(data) -> None:
    """FORMAT.md checks 1-4: size >= 16, magic, version, endianness marker."""
    if len(data) < 16:
        raise FormatError("HECATE_E_FILE_TRUNCATED", f"{len(data)} bytes, not even a file identity")
    if bytes(data[0:8]) != MAGIC:
        raise FormatError("HECATE_E_FILE_MAGIC", f"magic {bytes(data[0:8])!r}, expected {MAGIC!r}")
    version, endian = struct.unpack_from("<II", data, 8)
    if version != VERSION:
        raise FormatError("HECATE_E_FILE_VERSION", f"format version {version}, this reader reads {VERSION}")
    if endian != ENDIAN_MARKER:
        raise FormatError("HECATE_E_FILE_ENDIAN", f"endianness marker {endian:#010x}, "
                                                  f"expected {ENDIAN_MARKER:#010x}")


def _check_size(data, header: dict) -> None:
    """FORMAT.md check 6: recorded file size equals the buffer length (a
    shorter buffer is a truncated file)."""
    if header["file_size"] > len(data):
        raise FormatError("HECATE_E_FILE_TRUNCATED",
                          f"header records {header['file_size']} bytes, buffer holds only {len(data)}")
    if header["file_size"] != len(data):
        raise FormatError("HECATE_E_FILE_SIZE",
                          f"header records {header['file_size']} bytes, buffer holds {len(data)}")


def _check_crc(data, header: dict) -> None:
    """FORMAT.md check 7: CRC32 of bytes [28, size)."""
    actual = crc32(data[CRC_START:])
    if actual != header["crc32"]:
        raise FormatError("HECATE_E_FILE_CRC",
                          f"CRC32 {actual:#010x} differs from the recorded {header['crc32']:#010x}")


def _check_reserved(header: dict) -> None:
    """FORMAT.md check 8: reserved bytes [144, 256) are zero."""
    if any(header["reserved"]):
        first = next(i for i, b in enumerate(header["reserved"]) if b)
        raise FormatError("HECATE_E_FILE_RESERVED", f"reserved header byte {RESERVED_START + first} is not zero")


def _config_from_header(h: dict) -> ModelConfig:
    """FORMAT.md check 9, config fields in header order (ids get their own codes)."""
    def bad(message):
        return FormatError("HECATE_E_FILE_CONFIG", message)

    for field, (low, high) in (("vocab", VOCAB_RANGE), ("d_model", D_MODEL_RANGE)):
        if not low <= h[field] <= high:
            raise bad(f"{field} {h[field]} outside {low}..{high}")
    if h["n_heads"] < 1 or h["d_model"] % h["n_heads"]:
        raise bad(f"n_heads {h['n_heads']} does not divide d_model {h['d_model']}")
    if not WINDOW_RANGE[0] <= h["window"] <= WINDOW_RANGE[1]:
        raise bad(f"window {h['window']} outside {WINDOW_RANGE[0]}..{WINDOW_RANGE[1]}")
    composition = {i: name for name, i in COMPOSITIONS.items()}.get(h["composition_id"])
    if composition is None:
        raise FormatError("HECATE_E_FILE_COMPOSITION", f"unknown composition id {h['composition_id']}")
    rule = RULES_BY_ID.get(h["rule_id"])
    if rule is None:
        raise FormatError("HECATE_E_FILE_RULE", f"unknown memory rule id {h['rule_id']}")
    if not 1 <= h["n_levels"] <= SUPPORTED_LEVELS:
        raise bad(f"n_levels {h['n_levels']} outside 1..{SUPPORTED_LEVELS}")
    if h["flags"] & ~FLAGS_KNOWN:
        raise bad(f"flags {h['flags']:#x} set bits other than bits 0 to 4")
    if h["flags"] & FLAG_FREQ_GATES and h["n_levels"] < 2:
        raise bad("flag bit 1 (frequency gates) needs n_levels >= 2")
    if h["flags"] & FLAG_ROPE and (h["d_model"] // h["n_heads"]) % 2:
        raise bad(f"flag bit 3 (rotary positions) needs an even head width, got "
                  f"{h['d_model'] // h['n_heads']}")
    if not 1 <= h["n_layers"] <= MAX_LAYERS:
        raise bad(f"n_layers {h['n_layers']} outside 1..{MAX_LAYERS}")
    periods = h["periods"]
    if (periods[0] != 1 or any(periods[h["n_levels"]:])
            or not all(1 <= p <= MAX_PERIOD for p in periods[:h["n_levels"]])):
        raise bad(f"level periods {periods}: periods[0] must be 1, used entries 1..{MAX_PERIOD}, unused 0")
    params = h["rule_params"]
    if not all(math.isfinite(p) for p in params):
        raise bad(f"rule hyper-parameters {params} are not all finite")
    conv = bool(h["flags"] & FLAG_CONV)
    if conv and not CONV_KERNEL_RANGE[0] <= h["conv_kernel"] <= CONV_KERNEL_RANGE[1]:
        raise bad(f"flag bit 2 (short convolution) needs a kernel size in {CONV_KERNEL_RANGE[0]}.."
                  f"{CONV_KERNEL_RANGE[1]}, got {h['conv_kernel']}")
    if not conv and h["conv_kernel"]:
        raise bad(f"kernel size {h['conv_kernel']} without flag bit 2 (short convolution); must be 0")
    n_params = len(rule.PARAM_NAMES)
    if any(params[n_params:]):
        raise bad(f"rule {rule.NAME!r} takes {n_params} hyper-parameters, unused entries must be 0")
    try:
        rule.check_params(h["d_model"], params[:n_params])
    except ValueError as err:
        raise bad(f"rule {rule.NAME!r}: {err}") from err
    retention = rule.RETENTION if h["retention"] == 0 else RETENTION_NAMES.get(h["retention"])
    if retention not in rule.RETENTIONS:
        raise FormatError("HECATE_E_FILE_RETENTION", f"retention id {h['retention']}: rule {rule.NAME!r} "
                                                     f"takes {list(rule.RETENTIONS)}")
    try:
        retention, lam = resolve_retention(rule, retention, h["retention_param"])
    except ValueError as err:
        raise bad(str(err)) from err
    try:
        return ModelConfig(vocab=h["vocab"], d_model=h["d_model"], n_heads=h["n_heads"],
                           window=h["window"], composition=composition, rule=rule.NAME,
                           n_levels=h["n_levels"], qk_norm=bool(h["flags"] & FLAG_QK_NORM),
                           n_layers=h["n_layers"], retention=retention, retention_param=lam,
                           periods=periods[:h["n_levels"]], rule_params=params[:n_params],
                           freq_gates=bool(h["flags"] & FLAG_FREQ_GATES), conv_kernel=h["conv_kernel"],
                           rope=bool(h["flags"] & FLAG_ROPE), bounded_steps=bool(h["flags"] & FLAG_BOUNDED_STEP))
    except ValueError as err:
        raise bad(str(err)) from err


def header_config(data) -> ModelConfig:
    """The configuration recorded in a model file's header (FORMAT.md checks
    up to the config; the directory and tensors are not looked at)."""
    _check_identity(data)
    if len(data) < HEADER_BYTES:
        raise FormatError("HECATE_E_FILE_TRUNCATED", f"{len(data)} bytes, the header needs {HEADER_BYTES}")
    return _config_from_header(_unpack_header(data))


def file_dtype(data) -> str | None:
    """"f32" or "f64": the dtype of a model file's first float (not int8)
    tensor, or None when no directory entry gives one (the readers then say why)."""
    fits = (len(data) - HEADER_BYTES) // ENTRY_BYTES
    n_tensors = struct.unpack_from("<I", data, 28)[0] if len(data) >= HEADER_BYTES else 0
    for index in range(min(fits, n_tensors)):
        dtype = DTYPES.get(_unpack_entry(data, index)["dtype_id"])
        if dtype is None or dtype[0] in FLOAT_DTYPES:
            return dtype[0] if dtype else None
    return None


def _entry_name(raw_name: bytes):
    """The NUL-padded ASCII name, or None if there is no NUL or bytes follow the first NUL."""
    end = raw_name.find(b"\0")
    if end < 0 or any(raw_name[end:]):
        return None
    try:
        return raw_name[:end].decode("ascii")
    except UnicodeDecodeError:
        return None


def _check_directory(data, cfg: ModelConfig, header: dict, want_dtype) -> list[dict]:
    """FORMAT.md check 10: tensor count, directory fits, each entry in file order,
    then tensors overlapping each other."""
    specs = tensor_specs(cfg)
    if header["n_tensors"] != len(specs):
        raise FormatError("HECATE_E_FILE_TENSOR_COUNT",
                          f"{header['n_tensors']} tensors, the config needs {len(specs)}")
    directory_end = HEADER_BYTES + ENTRY_BYTES * len(specs)
    if len(data) < directory_end:
        raise FormatError("HECATE_E_FILE_TRUNCATED",
                          f"{len(data)} bytes, the tensor directory ends at {directory_end}")
    rows: list[dict] = []
    for index, (name, shape) in enumerate(specs):
        float_rows = [row["dtype"] for row in rows if row["dtype"] in FLOAT_DTYPES]
        file_dtype = want_dtype or (float_rows[0] if float_rows else None)
        rows.append(_check_entry(data, index, name, shape, file_dtype, directory_end))
    for i, row in enumerate(rows):
        for other in rows[i + 1:]:
            if row["offset"] < other["offset"] + other["bytes"] and other["offset"] < row["offset"] + row["bytes"]:
                raise FormatError("HECATE_E_FILE_TENSOR_OVERLAP", f"{other['name']}: overlaps {row['name']}")
    return rows


def _check_entry(data, index: int, name: str, shape: tuple, file_dtype, directory_end: int) -> dict:
    """One directory entry, checks in order: name, dtype, rank/shape, byte size, range,
    alignment, overlap with the header and directory."""
    e = _unpack_entry(data, index)
    if _entry_name(e["raw_name"]) != name:
        raise FormatError("HECATE_E_FILE_TENSOR_NAME",
                          f"entry {index}: name {e['raw_name'].rstrip(bytes(1))!r}, expected {name!r} "
                          f"(ASCII, NUL-padded)")
    if e["dtype_id"] not in DTYPES:
        raise FormatError("HECATE_E_FILE_TENSOR_DTYPE", f"{name}: unknown dtype id {e['dtype_id']}")
    label = DTYPES[e["dtype_id"]][0]
    if label == "i8" and not int8_allowed(name):
        raise FormatError("HECATE_E_FILE_TENSOR_DTYPE", f"{name}: may not be stored as int8")
    if label == "i8a16" and not w8a16_allowed(name):
        raise FormatError("HECATE_E_FILE_TENSOR_DTYPE", f"{name}: may not be stored as int8 with int16 activations")
    if label not in INT8_DTYPES and file_dtype is not None and label != file_dtype:
        raise FormatError("HECATE_E_FILE_TENSOR_DTYPE", f"{name}: dtype {label}, expected {file_dtype}")
    rank, dims = e["rank"], e["dims"]
    if not 1 <= rank <= MAX_RANK or dims[:rank] != shape or any(x != 1 for x in dims[rank:]):
        raise FormatError("HECATE_E_FILE_TENSOR_SHAPE",
                          f"{name}: rank {rank} shape {dims}, expected {shape} (unused dims 1)")
    start, nbytes = e["offset"], e["nbytes"]
    needed = _data_bytes(label, shape)
    if nbytes != needed:
        raise FormatError("HECATE_E_FILE_TENSOR_SIZE", f"{name}: {nbytes} bytes, {shape} {label} needs {needed}")
    if start + nbytes > len(data):
        raise FormatError("HECATE_E_FILE_TENSOR_RANGE",
                          f"{name}: bytes [{start}, {start + nbytes}) leave the {len(data)}-byte file")
    if start % ALIGN:
        raise FormatError("HECATE_E_FILE_TENSOR_ALIGN", f"{name}: offset {start} not a multiple of {ALIGN}")
    if start < directory_end:
        raise FormatError("HECATE_E_FILE_TENSOR_OVERLAP",
                          f"{name}: offset {start} inside the header and directory (end {directory_end})")
    return {"name": name, "dtype": label, "shape": shape, "offset": start, "bytes": nbytes}


def _load_tensors(data, entries: list[dict]) -> dict[str, np.ndarray]:
    """FORMAT.md check 11 (last), per tensor in order: int8 row scales finite
    and > 0, float tensors finite.  Returns native-dtype copies, int8 tensors
    dequantized exactly to float64 (those with int16 activations as
    quantize.W8A16Matrix, which multiplies as the runtime does)."""
    tensors = {}
    for e in entries:
        _, np_dtype = DTYPES[DTYPE_IDS[e["dtype"]]]
        if e["dtype"] in INT8_DTYPES:
            rows = e["shape"][0]
            scales = np.frombuffer(data, dtype=SCALE_DTYPE, count=rows, offset=e["offset"])
            if not np.all(np.isfinite(scales) & (scales > 0)):
                raise FormatError("HECATE_E_FILE_TENSOR_SCALE", f"{e['name']}: a row scale is not finite and > 0")
            values = np.frombuffer(data, dtype=np_dtype, count=math.prod(e["shape"]),
                                   offset=e["offset"] + rows * SCALE_DTYPE.itemsize)
            values = values.reshape(e["shape"])
            tensors[e["name"]] = (W8A16Matrix(scales, values) if e["dtype"] == "i8a16"
                                  else dequantize_rows(scales, values))
            continue
        array = np.frombuffer(data, dtype=np_dtype, count=math.prod(e["shape"]), offset=e["offset"])
        if not np.all(np.isfinite(array)):
            raise FormatError("HECATE_E_FILE_NONFINITE", f"{e['name']}: holds NaN or Inf")
        tensors[e["name"]] = array.astype(np_dtype.type, copy=True).reshape(e["shape"])
    return tensors


def _read(data, want_dtype, check_crc: bool):
    _check_identity(data)
    if len(data) < HEADER_BYTES:
        raise FormatError("HECATE_E_FILE_TRUNCATED", f"{len(data)} bytes, the header needs {HEADER_BYTES}")
    header = _unpack_header(data)
    _check_size(data, header)
    if check_crc:
        _check_crc(data, header)
    _check_reserved(header)
    cfg = _config_from_header(header)
    entries = _check_directory(data, cfg, header, want_dtype)
    tensors = _load_tensors(data, entries)
    return cfg, tensors, header, entries


def read_model(data, dtype: str | None = None) -> tuple[ModelConfig, dict[str, np.ndarray], dict]:
    """Validate a model file as the C reader does; return (config, tensors, header).

    dtype: "f32" or "f64" to accept only that tensor type (as one C build does);
    None accepts either, provided all float tensors share it; int8 tensors
    (allowed in both) come back dequantized to float64.  Raises FormatError.
    Header dict: the raw header fields, plus "dtype" (the float dtype) and
    "tensors" (directory rows, each with its own "dtype").
    """
    if dtype is not None and dtype not in FLOAT_DTYPES:
        raise ValueError(f"dtype must be None or one of {list(FLOAT_DTYPES)}, got {dtype!r}")
    data = memoryview(data).cast("B")
    cfg, tensors, header, entries = _read(data, dtype, check_crc=True)
    del header["reserved"]
    header["dtype"] = next(e["dtype"] for e in entries if e["dtype"] in FLOAT_DTYPES)
    header["tensors"] = entries
    return cfg, tensors, header


def _raw_rows(data, header: dict) -> list[dict]:
    """Directory rows as recorded, for as many entries as the buffer holds (no checks)."""
    fits = max(0, (len(data) - HEADER_BYTES) // ENTRY_BYTES)
    rows = []
    for index in range(min(header["n_tensors"], fits)):
        e = _unpack_entry(data, index)
        rows.append({"name": e["raw_name"].split(b"\0", 1)[0].decode("ascii", "replace"),
                     "dtype": DTYPES.get(e["dtype_id"], (f"id {e['dtype_id']}",))[0],
                     "shape": e["dims"][:max(1, min(e["rank"], MAX_RANK))],
                     "offset": e["offset"], "bytes": e["nbytes"]})
    return rows


def describe(data) -> dict:
    """Summary for `hecate-edge inspect`: header fields, config, tensor rows, CRC status.

    Raises FormatError only if the buffer is not a readable header (too short,
    bad magic, version or endianness).  A bad CRC is reported in "crc"; any
    other failed check in "problem" ({"name", "message"}, else None).
    """
    data = memoryview(data).cast("B")
    _check_identity(data)
    if len(data) < HEADER_BYTES:
        raise FormatError("HECATE_E_FILE_TRUNCATED", f"{len(data)} bytes, the header needs {HEADER_BYTES}")
    header = _unpack_header(data)
    computed = crc32(data[CRC_START:])
    summary = {
        "header": {k: v for k, v in header.items() if k not in ("magic", "reserved")},
        "crc": {"recorded": header["crc32"], "computed": computed, "ok": computed == header["crc32"]},
        "config": None,
        "tensors": _raw_rows(data, header),
        "problem": None,
    }
    try:
        cfg, _, _, _ = _read(data, None, check_crc=False)
        summary["config"] = cfg.to_dict()
    except FormatError as err:
        summary["problem"] = {"name": err.name, "message": err.message}
    return summary
