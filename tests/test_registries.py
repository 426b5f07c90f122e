"""The C runtime's rule and composition registries agree with the Python ones
(reference/rules RULES, reference/compositions COMPOSITIONS, whose ids
config.COMPOSITIONS lists), through what hecate.h exposes: ids, gate counts,
state sizes and init, tensors, window entries, retentions, parameter verdicts."""
import struct
from dataclasses import replace

import numpy as np
import pytest

from hecate_edge.config import COMPOSITIONS, ModelConfig, tensor_specs
from hecate_edge.reference.compositions import composition_by_name
from hecate_edge.format import write_model
from hecate_edge.reference.init import init_params
from hecate_edge.reference.retention import RETENTION_IDS
from hecate_edge.reference.retention import resolve as resolve_retention
from hecate_edge.reference.rules import RULES, RULES_BY_ID, resolve_params, rule_tensor_specs
from hecate_edge.runtime import HecateError, Model, load_library
from conftest import ALL_RULES, lively_params
from malformed_cases import COMPOSITION, RETENTION, RULE, SMALL, fix_crc, valid_model

IDS_SCANNED = range(64)  # a C-only rule or composition added below this id is caught
WIDTHS = (5, 8)


def c_rule_shape(rule_id: int, d: int, params=(), retention: int = 0, retention_param: float = 0.0,
                 period: int = 1, precision: str = "f32"):
    """(status name or None, n_gates, state_len) of hecate_rule_shape for this spec."""
    binding = load_library(precision)
    ffi = binding.ffi
    spec = ffi.new("hecate_rule_spec *", {"rule": rule_id, "d": d, "params": list(params), "retention": retention,
                                          "retention_param": retention_param, "period": period})
    n_gates, state_len, scratch_len = ffi.new("uint32_t *"), ffi.new("size_t *"), ffi.new("size_t *")
    status = binding.lib.hecate_rule_shape(spec, n_gates, state_len, scratch_len)
    return binding.status_names[status] if status else None, int(n_gates[0]), int(state_len[0])


def open_status(data: bytes) -> str | None:
    """None when the C reader opens the file, else the status name it gives."""
    try:
        Model(data)
    except HecateError as err:
        return err.name
    return None


def with_header_u32(data: bytes, offset: int, value: int) -> bytes:
    buf = bytearray(data)
    struct.pack_into("<I", buf, offset, value)
    return fix_crc(buf)


def default_hp(module, d: int) -> dict:
    return dict(zip(module.PARAM_NAMES, resolve_params(module, d)))


def test_the_runtime_knows_exactly_the_python_rule_ids():
    for rule_id in IDS_SCANNED:
        status = open_status(with_header_u32(valid_model(), RULE, rule_id))
        assert (status == "HECATE_E_FILE_RULE") == (rule_id not in RULES_BY_ID), (rule_id, status)
        if rule_id not in RULES_BY_ID:
            assert c_rule_shape(rule_id, 8)[0] == "HECATE_E_BAD_ARG", rule_id


def test_the_runtime_knows_exactly_the_python_composition_ids():
    for composition_id in IDS_SCANNED:
        status = open_status(with_header_u32(valid_model(), COMPOSITION, composition_id))
        unknown = composition_id not in COMPOSITIONS.values()
        assert (status == "HECATE_E_FILE_COMPOSITION") == unknown, (composition_id, status)


@pytest.mark.parametrize("composition", sorted(COMPOSITIONS))
def test_a_composition_has_its_id_and_tensors_in_c(composition):
    cfg = replace(SMALL, composition=composition, n_levels=2, periods=(1, 4))
    model = Model(write_model(cfg, init_params(cfg, seed=0)))
    assert model.info["composition"] == COMPOSITIONS[composition]
    assert [(t.name, t.shape) for t in model.tensors] == tensor_specs(cfg)


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("composition", sorted(COMPOSITIONS))
def test_a_composition_has_its_window_entries_in_c(composition, layers):
    """The C session's state blob (FORMAT.md: header, memories, then each
    block's window of keys and values) holds WINDOW_ENTRIES rows per token."""
    cfg = replace(SMALL, composition=composition, n_layers=layers)
    model = Model(write_model(cfg, init_params(cfg, seed=0)))
    entries = composition_by_name(composition).WINDOW_ENTRIES
    reals = layers * (int(np.prod(model.memory_shape)) + 2 * cfg.window * entries * cfg.d_model)
    assert model.session().state_bytes == 56 + 4 * reals


@pytest.mark.parametrize("rule", ALL_RULES)
def test_a_rule_has_its_id_and_tensors_in_a_c_model(rule):
    cfg = replace(SMALL, rule=rule, qk_norm=None, rule_params=(), retention=None, retention_param=None)
    model = Model(write_model(cfg, init_params(cfg, seed=0)))
    assert model.info["rule"] == RULES[rule].RULE_ID
    assert [(t.name, t.shape) for t in model.tensors] == tensor_specs(cfg)


@pytest.mark.parametrize("d", WIDTHS)
@pytest.mark.parametrize("rule", ALL_RULES)
def test_a_rule_has_its_gates_state_and_tensors_in_the_op_api(rule, d):
    module = RULES[rule]
    hp = default_hp(module, d)
    params = tuple(hp.values())
    state = module.init_state(d, hp)
    for period, copies in ((1, 1), (4, 2)):
        assert c_rule_shape(module.RULE_ID, d, params, period=period) == (None, len(module.GATES),
                                                                         copies * state.size)
    binding = load_library("f64")
    ffi, lib = binding.ffi, binding.lib
    spec = ffi.new("hecate_rule_spec *", {"rule": module.RULE_ID, "d": d, "params": list(params)})
    c_state = np.empty(state.size)
    assert lib.hecate_rule_init(spec, ffi.cast("double *", ffi.from_buffer(c_state))) == 0
    np.testing.assert_allclose(c_state, state.ravel(), rtol=0, atol=1e-12, err_msg=f"{rule} init state")
    specs = rule_tensor_specs(module, d, hp)
    length = ffi.new("size_t *")
    for index, (_, shape) in enumerate(specs):
        assert lib.hecate_rule_tensor_len(spec, index, length) == 0
        assert length[0] == int(np.prod(shape)), (rule, index)
    assert binding.status_names[lib.hecate_rule_tensor_len(spec, len(specs), length)] == "HECATE_E_BAD_ARG"


@pytest.mark.parametrize("rule", ALL_RULES)
def test_a_rule_takes_the_same_retentions(rule):
    module = RULES[rule]
    params = resolve_params(module, 8)
    for name, retention_id in RETENTION_IDS.items():
        for lambda_1 in (0.0, 1e-3, -1e-3):
            try:
                resolve_retention(module, name, lambda_1)
                python_ok = True
            except ValueError:
                python_ok = False
            status = c_rule_shape(module.RULE_ID, 8, params, retention_id, lambda_1)[0]
            assert (status is None) == python_ok, (rule, name, lambda_1, status)


@pytest.mark.parametrize("rule", ALL_RULES)
def test_a_rule_has_the_same_default_retention(rule):
    """A file saying retention 0 (the rule's default, FORMAT.md) computes bit for bit
    what one naming the Python default computes."""
    cfg = replace(ModelConfig(vocab=16, d_model=8, n_heads=2, window=4), rule=rule, qk_norm=None,
                  rule_params=(), retention=None, retention_param=None)
    named = write_model(cfg, lively_params(cfg, seed=0))
    assert struct.unpack_from("<I", named, RETENTION)[0] == RETENTION_IDS[RULES[rule].RETENTION]
    tokens = np.arange(40) % 16
    logits = [Model(data).session().process(tokens) for data in (named, with_header_u32(named, RETENTION, 0))]
    np.testing.assert_array_equal(logits[0], logits[1])


def _probe_values(module, d: int) -> list[float]:
    """Hyper-parameter values around every bound a rule may check: signs, 1, d, the module's MAX_ constants."""
    bounds = [1.0, 2.0, 8.0, float(d), 4.0 * d] + [float(v) for k, v in vars(module).items()
                                                      if k.startswith("MAX_") and isinstance(v, int)]
    return sorted({-1.0, 0.0, 0.5, 1e6, *bounds, *(b - 1 for b in bounds), *(b + 0.5 for b in bounds),
                   *(b + 1 for b in bounds)})


@pytest.mark.parametrize("rule", [r for r in ALL_RULES if RULES[r].PARAM_NAMES])
def test_a_rule_gives_the_same_verdict_on_hyper_parameters(rule):
    module = RULES[rule]
    d = 8
    defaults = resolve_params(module, d)
    for index, name in enumerate(module.PARAM_NAMES):
        for value in _probe_values(module, d):
            params = tuple(float(np.float32(value)) if i == index else p for i, p in enumerate(defaults))
            try:
                module.check_params(d, params)
                python_ok = True
            except ValueError:
                python_ok = False
            status = c_rule_shape(module.RULE_ID, d, params)[0]
            assert (status is None) == python_ok, (rule, name, value, status)
