"""The C reader (hecate_model_open) against every corrupt-file case of
malformed_cases.py: each gives its own named status and no crash, in the
float and the double build; the same cases hold the Python reader."""
import pytest

from hecate_edge.runtime import HecateError, Model
from malformed_cases import CASES, valid_model


@pytest.mark.parametrize("precision", ["f32", "f64"])
@pytest.mark.parametrize("case,code,build", CASES, ids=[c[0] for c in CASES])
def test_c_reader_names_the_fault(case, code, build, precision):
    data = build(precision)
    with pytest.raises(HecateError) as err:
        Model(data, precision=precision)
    assert err.value.name == code, f"{case}: C said {err.value.name}, expected {code}"


@pytest.mark.parametrize("precision", ["f32", "f64"])
def test_valid_file_opens(precision):
    Model(valid_model(precision), precision=precision)


def test_float_build_refuses_double_tensors():
    with pytest.raises(HecateError) as err:
        Model(valid_model("f64"), precision="f32")
    assert err.value.name == "HECATE_E_FILE_TENSOR_DTYPE"


def test_every_truncation_is_caught():
    data = valid_model("f32")
    for n in range(0, len(data), 37):
        with pytest.raises(HecateError) as err:
            Model(data[:n])
        assert err.value.name in ("HECATE_E_FILE_TRUNCATED",), n
