"""The loss of MATH §5 on torch tensors: mean cross-entropy over the positions
whose target is < V (the others ignored; 0 when none), as train_chunk scores."""
import torch


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """logits (..., V), targets (...) int64: -(1/N) sum log softmax(logits)[target] over targets < V."""
    vocab = logits.shape[-1]
    flat, tgt = logits.reshape(-1, vocab), targets.reshape(-1)
    valid = (tgt >= 0) & (tgt < vocab)
    if not bool(valid.any()):
        return flat.sum() * 0.0
    return torch.nn.functional.cross_entropy(flat[valid], tgt[valid])
