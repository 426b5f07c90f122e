"""Corrupt model files, one FORMAT.md check each, shared by the Python and C reader tests.

CASES is a list of (case_name, expected_code_name, build) where build(dtype="f32")
returns the corrupt bytes, made from a valid small model of that dtype.  Cases
aimed past the CRC check rewrite the CRC so that only the intended fault remains.
"""
import functools
import math
import struct
from dataclasses import replace

from hecate_edge.config import LEGACY_OFF, ModelConfig
from hecate_edge.format import (CRC_START, ENTRY_BYTES, HEADER_BYTES, crc32, read_model,
                                write_model)
from hecate_edge.reference.init import init_params

# the plain model (no optional feature): each case flips one thing of it
SMALL = ModelConfig(vocab=16, d_model=8, n_heads=2, window=4, **LEGACY_OFF)

# header field offsets (docs/FORMAT.md)
CRC, COUNT, VOCAB, D_MODEL, N_HEADS, WINDOW = 24, 28, 32, 36, 40, 44
COMPOSITION, RULE, LEVELS, FLAGS, LAYERS, RETENTION, PERIODS, RULE_PARAMS = (
    48, 52, 56, 60, 64, 68, 72, 104)
RETENTION_PARAM = 136
CONV_KERNEL = 140
# directory entry field offsets
E_DTYPE, E_RANK, E_SHAPE, E_OFFSET, E_BYTES = 40, 44, 48, 64, 72


@functools.lru_cache(maxsize=None)
def valid_model(dtype: str = "f32", rule: str = "delta", quantize: str | None = None) -> bytes:
    """A valid model file of SMALL (with `rule`) with seed-0 weights, its
    matrices int8 when quantize="int8"."""
    cfg = replace(SMALL, rule=rule, qk_norm=None, rule_params=(), retention=None, retention_param=None)
    return write_model(cfg, init_params(cfg, seed=0), dtype, quantize=quantize)


GATED = replace(SMALL, n_levels=2, periods=(1, 4), freq_gates=True)


@functools.lru_cache(maxsize=None)
def gated_model(dtype: str = "f32", freq_gates: bool = True) -> bytes:
    """A valid 2-level model file of GATED, with or without its frequency gates (MATH §6.2)."""
    cfg = replace(GATED, freq_gates=freq_gates)
    return write_model(cfg, init_params(cfg, seed=0), dtype)


def _gated_flags(value: int, freq_gates: bool):
    """A 2-level file (with or without gate tensors) whose header flags say `value`."""
    def build(dtype="f32"):
        buf = bytearray(gated_model(dtype, freq_gates))
        struct.pack_into("<I", buf, FLAGS, value)
        return fix_crc(buf)
    return build


CONV = replace(SMALL, conv_kernel=4)


@functools.lru_cache(maxsize=None)
def conv_model(dtype: str = "f32") -> bytes:
    """A valid model file of CONV: a short convolution of 4 taps (MATH §3.1)."""
    return write_model(CONV, init_params(CONV, seed=0), dtype)


def _conv_header(flags: int, kernel: int, source=conv_model):
    """A file (of CONV, or another source) whose header says these flags and kernel size."""
    def build(dtype="f32"):
        buf = bytearray(source(dtype))
        struct.pack_into("<I", buf, FLAGS, flags)
        struct.pack_into("<I", buf, CONV_KERNEL, kernel)
        return fix_crc(buf)
    return build


def _conv_entry(name: str, field: int, value: int):
    def build(dtype="f32"):
        buf = bytearray(conv_model(dtype))
        struct.pack_into("<I", buf, entry_at(buf, name) + field, value)
        return fix_crc(buf)
    return build


def _gated_entry(name: str, field: int, value: int):
    def build(dtype="f32"):
        buf = bytearray(gated_model(dtype))
        struct.pack_into("<I", buf, entry_at(buf, name) + field, value)
        return fix_crc(buf)
    return build


def entry_at(data: bytes, name: str) -> int:
    """Byte offset of the directory entry named `name` in a valid file."""
    _, _, header = read_model(data)
    index = [row["name"] for row in header["tensors"]].index(name)
    return HEADER_BYTES + ENTRY_BYTES * index


def fix_crc(buf: bytearray) -> bytes:
    """Rewrite the CRC field so the buffer passes the CRC check."""
    struct.pack_into("<I", buf, CRC, crc32(buf[CRC_START:]))
    return bytes(buf)


def _header_u32(offset: int, value: int):
    def build(dtype="f32"):
        buf = bytearray(valid_model(dtype))
        struct.pack_into("<I", buf, offset, value)
        return fix_crc(buf) if offset >= CRC_START else bytes(buf)
    return build


def _rope_heads(n_heads: int):
    """A valid file of SMALL with rotary positions (MATH §2, flag bit 3) whose header says n_heads."""
    def build(dtype="f32"):
        cfg = replace(SMALL, rope=True)
        buf = bytearray(write_model(cfg, init_params(cfg, seed=0), dtype))
        struct.pack_into("<I", buf, N_HEADS, n_heads)
        return fix_crc(buf)
    return build


def _levels(n_levels: int, periods: tuple[int, ...]):
    """A one-level file whose header claims n_levels with these periods."""
    def build(dtype="f32"):
        buf = bytearray(valid_model(dtype))
        struct.pack_into("<I", buf, LEVELS, n_levels)
        struct.pack_into(f"<{len(periods)}I", buf, PERIODS, *periods)
        return fix_crc(buf)
    return build


def _mac_without_mixing(dtype="f32"):
    """A two-level MAG file whose header says MAC: MAC's level mixes are missing (MATH §4.4)."""
    cfg = replace(SMALL, n_levels=2, periods=(1, 8))
    buf = bytearray(write_model(cfg, init_params(cfg, seed=0), dtype))
    struct.pack_into("<I", buf, COMPOSITION, 2)
    return fix_crc(buf)


def _rule_param(value: float, rule: str = "delta", index: int = 0):
    def build(dtype="f32"):
        buf = bytearray(valid_model(dtype, rule))
        struct.pack_into("<f", buf, RULE_PARAMS + 4 * index, value)
        return fix_crc(buf)
    return build


def _retention(retention_id: int, param: float, rule: str = "delta"):
    """`rule`'s valid file with the header's retention id and parameter set."""
    def build(dtype="f32"):
        buf = bytearray(valid_model(dtype, rule))
        struct.pack_into("<I", buf, RETENTION, retention_id)
        struct.pack_into("<f", buf, RETENTION_PARAM, param)
        return fix_crc(buf)
    return build


def _entry_field(name: str, field: int, fmt: str, value):
    """Overwrite one directory field of tensor `name`; value may be a function of (buf, old)."""
    def build(dtype="f32"):
        buf = bytearray(valid_model(dtype))
        at = entry_at(buf, name) + field
        old = struct.unpack_from(fmt, buf, at)[0]
        struct.pack_into(fmt, buf, at, value(buf, old) if callable(value) else value)
        return fix_crc(buf)
    return build


def _entry_name(name: str, raw: bytes, source=valid_model):
    def build(dtype="f32"):
        buf = bytearray(source(dtype))
        at = entry_at(buf, name)
        buf[at:at + 40] = raw
        return fix_crc(buf)
    return build


def _tensor_value(name: str, value: float, source=None):
    """Store `value` as the first element of tensor `name` (of valid_model, or `source`'s file)."""
    def build(dtype="f32"):
        buf = bytearray((source or valid_model)(dtype))
        offset = struct.unpack_from("<Q", buf, entry_at(buf, name) + E_OFFSET)[0]
        struct.pack_into("<f" if dtype == "f32" else "<d", buf, offset, value)
        return fix_crc(buf)
    return build


def _overlap_then_bad_name(dtype="f32"):
    """Two faults: wk overlaps wq (an overlap between tensors, checked after all
    entries) and head's name is wrong (an entry check): the name is reported."""
    buf = bytearray(_entry_field("blk0.attn.wk", E_OFFSET, "<Q", _same_offset_as("blk0.attn.wq"))(dtype))
    at = entry_at(valid_model(dtype), "head")
    buf[at:at + 40] = b"hexd".ljust(40, b"\0")
    return fix_crc(buf)


def _truncated(length: int):
    def build(dtype="f32"):
        return valid_model(dtype)[:length]
    return build


def _truncated_directory(dtype="f32"):
    """Header and part of the directory, with size and CRC consistent."""
    buf = bytearray(valid_model(dtype)[:HEADER_BYTES + 3 * ENTRY_BYTES])
    struct.pack_into("<Q", buf, 16, len(buf))
    return fix_crc(buf)


def _recorded_size_plus_one(dtype="f32"):
    buf = bytearray(valid_model(dtype))
    struct.pack_into("<Q", buf, 16, len(buf) + 1)
    return bytes(buf)


def _flip_data_byte(dtype="f32"):
    buf = bytearray(valid_model(dtype))
    buf[-3] ^= 0x40
    return bytes(buf)


def _bad_crc_field(dtype="f32"):
    buf = bytearray(valid_model(dtype))
    struct.pack_into("<I", buf, CRC, (crc32(buf[CRC_START:]) + 1) & 0xFFFFFFFF)
    return bytes(buf)


def _patch(offset: int, raw: bytes, recompute_crc: bool):
    def build(dtype="f32"):
        buf = bytearray(valid_model(dtype))
        buf[offset:offset + len(raw)] = raw
        return fix_crc(buf) if recompute_crc else bytes(buf)
    return build


def _other_dtype(_buf, old):
    return 1 - old


def _past_end(buf, _old):
    return (len(buf) + 63) // 64 * 64


def _int8_scale(name: str, row: int, value: float):
    """The int8 model with row `row`'s scale of tensor `name` set to `value`."""
    def build(dtype="f32"):
        buf = bytearray(valid_model(dtype, quantize="int8"))
        offset = struct.unpack_from("<Q", buf, entry_at(buf, name) + E_OFFSET)[0]
        struct.pack_into("<f", buf, offset + 4 * row, value)
        return fix_crc(buf)
    return build


def _int8_entry(name: str, field: int, fmt: str, value):
    """The int8 model with one directory field of tensor `name` changed."""
    def build(dtype="f32"):
        buf = bytearray(valid_model(dtype, quantize="int8"))
        at = entry_at(buf, name) + field
        old = struct.unpack_from(fmt, buf, at)[0]
        struct.pack_into(fmt, buf, at, value(buf, old) if callable(value) else value)
        return fix_crc(buf)
    return build


def _nonfinite_gate_then_bad_scale(dtype="f32"):
    """Two data faults in the int8 model: NaN in gate_b, a zero scale in the
    later head: tensors are checked in file order, so the NaN is reported."""
    buf = bytearray(_int8_scale("head", 0, 0.0)(dtype))
    at = entry_at(valid_model(dtype, quantize="int8"), "blk0.mem0.gate_b")
    offset = struct.unpack_from("<Q", buf, at + E_OFFSET)[0]
    struct.pack_into("<f" if dtype == "f32" else "<d", buf, offset, math.nan)
    return fix_crc(buf)


def _same_offset_as(name: str):
    def value(buf, _old):
        return struct.unpack_from("<Q", buf, entry_at(buf, name) + E_OFFSET)[0]
    return value


CASES = [
    ("truncated_identity", "HECATE_E_FILE_TRUNCATED", _truncated(10)),
    ("truncated_header", "HECATE_E_FILE_TRUNCATED", _truncated(200)),
    ("truncated_directory", "HECATE_E_FILE_TRUNCATED", _truncated_directory),
    ("magic", "HECATE_E_FILE_MAGIC", _patch(0, b"HCTMODEX", recompute_crc=False)),
    ("version", "HECATE_E_FILE_VERSION", _header_u32(8, 2)),
    ("endian_swapped", "HECATE_E_FILE_ENDIAN", _patch(12, bytes([1, 2, 3, 4]), recompute_crc=False)),
    ("size_recorded_larger", "HECATE_E_FILE_TRUNCATED", _recorded_size_plus_one),
    ("size_buffer_cut", "HECATE_E_FILE_TRUNCATED", lambda dtype="f32": valid_model(dtype)[:-8]),
    ("size_trailing_bytes", "HECATE_E_FILE_SIZE", lambda dtype="f32": valid_model(dtype) + bytes(64)),
    ("crc_data_flipped", "HECATE_E_FILE_CRC", _flip_data_byte),
    ("crc_field", "HECATE_E_FILE_CRC", _bad_crc_field),
    ("reserved_first", "HECATE_E_FILE_RESERVED", _patch(144, b"\x01", recompute_crc=True)),
    ("reserved_last", "HECATE_E_FILE_RESERVED", _patch(255, b"\x80", recompute_crc=True)),
    ("config_vocab_1", "HECATE_E_FILE_CONFIG", _header_u32(VOCAB, 1)),
    ("config_vocab_65537", "HECATE_E_FILE_CONFIG", _header_u32(VOCAB, 65537)),
    ("config_d_0", "HECATE_E_FILE_CONFIG", _header_u32(D_MODEL, 0)),
    ("config_d_4097", "HECATE_E_FILE_CONFIG", _header_u32(D_MODEL, 4097)),
    ("config_heads_0", "HECATE_E_FILE_CONFIG", _header_u32(N_HEADS, 0)),
    ("config_heads_not_dividing", "HECATE_E_FILE_CONFIG", _header_u32(N_HEADS, 3)),
    ("config_heads_above_d", "HECATE_E_FILE_CONFIG", _header_u32(N_HEADS, 16)),
    ("config_window_0", "HECATE_E_FILE_CONFIG", _header_u32(WINDOW, 0)),
    ("config_window_4097", "HECATE_E_FILE_CONFIG", _header_u32(WINDOW, 4097)),
    ("config_levels_0", "HECATE_E_FILE_CONFIG", _header_u32(LEVELS, 0)),
    ("config_levels_2", "HECATE_E_FILE_CONFIG", _header_u32(LEVELS, 2)),
    ("config_flags_bit1", "HECATE_E_FILE_CONFIG", _header_u32(FLAGS, 3)),  # gates need 2 levels
    ("config_flags_bit2", "HECATE_E_FILE_CONFIG", _gated_flags(7, True)),
    ("config_flags_bit5", "HECATE_E_FILE_CONFIG", _header_u32(FLAGS, 1 | 32)),  # beyond the known bits
    ("rope_odd_head_dim", "HECATE_E_FILE_CONFIG", _rope_heads(8)),  # head width 1: no pairs to turn
    ("freq_gates_one_level", "HECATE_E_FILE_CONFIG", _header_u32(FLAGS, 2)),
    ("freq_gates_tensors_missing", "HECATE_E_FILE_TENSOR_COUNT", _gated_flags(3, False)),
    ("freq_gates_flag_cleared", "HECATE_E_FILE_TENSOR_COUNT", _gated_flags(1, True)),
    ("freq_w_wrong_shape", "HECATE_E_FILE_TENSOR_SHAPE", _gated_entry("blk0.mem1.freq_w", E_SHAPE, 9)),
    ("freq_b_named_wrong", "HECATE_E_FILE_TENSOR_NAME", _gated_entry("blk0.mem1.freq_b", 0, 0x66)),
    ("conv_flag_without_kernel", "HECATE_E_FILE_CONFIG", _conv_header(5, 0)),
    ("conv_kernel_1", "HECATE_E_FILE_CONFIG", _conv_header(5, 1)),
    ("conv_kernel_9", "HECATE_E_FILE_CONFIG", _conv_header(5, 9)),
    ("conv_kernel_huge", "HECATE_E_FILE_CONFIG", _conv_header(5, 0xFFFFFFFF)),
    ("conv_kernel_without_flag", "HECATE_E_FILE_CONFIG", _conv_header(1, 4)),
    ("conv_kernel_without_flag_or_tensors", "HECATE_E_FILE_CONFIG", _conv_header(1, 4, valid_model)),
    ("conv_flag_without_tensors", "HECATE_E_FILE_TENSOR_COUNT", _conv_header(5, 4, valid_model)),
    ("conv_kernel_other_than_tensors", "HECATE_E_FILE_TENSOR_SHAPE", _conv_header(5, 3)),
    ("conv_tensor_misplaced", "HECATE_E_FILE_TENSOR_NAME",
     _entry_name("blk0.mem0.conv_k", b"blk0.mem0.conv_v".ljust(40, b"\0"), conv_model)),
    ("conv_tensor_int8", "HECATE_E_FILE_TENSOR_DTYPE", _conv_entry("blk0.mem0.conv_q", E_DTYPE, 2)),
    ("conv_tensor_nan", "HECATE_E_FILE_NONFINITE", _tensor_value("blk0.mem0.conv_v", math.nan, conv_model)),
    ("config_layers_0", "HECATE_E_FILE_CONFIG", _header_u32(LAYERS, 0)),
    ("config_layers_5", "HECATE_E_FILE_CONFIG", _header_u32(LAYERS, 5)),
    ("config_layers_2_tensors_of_1", "HECATE_E_FILE_TENSOR_COUNT", _header_u32(LAYERS, 2)),
    ("config_period0_2", "HECATE_E_FILE_CONFIG", _header_u32(PERIODS, 2)),
    ("config_period_unused_set", "HECATE_E_FILE_CONFIG", _header_u32(PERIODS + 4, 1)),
    ("config_levels_5", "HECATE_E_FILE_CONFIG", _levels(5, (1, 8, 64, 512, 4096))),
    ("config_level_period_0", "HECATE_E_FILE_CONFIG", _levels(2, (1, 0))),
    ("config_level_period_65537", "HECATE_E_FILE_CONFIG", _levels(2, (1, 65537))),
    ("config_levels_2_tensors_of_1", "HECATE_E_FILE_TENSOR_COUNT", _levels(2, (1, 8))),
    ("config_mac_levels_2_without_mixing", "HECATE_E_FILE_TENSOR_COUNT", _mac_without_mixing),
    ("config_rule_param_nan", "HECATE_E_FILE_CONFIG", _rule_param(math.nan)),
    ("config_rule_param_inf", "HECATE_E_FILE_CONFIG", _rule_param(math.inf)),
    ("config_rule_param_unused_set", "HECATE_E_FILE_CONFIG", _rule_param(1.0)),
    ("config_mlp_hidden_0", "HECATE_E_FILE_CONFIG", _rule_param(0.0, "moneta", 0)),
    ("config_mlp_hidden_fraction", "HECATE_E_FILE_CONFIG", _rule_param(2.5, "yaad", 0)),
    ("config_mlp_hidden_4097", "HECATE_E_FILE_CONFIG", _rule_param(4097.0, "memora", 0)),
    ("config_moneta_p_below_1", "HECATE_E_FILE_CONFIG", _rule_param(0.5, "moneta", 1)),
    ("config_moneta_lambda_negative", "HECATE_E_FILE_CONFIG", _rule_param(-0.1, "moneta", 2)),
    ("config_yaad_delta_0", "HECATE_E_FILE_CONFIG", _rule_param(0.0, "yaad", 1)),
    ("config_yaad_grad_bound_negative", "HECATE_E_FILE_CONFIG", _rule_param(-1.0, "yaad", 4)),
    ("config_moneta_grad_bound_above_1e6", "HECATE_E_FILE_CONFIG", _rule_param(2e6, "moneta", 4)),
    ("config_moneta_w1_scale_negative", "HECATE_E_FILE_CONFIG", _rule_param(-1.0, "moneta", 3)),
    ("config_yaad_w1_scale_above_1e6", "HECATE_E_FILE_CONFIG", _rule_param(2e6, "yaad", 3)),
    ("config_moneta_unused_param_set", "HECATE_E_FILE_CONFIG", _rule_param(1.0, "moneta", 5)),
    ("config_memora_unused_param_set", "HECATE_E_FILE_CONFIG", _rule_param(1.0, "memora", 1)),
    ("retention_unknown_id", "HECATE_E_FILE_RETENTION", _retention(9, 0.0)),
    ("retention_kl_for_delta", "HECATE_E_FILE_RETENTION", _retention(2, 0.0)),
    ("retention_sphere_for_moneta", "HECATE_E_FILE_RETENTION", _retention(4, 0.0, "moneta")),
    ("retention_l2_for_lattice", "HECATE_E_FILE_RETENTION", _retention(1, 0.0, "lattice")),
    ("retention_param_for_l2", "HECATE_E_FILE_CONFIG", _retention(1, 0.5)),
    ("retention_param_for_default", "HECATE_E_FILE_CONFIG", _retention(0, 0.5, "memora")),
    ("retention_elastic_lambda_0", "HECATE_E_FILE_CONFIG", _retention(3, 0.0)),
    ("retention_elastic_lambda_negative", "HECATE_E_FILE_CONFIG", _retention(3, -1.0, "yaad")),
    ("retention_elastic_lambda_nan", "HECATE_E_FILE_CONFIG", _retention(3, math.nan)),
    ("retention_elastic_lambda_inf", "HECATE_E_FILE_CONFIG", _retention(3, math.inf, "titans")),
    ("composition", "HECATE_E_FILE_COMPOSITION", _header_u32(COMPOSITION, 3)),
    ("rule", "HECATE_E_FILE_RULE", _header_u32(RULE, 99)),
    ("tensor_count_less", "HECATE_E_FILE_TENSOR_COUNT", _header_u32(COUNT, 10)),
    ("tensor_count_more", "HECATE_E_FILE_TENSOR_COUNT", _header_u32(COUNT, 12)),
    ("tensor_count_huge", "HECATE_E_FILE_TENSOR_COUNT", _header_u32(COUNT, 0xFFFFFFFF)),
    ("tensor_name_wrong", "HECATE_E_FILE_TENSOR_NAME", _entry_name("emb", b"emx".ljust(40, b"\0"))),
    ("tensor_name_misplaced", "HECATE_E_FILE_TENSOR_NAME",
     _entry_name("blk0.attn.wq", b"blk0.attn.wk".ljust(40, b"\0"))),
    ("tensor_name_no_nul", "HECATE_E_FILE_TENSOR_NAME", _entry_name("head", b"h" * 40)),
    ("tensor_name_junk_after_nul", "HECATE_E_FILE_TENSOR_NAME",
     _entry_name("head", b"head\0x".ljust(40, b"\0"))),
    ("tensor_dtype_unknown", "HECATE_E_FILE_TENSOR_DTYPE", _entry_field("emb", E_DTYPE, "<I", 7)),
    ("tensor_dtype_mixed", "HECATE_E_FILE_TENSOR_DTYPE",
     _entry_field("blk0.attn.wk", E_DTYPE, "<I", _other_dtype)),
    ("tensor_rank_0", "HECATE_E_FILE_TENSOR_SHAPE", _entry_field("emb", E_RANK, "<I", 0)),
    ("tensor_rank_5", "HECATE_E_FILE_TENSOR_SHAPE", _entry_field("emb", E_RANK, "<I", 5)),
    ("tensor_rank_3", "HECATE_E_FILE_TENSOR_SHAPE", _entry_field("emb", E_RANK, "<I", 3)),
    ("tensor_shape_wrong_dim", "HECATE_E_FILE_TENSOR_SHAPE",
     _entry_field("blk0.mem0.gate_w", E_SHAPE, "<I", 16)),
    ("tensor_unused_dim_not_1", "HECATE_E_FILE_TENSOR_SHAPE",
     _entry_field("blk0.mem0.gate_b", E_SHAPE + 4, "<I", 2)),
    ("tensor_size", "HECATE_E_FILE_TENSOR_SIZE",
     _entry_field("blk0.attn.wv", E_BYTES, "<Q", lambda buf, old: old - 4)),
    ("tensor_range_past_end", "HECATE_E_FILE_TENSOR_RANGE", _entry_field("head", E_OFFSET, "<Q", _past_end)),
    ("tensor_range_overflow", "HECATE_E_FILE_TENSOR_RANGE",
     _entry_field("head", E_OFFSET, "<Q", 2**64 - 64)),
    ("tensor_align", "HECATE_E_FILE_TENSOR_ALIGN", _entry_field("emb", E_OFFSET, "<Q", lambda buf, old: old - 4)),
    ("tensor_overlap_header", "HECATE_E_FILE_TENSOR_OVERLAP", _entry_field("emb", E_OFFSET, "<Q", 0)),
    ("tensor_overlap_directory", "HECATE_E_FILE_TENSOR_OVERLAP",
     _entry_field("emb", E_OFFSET, "<Q", HEADER_BYTES + 64)),
    ("tensor_overlap_tensor", "HECATE_E_FILE_TENSOR_OVERLAP",
     _entry_field("blk0.attn.wk", E_OFFSET, "<Q", _same_offset_as("blk0.attn.wq"))),
    ("two_faults_overlap_and_name", "HECATE_E_FILE_TENSOR_NAME", _overlap_then_bad_name),
    ("nonfinite_nan", "HECATE_E_FILE_NONFINITE", _tensor_value("head", math.nan)),
    ("nonfinite_inf", "HECATE_E_FILE_NONFINITE", _tensor_value("blk0.mem0.gate_b", -math.inf)),
    ("int8_truncated", "HECATE_E_FILE_TRUNCATED", lambda dtype="f32": valid_model(dtype, quantize="int8")[:-8]),
    ("int8_scale_count_short", "HECATE_E_FILE_TENSOR_SIZE",
     _int8_entry("blk0.attn.wq", E_BYTES, "<Q", lambda buf, old: old - 4)),
    ("int8_scale_count_long", "HECATE_E_FILE_TENSOR_SIZE",
     _int8_entry("emb", E_BYTES, "<Q", lambda buf, old: old + 4)),
    ("int8_for_gate_weights", "HECATE_E_FILE_TENSOR_DTYPE", _entry_field("blk0.mem0.gate_w", E_DTYPE, "<I", 2)),
    ("int8_for_a_vector", "HECATE_E_FILE_TENSOR_DTYPE", _entry_field("blk0.mem0.gate_b", E_DTYPE, "<I", 2)),
    ("int8_past_end", "HECATE_E_FILE_TENSOR_RANGE", _int8_entry("head", E_OFFSET, "<Q", _past_end)),
    ("int8_overlap", "HECATE_E_FILE_TENSOR_OVERLAP",
     _int8_entry("blk0.attn.wk", E_OFFSET, "<Q", _same_offset_as("blk0.attn.wq"))),
    ("int8_scale_nan", "HECATE_E_FILE_TENSOR_SCALE", _int8_scale("head", 0, math.nan)),
    ("int8_scale_inf", "HECATE_E_FILE_TENSOR_SCALE", _int8_scale("emb", 3, math.inf)),
    ("int8_scale_zero", "HECATE_E_FILE_TENSOR_SCALE", _int8_scale("blk0.mem0.wq", 7, 0.0)),
    ("int8_scale_negative", "HECATE_E_FILE_TENSOR_SCALE", _int8_scale("blk0.attn.wo", 2, -0.01)),
    ("int8_data_faults_in_tensor_order", "HECATE_E_FILE_NONFINITE", _nonfinite_gate_then_bad_scale),
    # dtype 3 (int8 with int16 activations, MATH §1.1): only for a matrix that multiplies
    ("int8_a16_for_the_embedding", "HECATE_E_FILE_TENSOR_DTYPE", _int8_entry("emb", E_DTYPE, "<I", 3)),
    ("int8_a16_for_gate_weights", "HECATE_E_FILE_TENSOR_DTYPE", _entry_field("blk0.mem0.gate_w", E_DTYPE, "<I", 3)),
    ("unknown_dtype_4", "HECATE_E_FILE_TENSOR_DTYPE", _int8_entry("head", E_DTYPE, "<I", 4)),
]
