// sampler.js — the byte sampler shared by the JS API, the demo page and (as
// hecate_edge/sampler.py) the Python side: a specified xorshift32 PRNG and
// greedy / temperature + top-k sampling, so every target draws the same bytes.

/** xorshift32 (shifts 13, 17, 5).  The state starts at (seed XOR 0x9E3779B9)
 * mod 2^32, or 1 if that is 0.  uniform() = (next() >>> 8) / 2^24 in [0, 1). */
export class XorShift32 {
  constructor(seed = 0) {
    this.state = ((seed >>> 0) ^ 0x9E3779B9) >>> 0 || 1;
  }

  next() {
    let x = this.state;
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    this.state = x;
    return x;
  }

  uniform() { return (this.next() >>> 8) / 16777216; }
}

/** Index of the largest value (the lowest index among ties). */
export function argmax(logits) {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/** Next token from logits (length V).  temperature <= 0: argmax, no draw.
 * Else the candidates are the indices by descending logit (ties: lower index
 * first), cut to the first topK (topK <= 0 or >= V: all); weights
 * exp((l_i - l_max) / temperature) in float64, summed in that order; one
 * u = rng.uniform(); the first candidate whose running sum exceeds u * total
 * (the last one if rounding leaves none). */
export function sample(logits, rng, { temperature = 0, topK = 0 } = {}) {
  if (!(temperature > 0)) return argmax(logits);
  const order = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a] || a - b);
  const keep = topK > 0 && topK < order.length ? order.slice(0, topK) : order;
  const top = logits[keep[0]];
  const weights = keep.map((i) => Math.exp((logits[i] - top) / temperature));
  let total = 0;
  for (const w of weights) total += w;
  const target = rng.uniform() * total;
  let running = 0;
  for (let j = 0; j < keep.length; j++) {
    running += weights[j];
    if (running > target) return keep[j];
  }
  return keep[keep.length - 1];
}
