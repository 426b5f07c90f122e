"""GraphBuilder: the one place that writes ONNX nodes and tensors for the
exporter (docs/ONNX.md), so the per-rule and per-composition builders read
like the equations of docs/MATH.md they mirror.

Every constant is an initializer of the top-level graph, also when a node of
the time loop's body uses it (ONNX lets a subgraph read the values of its
enclosing graph), so a weight is stored once whatever reads it.
"""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from hecate_edge.reference.mathfn import L2_EPS

FLOAT = TensorProto.FLOAT
INT64 = TensorProto.INT64


class GraphBuilder:
    """Nodes of one graph (the top level, or the time loop's body) with unique
    value names; constants go to the shared initializer list `constants`."""

    def __init__(self, prefix: str, constants: dict[str, TensorProto]):
        self.prefix = prefix
        self.nodes: list = []
        self.constants = constants
        self._count = 0

    def fresh(self, hint: str) -> str:
        """A new value name, unique in the model."""
        self._count += 1
        return f"{self.prefix}{hint}_{self._count}"

    def op(self, op_type: str, *inputs: str, outputs: int | list[str] = 1, **attrs):
        """Append one node; returns its output name (a list when it has several)."""
        names = outputs if isinstance(outputs, list) else [self.fresh(op_type.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), names, name=self.fresh("n_" + op_type), **attrs))
        return names[0] if len(names) == 1 else names

    def const(self, value, hint: str = "c", dtype=np.float32) -> str:
        """An initializer holding `value` (float32 unless dtype says otherwise)."""
        name = self.fresh("k_" + hint)
        self.constants[name] = numpy_helper.from_array(np.asarray(value, dtype=dtype), name)
        return name

    def ints(self, values, hint: str = "i") -> str:
        """An int64 initializer (shapes, axes, indices)."""
        return self.const(values, hint, np.int64)

    # shorthands for the ops the builders use most
    def add(self, a, b): return self.op("Add", a, b)
    def sub(self, a, b): return self.op("Sub", a, b)
    def mul(self, a, b): return self.op("Mul", a, b)
    def div(self, a, b): return self.op("Div", a, b)
    def matmul(self, a, b): return self.op("MatMul", a, b)
    def sigmoid(self, a): return self.op("Sigmoid", a)

    def reshape(self, a, shape) -> str:
        return self.op("Reshape", a, self.ints(shape, "shape"))

    def pick(self, a, index: int, axis: int = 0) -> str:
        """a[index] along `axis` (that axis dropped)."""
        return self.op("Gather", a, self.ints(index, "idx"), axis=axis)

    def unsqueeze(self, a, axes) -> str:
        return self.op("Unsqueeze", a, self.ints(axes, "axes"))

    def reduce_sum(self, a, axes, keepdims: int = 0) -> str:
        return self.op("ReduceSum", a, self.ints(axes, "axes"), keepdims=keepdims)

    def slice(self, a, start: int, end: int, axis: int) -> str:
        return self.op("Slice", a, self.ints([start], "s"), self.ints([end], "e"), self.ints([axis], "a"))

    def outer(self, col, row) -> str:
        """MATH notation k^T e: the (d, d') outer product of two row vectors."""
        return self.mul(self.unsqueeze(col, [1]), self.unsqueeze(row, [0]))

    def where(self, cond, a, b) -> str:
        return self.op("Where", cond, a, b)

    def one_minus(self, a) -> str:
        return self.sub(self.const(1.0, "one"), a)


def l2_normalize(g: GraphBuilder, x: str) -> str:
    """MATH §3.1: x / max(||x||, 1e-8) of a row."""
    norm = g.op("ReduceL2", x, keepdims=1)
    return g.div(x, g.op("Max", norm, g.const([L2_EPS], "eps")))
