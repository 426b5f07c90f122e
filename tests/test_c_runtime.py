"""The C test programs of runtime_c/tests, built here with AddressSanitizer and
UBSan (the worker pool's also with ThreadSanitizer) and run on the committed
golden model (float and double builds), and every malformed-file case pushed
through the C reader under the sanitizers."""
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hecate_edge.format import read_model, write_model
from malformed_cases import CASES

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "data" / "golden.hct"
CC = shutil.which("gcc") or shutil.which("cc")
# float-cast-overflow: a float converted to an integer type it does not fit (not in gcc's "undefined")
SANITIZE = ["-fsanitize=address,undefined,float-cast-overflow", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]
# The flags every build of the runtime shares (runtime_c/flags.txt: its lines that start with '-').
SHARED_FLAGS = [line for line in (ROOT / "runtime_c" / "flags.txt").read_text().splitlines() if line.startswith("-")]
# mathfn.c with its lane-vector exp (vexp.c), for programs that test them alone
MATHFN_SOURCES = [str(ROOT / "runtime_c" / "src" / name) for name in ("mathfn.c", "vexp.c")]

pytestmark = pytest.mark.skipif(CC is None, reason="no C compiler on PATH")


# ThreadSanitizer, for the worker pool (runtime_c/host/hecate_threads.c)
TSAN = ["-fsanitize=thread", "-fno-omit-frame-pointer"]
HOST = ROOT / "runtime_c" / "host"


def build(program: str, precision: str, out_dir: Path, extra=(), sanitize: bool = True,
          sanitizers=SANITIZE, host=("hecate_host.c",)) -> Path:
    """Compile runtime_c/tests/<program>.c with the core, host layer files `host` and (by default)
    `sanitizers`."""
    exe = out_dir / "_".join((program, precision) + tuple(x.strip("-").replace("=", "-")
                                                          for x in (*extra, *(sanitizers if sanitize else ()))))
    real = "double" if precision == "f64" else "float"
    sources = sorted(str(p) for p in (ROOT / "runtime_c" / "src").rglob("*.c"))
    cmd = [CC, "-std=c99", "-D_POSIX_C_SOURCE=200112L", "-O1", "-g", *(sanitizers if sanitize else ()),
           *SHARED_FLAGS, f"-DHECATE_REAL={real}", *extra, f"-I{ROOT / 'runtime_c' / 'include'}", *sources,
           *(str(HOST / name) for name in host),
           str(ROOT / "runtime_c" / "tests" / f"{program}.c"), "-pthread", "-o", str(exe)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return exe


def run(cmd) -> subprocess.CompletedProcess:
    env = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0", "UBSAN_OPTIONS": "print_stacktrace=1"}
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize("arch", [(), ("-march=native",)], ids=["baseline", "native"])
@pytest.mark.parametrize("precision", ["f32", "f64"])
def test_c_unit_tests_pass_under_sanitizers(tmp_path, precision, arch):
    """On the golden model, and on its weights with rotary positions (MATH §2); also built for
    this machine's core (-march=native: fused multiply-adds where it has FMA, DECISIONS D77)."""
    from dataclasses import replace
    cfg, tensors, _ = read_model(GOLDEN.read_bytes())
    models = [GOLDEN, tmp_path / "golden_rope.hct"]
    models[1].write_bytes(write_model(replace(cfg, rope=True), tensors, dtype=precision))
    if precision == "f64":
        models[0] = tmp_path / "golden_f64.hct"
        models[0].write_bytes(write_model(cfg, tensors, dtype="f64"))
    exe = build("test_runtime", precision, tmp_path, extra=arch)
    for model in models:
        result = run([exe, model])
        assert result.returncode == 0, result.stdout + result.stderr
        assert "~~~ALL TESTS PASSED~~~" in result.stdout
        assert "runtime error" not in result.stderr  # UBSan


@pytest.mark.parametrize("precision,sanitizers", [("f32", SANITIZE), ("f64", SANITIZE), ("f32", TSAN)],
                         ids=["f32-address-undefined", "f64-address-undefined", "f32-thread"])
def test_worker_pool_and_batch_tasks_under_sanitizers(tmp_path, precision, sanitizers):
    """runtime_c/tests/test_threads.c: every task once over 2000 back-to-back runs and after the
    workers sleep, the failing task's status, a batch's gradients and mean bit for bit those of
    hecate_train_chunk and hecate_grads_mean one by one, on 1 to 4 workers; no data race."""
    exe = build("test_threads", precision, tmp_path, sanitizers=sanitizers, host=("hecate_host.c", "hecate_threads.c"))
    model = GOLDEN
    if precision == "f64":
        cfg, tensors, _ = read_model(GOLDEN.read_bytes())
        model = tmp_path / "golden_f64.hct"
        model.write_bytes(write_model(cfg, tensors, dtype="f64"))
    result = run([exe, model])
    if "unexpected memory mapping" in result.stderr:  # ThreadSanitizer on a kernel with high ASLR entropy
        result = run(["setarch", platform.machine(), "-R", exe, model])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "~~~ALL TESTS PASSED~~~" in result.stdout
    assert "runtime error" not in result.stderr and "WARNING: ThreadSanitizer" not in result.stderr


def test_malformed_files_under_sanitizers(tmp_path):
    files, expected = [], {}
    for name, code, make in CASES:
        path = tmp_path / f"{name}.hct"
        path.write_bytes(make("f32"))
        files.append(path)
        expected[str(path)] = code
    result = run([build("open_files", "f32", tmp_path), *files])
    assert result.returncode == 0, result.stderr
    assert "runtime error" not in result.stderr and "AddressSanitizer" not in result.stderr
    seen = dict(reversed(line.split(" ", 1)) for line in result.stdout.splitlines())
    assert seen == expected


@pytest.mark.parametrize("precision", ["f32", "f64"])
def test_rope_table_matches_numpy(tmp_path, precision):
    """MATH §2 rotary positions: the session's cos/sin table (built in double
    without libm, stored in the build's type) against numpy, for every offset
    of the longest window and a head of 16 (angles up to 4095 rad)."""
    import numpy as np
    from hecate_edge.reference.attention import rope_frequencies
    window, head_dim = 4096, 16
    exe = tmp_path / f"rope_table_{precision}"  # mathfn.c alone (and its lane exp): nothing else
    subprocess.run([CC, "-std=c99", "-O1", "-g", *SANITIZE, *SHARED_FLAGS,
                    f"-DHECATE_REAL={'double' if precision == 'f64' else 'float'}",
                    f"-I{ROOT / 'runtime_c' / 'include'}", *MATHFN_SOURCES,
                    str(ROOT / "runtime_c" / "tests" / "rope_table.c"), "-o", str(exe)],
                   check=True, capture_output=True, text=True)
    result = run([exe, window, head_dim])
    assert result.returncode == 0, result.stderr
    got = np.array(result.stdout.split(), dtype=np.float64).reshape(window, head_dim // 2, 2)
    angles = np.outer(np.arange(window), rope_frequencies(head_dim))
    tol = 1e-7 if precision == "f32" else 5e-13  # float: its rounding; double: a few ulp of angles < 4096
    assert np.abs(got[..., 0] - np.cos(angles)).max() <= tol
    assert np.abs(got[..., 1] - np.sin(angles)).max() <= tol


@pytest.mark.parametrize("arch", [(), ("-march=native",)], ids=["baseline", "native"])
def test_lane_exp_gives_the_scalar_bits(tmp_path, arch):
    """hct_exp_shifted's lane vectors (vexp.c: the attention softmax and the
    training loss, D57) give hct_exp's bits on every argument tried, inside
    and outside the vector range, at 4 lanes (SSE2) and the machine's own."""
    exe = tmp_path / "exp_lanes"
    subprocess.run([CC, "-std=c99", "-O2", *arch, *SHARED_FLAGS, f"-I{ROOT / 'runtime_c' / 'include'}",
                    *MATHFN_SOURCES, str(ROOT / "runtime_c" / "tests" / "exp_lanes.c"), "-o", str(exe)],
                   check=True, capture_output=True, text=True)
    result = run([exe])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"


def partial_blocks_model(tmp_path: Path, quantize) -> Path:
    """A file (float32, or int8 with quantize="int8" or "w8a16") whose matrices have
    whole and partial column blocks (d = 24, V = 200: 16 + 8 columns, twelve
    16s + 8), lively gates."""
    from dataclasses import replace
    from conftest import lively_params
    cfg = replace(read_model(GOLDEN.read_bytes(), "f32")[0], vocab=200, d_model=24, n_heads=2, window=4)
    path = tmp_path / f"{quantize or 'f32'}.hct"
    path.write_bytes(write_model(cfg, lively_params(cfg, 0), "f32", quantize=quantize))
    return path


def rope_model(tmp_path: Path, composition: str) -> Path:
    """Window attention with rotary positions at head width 16 (MATH §2), the
    default model (MAL, one entry a position) or MAC (two), d = 32, 2 heads:
    the lane-vector scores and value sums of swa.c (D60) on partial and full
    windows."""
    from conftest import lively_params
    from hecate_edge.config import ModelConfig
    cfg = ModelConfig(d_model=32, n_heads=2, composition=composition, rope=True)
    path = tmp_path / f"rope_{composition}.hct"
    path.write_bytes(write_model(cfg, lively_params(cfg, 0), "f32"))
    return path


@pytest.mark.parametrize("model", ["golden", "f32", "int8", "rope-mal", "rope-mac"])
@pytest.mark.parametrize("arch", [(), ("-march=native",)], ids=["baseline", "native"])
def test_vector_and_plain_kernels_agree_bit_for_bit(tmp_path, arch, model):
    """The lane-vector kernels and their plain-C fallback do the same arithmetic
    (for the baseline vector width and for the build machine's own); the
    fallback's kernels are the scalar ones of cores without SIMD (hct_linear
    and, at the baseline's four lanes, hct_dot in mathfn; the int8 one in
    qweights.c), here also on files with whole and partial column blocks; and
    so does hct_linear with two tokens per register block (wasm SIMD128's
    setting, mathfn.h) on chunks of 16 and a last chunk of 3, and with four
    lane vectors of columns per block instead of eight (D57), and with four
    vectors for two tokens on calls of several tokens (an AVX-512VL core's
    blocks, D82); and window attention's lane-vector scores, value sums
    (hct_vtree, D60) and the plain path's hct_dot, with rotary positions too;
    on float models the training backward's loss and gradients too."""
    text = "hecate_edge: the same bits with or without SIMD128."
    if model.startswith("rope-"):
        path = rope_model(tmp_path, model[5:])
    else:
        path = GOLDEN if model == "golden" else partial_blocks_model(tmp_path, None if model == "f32" else model)
    outputs = [run([build("dump_logits", "f32", tmp_path, arch + extra, sanitize=False), path, text]).stdout
               for extra in ((), ("-DHECATE_NO_VECTOR_EXT",), ("-DHECATE_LIN_TOKENS=2",), ("-DHECATE_LIN_VECS=4",),
                             ("-DHECATE_LIN_PAIR_VECS=4",))]
    trains = model != "int8"  # then a last line: one chunk's loss and gradients (dump_logits.c)
    assert outputs[0] and outputs[0].count("\n") == len(text) + trains
    assert all(out == outputs[0] for out in outputs[1:])


def test_w8a16_kernel_under_sanitizers(tmp_path):
    """The integer-dot kernel (w8a16.c, MATH §1.1) on whole and partial column blocks, and on
    a head whose products are subnormal (the 2^100 rescale), under ASan/UBSan, giving the
    unsanitized build's bits."""
    from dataclasses import replace
    from test_int8 import CFG, tiny_head_w8a16
    tiny = tmp_path / "tiny_head.hct"
    tiny.write_bytes(tiny_head_w8a16(replace(CFG, vocab=256)))  # the text's bytes are its tokens
    text = "int16 activations, int8 weights"
    sanitized, plain = build("dump_logits", "f32", tmp_path), build("dump_logits", "f32", tmp_path, ("-O2",),
                                                                      sanitize=False)
    for path in (partial_blocks_model(tmp_path, "w8a16"), tiny):
        checked = run([sanitized, path, text])
        assert checked.returncode == 0 and "runtime error" not in checked.stderr, checked.stderr
        assert checked.stdout == run([plain, path, text]).stdout


@pytest.mark.skipif(platform.machine() != "x86_64" or sys.platform != "linux",
                    reason="the 32-bit build check uses gcc -m32 on x86-64 Linux")
def test_32bit_build_refuses_arena_larger_than_size_t(tmp_path):
    """A d=1024 model with a 4095-token training arena needs ~17 GB: a 32-bit
    size_t cannot count it, so the query must say BAD_ARG instead of wrapping
    (and training then writing past a too-small arena)."""
    from hecate_edge.config import ModelConfig
    from hecate_edge.reference.init import init_params
    cfg = ModelConfig(d_model=1024, n_heads=16)
    model = tmp_path / "d1024.hct"
    model.write_bytes(write_model(cfg, init_params(cfg, 0)))
    exe32 = build("session_limits", "f32", tmp_path, ("-m32", "-msse2", "-mfpmath=sse"), sanitize=False)
    exe64 = build("session_limits", "f32", tmp_path, (), sanitize=False)
    assert run([exe32, model, 4095]).stdout.split()[0] == "HECATE_E_BAD_ARG"
    name, size = run([exe64, model, 4095]).stdout.split()
    assert name == "HECATE_OK" and int(size) > 2**34
    name, size = run([exe32, model, 16]).stdout.split()
    assert name == "HECATE_OK" and 0 < int(size) < 2**32


def test_readme_c_example_is_the_shipped_example_and_runs(tmp_path):
    """README's C block is runtime_c/examples/quickstart.c, which builds with
    the sanitizers and predicts the golden prompt's next byte as the golden
    logits do."""
    import re
    import numpy as np
    example = ROOT / "runtime_c" / "examples" / "quickstart.c"
    readme = (ROOT / "README.md").read_text()
    assert example.read_text() in re.findall(r"```c\n(.*?)```", readme, flags=re.S)
    exe = tmp_path / "quickstart"
    sources = sorted(str(p) for p in (ROOT / "runtime_c" / "src").rglob("*.c"))
    subprocess.run([CC, "-std=c99", "-O1", "-g", *SANITIZE, *SHARED_FLAGS,
                    f"-I{ROOT / 'runtime_c' / 'include'}", *sources, str(example),
                    "-o", str(exe)], check=True, capture_output=True, text=True)
    from test_golden import PROMPT
    prompt = PROMPT.decode()
    result = run([exe, GOLDEN, prompt])
    assert result.returncode == 0, result.stderr
    want = int(np.load(ROOT / "tests" / "data" / "golden_logits.npy")[-1].argmax())
    assert result.stdout.strip() == f"next byte after {len(prompt)} tokens: {want}"
