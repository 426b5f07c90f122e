"""HecateLM on a CUDA device: logits against the C runtime, gradients of the
torch path and of the CUDA kernels' path (hecate_edge.torch.fast) against the
CPU model's, and train --engine torch --device cuda writing a file the C
runtime runs.  Skips cleanly without torch, a GPU or (for the kernels' path)
libhecate_cuda (docs/CUDA.md)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
if not torch.cuda.is_available():
    pytest.skip("no CUDA device for torch", allow_module_level=True)

from hecate_edge import cuda  # noqa: E402
from hecate_edge.torch import HecateLM  # noqa: E402
from hecate_edge.torch import fast  # noqa: E402
from hecate_edge.torch.loss import cross_entropy  # noqa: E402
from conftest import build_model, lively_params  # noqa: E402
from parity import assert_close  # noqa: E402
from torch_sweep import CASES, case_id, sweep_config  # noqa: E402

KERNEL_RULES = ("delta", "titans", "hebbian", "atlas")


@pytest.mark.parametrize("case", CASES[::5], ids=case_id)
def test_cuda_model_matches_c_runtime(case):
    cfg = sweep_config(*case)
    model, _ = build_model(cfg, lively_params(cfg, 3), "f32")
    lm = HecateLM.from_file(model.to_bytes()).cuda()
    tokens = np.random.default_rng(5).integers(0, cfg.vocab, (1, 13))
    state, rows = None, []
    for a, b in ((0, 5), (5, 13)):
        logits, state = lm(torch.as_tensor(tokens[:, a:b]).cuda(), state)
        rows.append(logits[0].detach().cpu().numpy())
    assert_close(np.concatenate(rows), model.session().process(tokens[0]), 1e-5, "logits")


@pytest.mark.parametrize("rule", KERNEL_RULES)
@pytest.mark.parametrize("composition", ["mag", "mal"])
def test_cuda_kernel_path_gradients(rule, composition):
    """The CUDA kernels run the recurrence (d <= 128, period 1): gradients equal the CPU model's."""
    if cuda.unavailable_reason() is not None:
        pytest.skip(cuda.unavailable_reason())
    cfg = sweep_config(rule, composition, 0)
    params = lively_params(cfg, 2)
    tokens = torch.as_tensor(np.random.default_rng(1).integers(0, cfg.vocab, (3, 10)))
    grads = []
    for device in ("cpu", "cuda"):
        lm = HecateLM(cfg, params).to(device)
        spec = lm._specs[0]
        assert fast.runs(spec, torch.zeros(1, 1, cfg.d_model, device=device))
        logits, _ = lm(tokens[:, :-1].to(device))
        cross_entropy(logits, tokens[:, 1:].to(device)).backward()
        grads.append({n: p.grad.cpu().double().numpy() for n, p in lm.named_parameters()})
    for name in grads[0]:
        assert_close(grads[1][name], grads[0][name], 1e-4, name)


def test_train_on_cuda_writes_a_runnable_file(tmp_path):
    from hecate_edge import cli
    from hecate_edge.runtime import Model

    out = tmp_path / "m.hct"
    assert cli.main(["train", "--engine", "torch", "--device", "cuda", "--steps", "3", "--batch", "4",
                     "--chunk", "16", "--d-model", "32", "--heads", "2", "--out", str(out), "--quiet"]) == 0
    lm = HecateLM.from_file(out).cuda()
    tokens = np.arange(12)[None] % 256
    logits = lm(torch.as_tensor(tokens).cuda())[0][0].detach().cpu().numpy()
    assert_close(logits, Model(str(out)).session().process(tokens[0]), 1e-5, "logits")


@pytest.mark.parametrize("rule", KERNEL_RULES)
def test_cuda_torch_op_matches_runtime_op(rule):
    """hecate_edge.torch.ops on CUDA float32 (the kernels) against the C op in float64."""
    from hecate_edge import ops
    from hecate_edge.torch import ops as tops
    from rule_inputs import rule_inputs

    if cuda.unavailable_reason() is not None:
        pytest.skip(cuda.unavailable_reason())
    q, k, v, gates, dy, state = rule_inputs(rule, 2, 2, 20, 32, dtype=np.float64)
    tensors = [torch.tensor(a, dtype=torch.float32, device="cuda", requires_grad=True) for a in (q, k, v)]
    tgates = {n: torch.tensor(g, dtype=torch.float32, device="cuda", requires_grad=True) for n, g in gates.items()}
    o, final = tops.run(rule, *tensors, tgates, initial_state=torch.tensor(state, dtype=torch.float32).cuda())
    want_o, want_state = ops.run(rule, q, k, v, gates, initial_state=state)
    assert_close(o.detach().cpu().numpy(), want_o, 1e-4, "o")
    assert_close(final.cpu().numpy(), want_state, 1e-4, "final state")
    torch.sum(o * torch.tensor(dy, dtype=torch.float32, device="cuda")).backward()
    want = ops.backward(rule, q, k, v, gates, dy, initial_state=state)
    for name, t in [("q", tensors[0]), ("k", tensors[1]), ("v", tensors[2]), *tgates.items()]:
        assert_close(t.grad.cpu().numpy(), want[name], 1e-4, f"d/d{name}")


@pytest.mark.parametrize("composition", ["mal", "mac"])
def test_cuda_graph_steps_equal_eager_steps(composition):
    """train's CUDA-graph replay (hecate_edge.torch.graphed) gives the eager steps' losses and
    weights (to float32 rounding and the kernels' atomic sums)."""
    from hecate_edge import train
    from hecate_edge.config import ModelConfig
    from hecate_edge.data import load_corpus
    from hecate_edge.torch import distributed, graphed
    from hecate_edge.torch import train as torch_train

    cfg = ModelConfig(d_model=32, n_heads=2, composition=composition)
    config = train.TrainConfig(steps=4, chunk=16, batch=4, lr=3e-3, burn_in=8)
    world = distributed.World(0, 1, torch.device("cuda"))
    corpus = load_corpus("text", "train")
    runs = []
    for use_graph in (True, False):
        lm = HecateLM.from_config(cfg, seed=0).cuda()
        assert graphed.applies(lm, world.device)
        records = torch_train.train(lm, [corpus], config, world, show_progress=False, cuda_graph=use_graph)
        runs.append(([r["loss"] for r in records], lm.tensors()))
    (graph_losses, graph_weights), (eager_losses, eager_weights) = runs
    assert graph_losses == pytest.approx(eager_losses, rel=1e-5)
    for name, value in eager_weights.items():
        assert_close(graph_weights[name], value, 1e-4, name)


def test_cuda_graph_replays_new_tokens():
    """Each replay reads the step's tokens: two different batches give two different losses, each
    equal to the eager loss of its batch."""
    from hecate_edge.config import ModelConfig
    from hecate_edge.torch import graphed
    from hecate_edge.torch.train import chunk_mean_loss

    lm = HecateLM.from_config(ModelConfig(d_model=32, n_heads=2), seed=1).cuda()

    def loss_of(rows):
        return chunk_mean_loss(lm(rows[:, :-1])[0], rows[:, 1:])
    step = graphed.GraphedStep(loss_of, lm.parameters())
    batches = [torch.as_tensor(np.random.default_rng(s).integers(0, 256, (3, 17))).cuda() for s in (0, 1)]
    for rows in batches * 2:
        graph_loss = float(step(rows))  # a detached loss: the graph holds no autograd graph
        grads = {n: p.grad.clone() for n, p in lm.named_parameters()}
        for param in lm.parameters():
            param.grad = None
        loss = loss_of(rows)
        loss.backward()
        assert graph_loss == pytest.approx(float(loss), rel=1e-6)
        for name, param in lm.named_parameters():
            assert_close(grads[name].cpu().numpy(), param.grad.cpu().numpy(), 1e-4, name)
