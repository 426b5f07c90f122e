// run_jobs.mjs — Node driver of tests/test_wasm.py: runs model files through
// wasm/hecate.js as a JSON job file says and prints the results as JSON
// (float32 arrays and blobs as base64), for comparison with the native build.
import { readFileSync } from "node:fs";
import { loadRuntime, HecateError } from "../../wasm/hecate.js";

const b64 = (typed) => Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength).toString("base64");
const spec = JSON.parse(readFileSync(process.argv[2], "utf8"));
const rt = await loadRuntime(readFileSync(spec.wasm));

// One parity job: process the prompt, step the rest, save state; then a
// second session restores the native blob saved after the prompt.
function runJob(job) {
  const model = rt.openModel(readFileSync(job.model));
  const session = model.session({ maxChunk: job.max_chunk });
  const prompt = session.process(job.tokens);
  const steps = job.more.map((t) => b64(session.step(t)));
  const result = {
    info: model.info, tensors: model.tensors, position: session.position,
    prompt: b64(prompt), steps, memory: b64(session.memory(0)), state: b64(session.saveState()),
  };
  const restored = model.session();
  restored.loadState(readFileSync(job.native_state));
  result.restored = b64(restored.process(job.more));
  restored.reset();
  result.position_after_reset = restored.position;
  session.close();
  restored.close();
  model.close();
  return result;
}

// Bad model bytes: the error a JS caller sees.
function openBad(path) {
  try {
    rt.openModel(readFileSync(path));
    return { thrown: false };
  } catch (err) {
    return { thrown: true, isHecateError: err instanceof HecateError, isError: err instanceof Error,
      status: err.status, statusName: err.statusName, message: err.message };
  }
}

const out = {
  jobs: spec.jobs.map(runJob),
  bad: (spec.bad ?? []).map(openBad),
  live_bytes: rt.regions.liveBytes,
  memory_bytes: rt.c.memory.buffer.byteLength,
};
process.stdout.write(JSON.stringify(out));
