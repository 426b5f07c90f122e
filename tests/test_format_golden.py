"""Format versioning: the golden set of every pair of versions,
tests/data/golden/model<M>_state<S>/ (tools/make_format_golden.py; never
written here), must load in this runtime and give its pinned logits, from
the start and resumed from its saved state blob.  For the current versions
the writer must still write the same bytes and the runtime save the same blob
layout: a layout change bumps a version and adds a folder beside the old ones
(docs/FORMAT.md, "Versions")."""
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from hecate_edge.format import VERSION, read_model, write_model
from hecate_edge.runtime import Model
from parity import assert_close

GOLDEN = Path(__file__).resolve().parent / "data" / "golden"
FOLDERS = sorted(GOLDEN.glob("model*_state*"))
CASES = [(folder.name, path.stem) for folder in FOLDERS for path in sorted(folder.glob("*.hct"))]
# the state blob version this runtime writes (runtime_c/src/state.c)
STATE_VERSION = struct.unpack_from("<I", Model(next(GOLDEN.rglob("*.hct")).read_bytes()).session().save_state(), 8)[0]
CURRENT = [case for case in CASES if case[0] == f"model{VERSION}_state{STATE_VERSION}"]
STATE_HEADER = 56  # docs/FORMAT.md: the blob's payload starts here


def versions(folder: str) -> tuple[int, int]:
    """(model file version, state blob version) of a golden folder's name."""
    model, state = folder.removeprefix("model").split("_state")
    return int(model), int(state)


def load(version: str, name: str):
    """(model bytes, state blob, prompt tokens, split, expected logits of prompt[split:])."""
    folder = GOLDEN / version
    expected = np.load(folder / "expected.npz")
    return ((folder / f"{name}.hct").read_bytes(), (folder / f"{name}.state").read_bytes(),
            expected["prompt"], int(expected["split"]), expected[name])


def test_golden_sets_are_complete_and_small():
    assert CURRENT, f"no golden set of the current versions (model {VERSION}, state {STATE_VERSION})"
    for folder in FOLDERS:
        models = {p.stem for p in folder.glob("*.hct")}
        assert models == {p.stem for p in folder.glob("*.state")}
        assert models | {"prompt", "split"} == set(np.load(folder / "expected.npz").files)
    assert {p.name for p in GOLDEN.iterdir()} == {f.name for f in FOLDERS}
    assert sum(p.stat().st_size for p in GOLDEN.rglob("*") if p.is_file()) < 200_000


@pytest.mark.parametrize("version,name", CASES)
def test_golden_model_gives_its_logits(version, name):
    data, _, prompt, split, want = load(version, name)
    model = Model(data)
    assert model.info["format_version"] == versions(version)[0]
    assert_close(model.session().process(prompt)[split:], want, 1e-5, f"{version}/{name} from the start")


@pytest.mark.parametrize("version,name", CASES)
def test_golden_state_resumes_to_its_logits(version, name):
    data, blob, prompt, split, want = load(version, name)
    assert struct.unpack_from("<I", blob, 8)[0] == versions(version)[1]
    session = Model(data).session()
    session.load_state(blob)
    assert session.position == split
    assert_close(session.process(prompt[split:]), want, 1e-5, f"{version}/{name} resumed from its state")


@pytest.mark.parametrize("version,name", CASES)
def test_golden_state_matters(version, name):
    """The pins can catch a misread blob: without the state, or with the
    first memory's state zeroed, the logits move well past the tolerance."""
    data, blob, prompt, split, want = load(version, name)
    model = Model(data)
    fresh = model.session().process(prompt[split:])
    forgetful = model.session()
    n_memory = int(np.prod(model.memory_shape)) * 4
    zeroed = bytearray(blob)
    zeroed[STATE_HEADER:STATE_HEADER + n_memory] = bytes(n_memory)
    struct.pack_into("<I", zeroed, 24, zlib.crc32(zeroed[28:]))
    forgetful.load_state(bytes(zeroed))
    for got, what in ((fresh, "without the state"), (forgetful.process(prompt[split:]), "memory zeroed")):
        with pytest.raises(AssertionError):
            assert_close(got, want, 1e-3, what)


@pytest.mark.parametrize("version,name", CURRENT)
def test_writer_still_writes_golden_bytes(version, name):
    data = load(version, name)[0]
    cfg, tensors, header = read_model(data)
    quantize = "int8" if any(e["dtype"] == "i8" for e in header["tensors"]) else None
    assert write_model(cfg, tensors, "f32", quantize=quantize) == data, \
        f"the writer's bytes for {name} changed: a layout change bumps VERSION (docs/FORMAT.md)"


@pytest.mark.parametrize("version,name", CURRENT)
def test_runtime_still_saves_golden_state_layout(version, name):
    data, blob, prompt, split, _ = load(version, name)
    session = Model(data).session()
    session.process(prompt[:split], want_logits=False)
    saved = session.save_state()
    assert len(saved) == len(blob) and saved[:24] + saved[28:STATE_HEADER] == blob[:24] + blob[28:STATE_HEADER], \
        f"the state blob header of {name} changed: a layout change bumps the state version (docs/FORMAT.md)"
    assert_close(np.frombuffer(saved[STATE_HEADER:], np.float32), np.frombuffer(blob[STATE_HEADER:], np.float32),
                 1e-5, f"{name}: state payload")
