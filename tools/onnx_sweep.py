"""The ONNX export's parity over the repository's whole configuration sweep
(docs/ONNX.md "Coverage"): tests/test_parity.py's shapes x every rule case
x composition x CMS levels 1 and 2 x seeds, each exported, run call after call
in onnxruntime and compared with the C runtime (logits and every state
tensor, 1e-5) by tests/test_onnx.py's check_parity. CI runs a fast subset
(tests/test_onnx.py); this is the long form.

    PYTHONPATH=$PWD HECATE_EDGE_LIB_DIR=$PWD/build python3 tools/onnx_sweep.py [--seeds 3]
"""
import argparse
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from conftest import RULE_CASES, lively_params, rule_config  # noqa: E402
from test_onnx import COMPOSITIONS, check_parity  # noqa: E402
from test_parity import CONFIGS  # noqa: E402

from hecate_edge.format import write_model  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    failures, logit_failures, runs = [], [], 0
    for base in CONFIGS:
        for case in RULE_CASES:
            for composition in COMPOSITIONS:
                for levels in (1, 2):
                    cfg = replace(rule_config(base, case), composition=composition, n_levels=levels,
                                  periods=(1, 3)[:levels])
                    for seed in range(args.seeds):
                        runs += 1
                        label = f"d{cfg.d_model} w{cfg.window} {case} {composition} k{levels} seed {seed}"
                        data = write_model(cfg, lively_params(cfg, seed), dtype="f32")
                        try:
                            check_parity(data, seed=seed)
                        except AssertionError as err:
                            failures.append(f"{label}: {' '.join(str(err).split())[:160]}")
                            print("FAIL", failures[-1], flush=True)
                            try:  # do the logits of every call still match?
                                check_parity(data, seed=seed, states=False)
                                print("  its logits match over all calls", flush=True)
                            except AssertionError as logits_err:
                                logit_failures.append(label)
                                print("  logits too:", " ".join(str(logits_err).split())[:160], flush=True)
    print(f"{runs - len(failures)} of {runs} configurations match the C runtime in logits and every state tensor; "
          f"{runs - len(logit_failures)} in the logits of every call")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
