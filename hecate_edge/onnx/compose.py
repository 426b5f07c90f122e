"""The compositions for one token as ONNX ops: MAG (MATH §4), MAL (§4.2) and
MAC (§4.4); each maps a block input row to the block output p."""
from __future__ import annotations

from hecate_edge.onnx.attention import attend
from hecate_edge.onnx.level import Level, memory_output


def mag(body, layer: int, x: str) -> str:
    """MATH §4: p = Wo (SWA(x) * sigmoid(memory(x)))."""
    g = body.g
    a = attend(body, layer, x, [x])
    y = memory_output(body, layer, x)
    return g.matmul(g.mul(a, g.sigmoid(y)), body.weight(f"blk{layer}.attn.wo"))


def mal(body, layer: int, x: str) -> str:
    """MATH §4.2: p = Wo SWA(z), z = memory(x) + x."""
    g = body.g
    z = g.add(memory_output(body, layer, x), x)
    return g.matmul(attend(body, layer, z, [z]), body.weight(f"blk{layer}.attn.wo"))


def mac(body, layer: int, x: str) -> str:
    """MATH §4.4: h = sum_l mr_l read_l(before write; x), a = SWA(x; {x, h} entries),
    r = sum_l mo_l memory_l(a), p = Wo (a * sigmoid(r))."""
    g, k = body.g, body.cfg.n_levels
    levels = [Level(body, layer, level) for level in range(k)]

    def mixed(name: str, rows: list[str]) -> str:
        if k == 1:
            return rows[0]
        weights = body.weight(f"blk{layer}.mac.{name}_softmax")
        total = g.mul(g.pick(weights, 0), rows[0])
        for level in range(1, k):
            total = g.add(total, g.mul(g.pick(weights, level), rows[level]))
        return total

    h = mixed("mix_read", [level.pre_read(x) for level in levels])
    a = attend(body, layer, x, [x, h])
    r = mixed("mix_out", [level.step(a) for level in levels])
    return g.matmul(g.mul(a, g.sigmoid(r)), body.weight(f"blk{layer}.attn.wo"))


COMPOSITION_GRAPHS = {"mag": mag, "mal": mal, "mac": mac}
