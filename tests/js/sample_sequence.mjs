// sample_sequence.mjs — Node driver of tests/test_sampler.py: draws tokens
// with wasm/sampler.js from the logits and settings in a JSON file and prints
// them (plus the first raw PRNG outputs) as JSON.
import { readFileSync } from "node:fs";
import { XorShift32, sample } from "../../wasm/sampler.js";

const spec = JSON.parse(readFileSync(process.argv[2], "utf8"));
const raw = new XorShift32(spec.seed);
const out = {
  raw: Array.from({ length: 8 }, () => raw.next()),
  draws: spec.cases.map(({ seed, temperature, topK }) => {
    const rng = new XorShift32(seed);
    return spec.logits.map((row) => sample(row, rng, { temperature, topK }));
  }),
};
process.stdout.write(JSON.stringify(out));
