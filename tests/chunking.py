"""The chunking invariant (MATH §6, A6) as one check: step() token by token
equals process() in chunks, logits and state, and a state saved mid-stream
resumes exactly (bit-identical in one build)."""
import numpy as np


def assert_chunking_bit_exact(model, tokens, max_chunk: int = 4, split_at: int | None = None):
    """Token by token == chunks of max_chunk (logits and saved state); with
    split_at, a state saved after that many tokens (chunks of 6) and loaded
    into a new session (chunks of 5) finishes the stream identically.
    Returns the token-by-token session."""
    one = model.session()
    by_token = np.stack([one.step(int(t)) for t in tokens])
    chunked = model.session(max_chunk=max_chunk)
    assert np.array_equal(chunked.process(tokens), by_token)
    assert np.array_equal(chunked.save_state(), one.save_state())
    if split_at is not None:
        split = model.session(max_chunk=6)
        first = split.process(tokens[:split_at])
        resumed = model.session(max_chunk=5)
        resumed.load_state(split.save_state())
        assert np.array_equal(np.concatenate([first, resumed.process(tokens[split_at:])]), by_token)
        assert np.array_equal(resumed.save_state(), one.save_state())
    return one
