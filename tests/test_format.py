"""Tests of the model file writer/reader (hecate_edge/format.py) and ModelConfig (config.py).

Round trips in f32 and f64, the exact byte layout of docs/FORMAT.md, and every
corrupt-file case of malformed_cases.py against read_model's status names.
"""
import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from malformed_cases import CASES, SMALL, fix_crc, valid_model

from hecate_edge.config import ModelConfig, param_count, tensor_specs
from hecate_edge.format import FormatError, describe, header_config, read_model, write_model
from hecate_edge.reference.init import init_params

HEADER_H = Path(__file__).resolve().parents[1] / "runtime_c" / "include" / "hecate.h"


@pytest.mark.parametrize("dtype, np_dtype", [("f32", np.float32), ("f64", np.float64)])
def test_round_trip(dtype, np_dtype):
    cfg = ModelConfig(vocab=40, d_model=12, n_heads=3, window=5, qk_norm=False)
    params = init_params(cfg, seed=4)
    data = write_model(cfg, params, dtype)
    read_cfg, tensors, header = read_model(data)
    assert read_cfg == cfg
    assert list(tensors) == [name for name, _ in tensor_specs(cfg)]
    for name, value in params.items():
        assert tensors[name].dtype == np_dtype
        assert np.array_equal(tensors[name], value.astype(np_dtype)), name
    assert header["dtype"] == dtype and header["file_size"] == len(data)
    assert header["crc32"] == zlib.crc32(data[28:])
    assert write_model(read_cfg, tensors, dtype) == data


def test_layout_matches_format_md():
    data = valid_model("f32")
    assert data[:8] == b"HCTMODEL"
    assert struct.unpack_from("<IIQ", data, 8) == (1, 0x01020304, len(data))
    assert data[12:16] == bytes([4, 3, 2, 1])
    assert struct.unpack_from("<I", data, 24)[0] == zlib.crc32(data[28:])
    count, vocab, d, heads, window, comp, rule, levels, flags, layers, retention = \
        struct.unpack_from("<11I", data, 28)
    assert (count, vocab, d, heads, window) == (11, 16, 8, 2, 4)
    assert (comp, rule, levels, flags, layers, retention) == (0, 0, 1, 1, 1, 1)  # delta: L2 decay
    assert struct.unpack_from("<8I", data, 72) == (1, 0, 0, 0, 0, 0, 0, 0)
    assert struct.unpack_from("<8f", data, 104) == (0.0,) * 8
    assert struct.unpack_from("<f", data, 136) == (0.0,)  # no elastic net
    assert data[140:256] == bytes(116)
    previous_end = 256 + 80 * 11
    for index, (name, shape) in enumerate(tensor_specs(SMALL)):
        raw, dtype_id, rank, *dims, offset, nbytes = struct.unpack_from("<40sII4IQQ", data, 256 + 80 * index)
        assert raw == name.encode().ljust(40, b"\0")
        assert (dtype_id, rank) == (0, len(shape))
        assert tuple(dims) == shape + (1,) * (4 - len(shape))
        assert offset % 64 == 0 and offset >= previous_end
        assert nbytes == 4 * int(np.prod(shape))
        previous_end = offset + nbytes
    assert previous_end == len(data)


def test_writer_rejects_bad_input():
    params = init_params(SMALL, seed=0)
    with pytest.raises(ValueError):
        write_model(SMALL, params, "bf16")
    with pytest.raises(ValueError):
        write_model(SMALL, {k: v for k, v in params.items() if k != "head"})
    bad = dict(params, head=params["head"].T)
    with pytest.raises(ValueError, match="head"):
        write_model(SMALL, bad)
    nan = dict(params, emb=np.full_like(params["emb"], np.nan))
    with pytest.raises(ValueError, match="emb"):
        write_model(SMALL, nan)
    huge = dict(params, emb=np.full_like(params["emb"], 1e300))
    with pytest.raises(ValueError, match="emb"):
        write_model(SMALL, huge, "f32")


def test_malformed_case_names_are_unique_and_codes_exist_in_header():
    names = [name for name, _, _ in CASES]
    assert len(names) == len(set(names))
    declared = set(re.findall(r"\b(HECATE_E_FILE_\w+)\s*=", HEADER_H.read_text()))
    assert {code for _, code, _ in CASES} == declared  # every file status is exercised


@pytest.mark.parametrize("dtype", ["f32", "f64"])
@pytest.mark.parametrize("case_name, code, build", CASES, ids=[c[0] for c in CASES])
def test_read_model_rejects_malformed(case_name, code, build, dtype):
    data = build(dtype)
    assert data != valid_model(dtype)
    with pytest.raises(FormatError) as caught:
        read_model(data)
    assert caught.value.name == code, caught.value.message


@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_valid_model_passes(dtype):
    cfg, _, header = read_model(valid_model(dtype), dtype=dtype)
    assert cfg == SMALL and header["dtype"] == dtype


def test_reader_of_one_build_type_rejects_the_other():
    with pytest.raises(FormatError) as caught:
        read_model(valid_model("f64"), dtype="f32")
    assert caught.value.name == "HECATE_E_FILE_TENSOR_DTYPE"
    with pytest.raises(FormatError) as caught:
        read_model(valid_model("f32"), dtype="f64")
    assert caught.value.name == "HECATE_E_FILE_TENSOR_DTYPE"


def test_check_order_magic_before_size_and_crc_before_config():
    buf = bytearray(valid_model("f32"))
    buf[0] = ord("X")
    struct.pack_into("<Q", buf, 16, 3)
    with pytest.raises(FormatError, match="MAGIC"):
        read_model(bytes(buf))
    buf = bytearray(valid_model("f32"))
    struct.pack_into("<I", buf, 36, 0)  # d_model 0 without fixing the CRC
    with pytest.raises(FormatError) as caught:
        read_model(bytes(buf))
    assert caught.value.name == "HECATE_E_FILE_CRC"


def test_reader_accepts_bytearray_and_memoryview():
    data = valid_model("f32")
    assert read_model(bytearray(data))[0] == SMALL
    assert read_model(memoryview(data))[0] == SMALL


def test_describe_valid_file():
    summary = describe(valid_model("f64"))
    assert summary["crc"]["ok"] and summary["problem"] is None
    assert summary["config"] == SMALL.to_dict()
    assert [row["name"] for row in summary["tensors"]] == [n for n, _ in tensor_specs(SMALL)]
    emb = summary["tensors"][0]
    assert (emb["dtype"], emb["shape"], emb["bytes"], emb["offset"] % 64) == ("f64", (16, 8), 16 * 8 * 8, 0)
    assert summary["header"]["n_tensors"] == 11


def test_rope_flag_round_trips_and_describe_shows_it():
    """MATH §2 rotary positions: header flag bit 3 <-> ModelConfig.rope, in describe too."""
    from dataclasses import replace as changed
    cfg = changed(SMALL, rope=True)
    data = write_model(cfg, init_params(cfg, seed=0))
    assert cfg.flags == SMALL.flags | 8 and struct.unpack_from("<I", data, 60)[0] == cfg.flags
    assert read_model(data)[0] == cfg and header_config(data).rope
    assert describe(data)["config"]["rope"] is True and describe(valid_model("f32"))["config"]["rope"] is False


def test_describe_reports_bad_crc_without_raising():
    buf = bytearray(valid_model("f32"))
    buf[-1] ^= 1
    summary = describe(bytes(buf))
    assert summary["crc"]["ok"] is False
    assert summary["crc"]["recorded"] != summary["crc"]["computed"]
    assert summary["config"] == SMALL.to_dict() and summary["problem"] is None


def test_describe_reports_later_problems():
    buf = bytearray(valid_model("f32"))
    struct.pack_into("<I", buf, 52, 99)
    summary = describe(fix_crc(buf))
    assert summary["crc"]["ok"]
    assert summary["problem"]["name"] == "HECATE_E_FILE_RULE"
    with pytest.raises(FormatError, match="MAGIC"):
        describe(b"NOTAMODEL" * 40)


# ---------------------------------------------------------------- ModelConfig

def test_config_defaults_and_specs():
    cfg = ModelConfig()  # D37: MAL, 4-tap convolution, rotary positions, bounded steps
    assert (cfg.vocab, cfg.d_model, cfg.n_heads, cfg.window, cfg.head_dim) == (256, 64, 4, 16, 16)
    assert (cfg.rule_id, cfg.composition_id, cfg.n_gates, cfg.flags) == (0, 1, 2, 1 | 4 | 8 | 16)
    specs = tensor_specs(cfg)
    assert [n for n, _ in specs] == ["emb", "blk0.attn.wq", "blk0.attn.wk", "blk0.attn.wv", "blk0.attn.wo",
                                     "blk0.mem0.wk", "blk0.mem0.wv", "blk0.mem0.wq", "blk0.mem0.conv_k",
                                     "blk0.mem0.conv_v", "blk0.mem0.conv_q", "blk0.mem0.gate_w",
                                     "blk0.mem0.gate_b", "head"]
    assert dict(specs)["blk0.mem0.gate_w"] == (2, 128) and dict(specs)["blk0.mem0.gate_b"] == (2,)
    assert param_count(cfg) == 2 * 256 * 64 + 7 * 64 * 64 + 3 * 4 * 64 + 2 * 128 + 2


def test_config_dict_round_trip():
    cfg = ModelConfig(vocab=100, d_model=32, n_heads=8, window=7, qk_norm=False)
    as_dict = cfg.to_dict()
    assert as_dict["periods"] == [1]
    assert ModelConfig.from_dict(as_dict) == cfg
    with pytest.raises(ValueError, match="unknown"):
        ModelConfig.from_dict(dict(as_dict, colour="red"))


@pytest.mark.parametrize("changes", [
    {"vocab": 1}, {"vocab": 65537}, {"d_model": 0}, {"d_model": 4097}, {"n_heads": 0},
    {"n_heads": 3}, {"window": 0}, {"window": 4097}, {"composition": "mat"}, {"rule": "titans9"},
    {"n_levels": 5}, {"n_levels": 2, "periods": (1, 65537)}, {"n_layers": 0}, {"n_layers": 5}, {"retention": "kl"},
    {"retention": "sphere", "rule": "moneta"}, {"retention": "l2", "rule": "lattice"}, {"retention": "ridge"},
    {"retention": "elastic_net", "retention_param": 0.0}, {"retention": "l2", "retention_param": 0.1},
    {"retention": "elastic_net", "retention_param": float("nan")}, {"periods": (2,)}, {"periods": (1, 1)},
    {"rule_params": (1.0,)}, {"qk_norm": 1}, {"vocab": 2.5}, {"d_model": True},
    {"rope": True, "d_model": 12, "n_heads": 4}, {"rope": 1},
])
def test_config_rejects_out_of_range(changes):
    with pytest.raises(ValueError):
        ModelConfig(**changes)


def test_config_extremes_accepted():
    ModelConfig(vocab=2, d_model=1, n_heads=1, window=1)
    ModelConfig(vocab=65536, d_model=4096, n_heads=4096, window=4096)
