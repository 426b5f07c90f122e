"""The exported graph's session state (docs/ONNX.md "The state-tensor convention"): the
tensors a call takes after `tokens` and returns after `logits`, a fresh
session's values, and the conversion to and from the C runtime's state blob
(docs/FORMAT.md "Session state blob"; MATH §6, §6.1, §6.2, §3.1).

Names and order: `position`, then every memory's parts block-major
(`blk<l>.mem<i>.state`, `.at` for a level of period > 1 or with a frequency
gate, `.sum` for a gated level), then each block's attention window
(`blk<l>.attn.keys`, `blk<l>.attn.values`, `entries * window` rows oldest
first, MAC: a token's x entry then its h entry), then with the short
convolution every memory's `blk<l>.mem<i>.conv` (3, K-1, d).
"""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from hecate_edge.config import ModelConfig
from hecate_edge.errors import OnnxStateError, OnnxUnsupported
from hecate_edge.format import read_model
from hecate_edge.reference.compositions import composition_by_name
from hecate_edge.reference.rules import rule_by_name

BLOB_MAGIC = b"HCTSTATE"
BLOB_HEADER = struct.Struct("<8sIIQIIIIQQ")  # magic .. payload count (FORMAT.md, 56 bytes)
BLOB_VERSION, BLOB_ENDIAN = 1, 0x01020304
SCALAR_BYTES = 4  # the graph computes in float32: its blobs are the float build's


def window_entries(cfg: ModelConfig) -> int:
    """MATH §4.4: window entries per token (MAC caches an x and an h entry), as the reference's composition says."""
    return composition_by_name(cfg.composition).WINDOW_ENTRIES


def has_block_start(cfg: ModelConfig, level: int) -> bool:
    """MATH §6.1, §6.2: the level keeps a block-start state next to its state."""
    return cfg.periods[level] > 1 or cfg.gated(level)


def state_specs(cfg: ModelConfig) -> list[tuple[str, tuple[int, ...], type]]:
    """(name, shape, numpy dtype) of every state tensor, in input order."""
    d, rule = cfg.d_model, rule_by_name(cfg.rule)
    memory = rule.init_state(d, cfg.rule_hp).shape
    specs: list = [("position", (), np.int64)]
    for layer in range(cfg.n_layers):
        for level in range(cfg.n_levels):
            prefix = f"blk{layer}.mem{level}"
            specs.append((f"{prefix}.state", memory, np.float32))
            if has_block_start(cfg, level):
                specs.append((f"{prefix}.at", memory, np.float32))
            if cfg.gated(level):
                specs.append((f"{prefix}.sum", (d,), np.float32))
    rows = window_entries(cfg) * cfg.window
    for layer in range(cfg.n_layers):
        specs += [(f"blk{layer}.attn.keys", (rows, d), np.float32), (f"blk{layer}.attn.values", (rows, d), np.float32)]
    if cfg.conv_kernel:
        specs += [(f"blk{layer}.mem{level}.conv", (3, cfg.conv_kernel - 1, d), np.float32)
                  for layer in range(cfg.n_layers) for level in range(cfg.n_levels)]
    return specs


def load_model_file(model) -> tuple[ModelConfig, dict, dict]:
    """(config, float64 tensors, header) of a float32 model file given as a path,
    bytes, or a hecate_edge.runtime.Model (its current weights). A float64 file
    is refused: the graph computes in float32, the float build's type."""
    if hasattr(model, "to_bytes"):
        model = model.to_bytes()
    elif isinstance(model, (str, Path)):
        model = Path(model).read_bytes()
    cfg, params, header = read_model(bytes(model))
    if header["dtype"] != "f32":
        raise OnnxUnsupported("ONNX_UNSUPPORTED_DTYPE", "a float64 model file runs only in the double build; "
                                                        "export it as float32 first (hecate-edge export --dtype f32)")
    return cfg, params, header


def initial_state(model) -> dict[str, np.ndarray]:
    """{input name: array} of a fresh session (MATH §6: position 0, empty
    windows, every memory at its rule's init state, zero convolution rows)."""
    cfg = load_model_file(model)[0]
    init = rule_by_name(cfg.rule).init_state(cfg.d_model, cfg.rule_hp)
    out = {}
    for name, shape, dtype in state_specs(cfg):
        memory = name.endswith(".state") or name.endswith(".at")
        out[name] = np.array(init, dtype) if memory else np.zeros(shape, dtype)
    return out


def _ring_order(cfg: ModelConfig, position: int) -> list[int | None]:
    """Ring slot (position mod window, FORMAT.md) of each of the window's tokens,
    oldest first; None for a token before position 0."""
    w = cfg.window
    return [(p % w if p >= 0 else None) for p in range(position - w, position)]


def _blob_parts(cfg: ModelConfig):
    """State names in blob payload order: memories, then windows, then convolution states."""
    names = [name for name, _, _ in state_specs(cfg) if name != "position"]
    window = [n for n in names if ".attn." in n]
    conv = [n for n in names if n.endswith(".conv")]
    return [n for n in names if n not in window and n not in conv], window, conv


def state_from_blob(model, blob: bytes) -> dict[str, np.ndarray]:
    """The state tensors of a float-build state blob (Session.save_state) of this model."""
    cfg, _, header = load_model_file(model)
    position, payload = _read_blob(blob, header["crc32"])
    shapes = {name: shape for name, shape, _ in state_specs(cfg)}
    memories, windows, convs = _blob_parts(cfg)
    d, e, w = cfg.d_model, window_entries(cfg), cfg.window
    sizes = [int(np.prod(shapes[n])) for n in memories] + [w * e * d] * len(windows) + \
        [int(np.prod(shapes[n])) for n in convs]
    if sum(sizes) != payload.size:
        raise OnnxStateError(f"the blob holds {payload.size} scalars, this model's state {sum(sizes)}")
    chunks = dict(zip(memories + windows + convs, np.split(payload, np.cumsum(sizes)[:-1])))
    out = {"position": np.array(position, np.int64)}
    for name in memories + convs:
        out[name] = chunks[name].reshape(shapes[name]).astype(np.float32)
    for name in windows:  # FORMAT.md ring (slot = token position mod window) -> oldest first
        ring = chunks[name].reshape(w, e * d)
        rows = [ring[slot] if slot is not None else np.zeros(e * d) for slot in _ring_order(cfg, position)]
        out[name] = np.array(rows, np.float32).reshape(w * e, d)
    return {name: out[name] for name, _, _ in state_specs(cfg)}


def state_to_blob(model, state: dict[str, np.ndarray]) -> bytes:
    """The float-build state blob (Session.load_state) holding these state tensors."""
    cfg, _, header = load_model_file(model)
    specs = state_specs(cfg)
    missing = [name for name, _, _ in specs if name not in state]
    if missing:
        raise OnnxStateError(f"state lacks {missing[0]}")
    for name, shape, _ in specs:
        if np.shape(state[name]) != shape:
            raise OnnxStateError(f"{name} has shape {np.shape(state[name])}, this model's is {shape}")
    position = int(state["position"])
    if position < 0:
        raise OnnxStateError(f"position {position} is negative")
    memories, windows, convs = _blob_parts(cfg)
    chunks = [np.asarray(state[name], np.float32).ravel() for name in memories]
    d, e, w = cfg.d_model, window_entries(cfg), cfg.window
    for name in windows:  # oldest first -> FORMAT.md ring (slot = token position mod window)
        ring = np.zeros((w, e * d), np.float32)
        for row, slot in zip(np.asarray(state[name], np.float32).reshape(w, e * d), _ring_order(cfg, position)):
            if slot is not None:
                ring[slot] = row
        chunks.append(ring.ravel())
    chunks += [np.asarray(state[name], np.float32).ravel() for name in convs]
    payload = np.concatenate(chunks).astype("<f4")
    total = BLOB_HEADER.size + payload.nbytes
    head = BLOB_HEADER.pack(BLOB_MAGIC, BLOB_VERSION, BLOB_ENDIAN, total, 0, SCALAR_BYTES, header["crc32"], 0,
                            position, payload.size)
    body = head[28:] + payload.tobytes()
    return head[:24] + struct.pack("<I", zlib.crc32(body)) + body


def _read_blob(blob: bytes, model_crc: int) -> tuple[int, np.ndarray]:
    """(position, float32 payload) of a blob, after the checks of FORMAT.md that
    concern its identity and integrity."""
    blob = bytes(blob)
    if len(blob) < BLOB_HEADER.size:
        raise OnnxStateError(f"state blob of {len(blob)} bytes is shorter than its header")
    magic, version, endian, total, crc, scalar, owner, _, position, count = BLOB_HEADER.unpack_from(blob)
    if magic != BLOB_MAGIC or version != BLOB_VERSION or endian != BLOB_ENDIAN:
        raise OnnxStateError("not a version-1 little-endian state blob")
    if total != len(blob) or zlib.crc32(blob[28:]) != crc:
        raise OnnxStateError("state blob is truncated or corrupt (size or CRC)")
    if scalar != SCALAR_BYTES or owner != model_crc:
        raise OnnxStateError("state blob belongs to another model or to the double build")
    payload = np.frombuffer(blob, "<f4", offset=BLOB_HEADER.size)
    if payload.size != count:
        raise OnnxStateError(f"state blob records {count} scalars and holds {payload.size}")
    return position, payload
