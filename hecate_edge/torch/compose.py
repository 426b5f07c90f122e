"""The compositions on torch tensors (MATH §4 MAG, §4.2 MAL, §4.4 MAC): how a
block combines window attention and its memory levels.  The torch twin of
hecate_edge/reference/compose_mag.py, compose_mal.py and compose_mac.py.
MAG and MAL run every token of a call at once (their memory reads the block
input, so only the rule's recurrence is sequential); MAC's memory reads the
attention output, which reads the memory: it runs token by token."""
import torch

from hecate_edge.torch.attention import attend
from hecate_edge.torch.cms import pre_read, run_level


def memory_output(ctx, blk, x, levels, position):
    """MATH §6.1: the levels' reads summed (1/sqrt(k) for k > 2), and their states after."""
    ys, states = [], []
    for i, (spec, state) in enumerate(zip(ctx.specs, levels)):
        y, state = run_level(spec, getattr(blk, f"mem{i}"), x, state, position, ctx.freeze, ctx.fixed, ctx.fast)
        ys.append(y)
        states.append(state)
    y = sum(ys)
    return (y / len(ys) ** 0.5 if len(ys) > 2 else y), states


def mag(ctx, blk, x, cache, levels, position):
    """MATH §4: p = Wo (SWA(x) * sigmoid(memory(x)))."""
    a, ck, cv = attend(blk.attn, [x], *cache, ctx.window, ctx.n_heads, ctx.rope)
    y, levels = memory_output(ctx, blk, x, levels, position)
    return (a * torch.sigmoid(y)) @ blk.attn.wo, (ck, cv), levels


def mal(ctx, blk, x, cache, levels, position):
    """MATH §4.2: p = Wo SWA(z), z = memory(x) + x."""
    y, levels = memory_output(ctx, blk, x, levels, position)
    a, ck, cv = attend(blk.attn, [y + x], *cache, ctx.window, ctx.n_heads, ctx.rope)
    return a @ blk.attn.wo, (ck, cv), levels


def mac(ctx, blk, x, cache, levels, position):
    """MATH §4.4, per token: h = sum_l mr_l read_l(x) before the write, a = SWA(x; {x, h}),
    r = sum_l mo_l memory_l(a), p = Wo (a * sigmoid(r))."""
    k = len(levels)
    mix_read = torch.softmax(blk.mac.mix_read, 0) if k > 1 else [1.0]
    mix_out = torch.softmax(blk.mac.mix_out, 0) if k > 1 else [1.0]
    ps = []
    levels = list(levels)
    for t in range(x.shape[1]):
        xt, n = x[:, t:t + 1], position + t
        h = sum(w * pre_read(spec, getattr(blk, f"mem{i}"), xt, state, n, ctx.freeze)
                for i, (spec, state, w) in enumerate(zip(ctx.specs, levels, mix_read)))
        a, ck, cv = attend(blk.attn, [xt, h[:, None]], *cache, ctx.window, ctx.n_heads, ctx.rope)
        cache = (ck, cv)
        r = 0.0
        for i, (spec, w) in enumerate(zip(ctx.specs, mix_out)):
            y, levels[i] = run_level(spec, getattr(blk, f"mem{i}"), a, levels[i], n, ctx.freeze, ctx.fixed, False)
            r = r + w * y
        ps.append((a * torch.sigmoid(r)) @ blk.attn.wo)
    return torch.cat(ps, 1), cache, levels


COMPOSITIONS = {"mag": mag, "mal": mal, "mac": mac}
