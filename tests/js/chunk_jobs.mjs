// chunk_jobs.mjs — Node driver of tests/test_wasm.py's chunking check: runs
// each model file of a JSON job file through wasm/hecate.js token by token
// (step) and in process() calls of each chunk size, and prints per run the
// logits and the state blob after it (base64), for a bit-for-bit comparison.
import { readFileSync } from "node:fs";
import { loadRuntime } from "../../wasm/hecate.js";

const b64 = (typed) => Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength).toString("base64");
const spec = JSON.parse(readFileSync(process.argv[2], "utf8"));
const rt = await loadRuntime(readFileSync(spec.wasm));

// {chunk size or "step": {logits, state}} for one model file.
function runJob(job) {
  const model = rt.openModel(readFileSync(job.model));
  const runs = {};
  const step = model.session();
  const rows = job.tokens.map((t) => step.step(t));
  const all = new Float32Array(rows.length * model.info.vocab);
  rows.forEach((row, i) => all.set(row, i * model.info.vocab));
  runs.step = { logits: b64(all), state: b64(step.saveState()) };
  step.close();
  for (const chunk of spec.chunks) {
    const session = model.session({ maxChunk: chunk });
    runs[chunk] = { logits: b64(session.process(job.tokens)), state: b64(session.saveState()) };
    session.close();
  }
  model.close();
  return runs;
}

process.stdout.write(JSON.stringify(spec.jobs.map(runJob)));
