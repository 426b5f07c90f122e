// wasm_bench.mjs — sizes and throughput of the WebAssembly builds in Node
// (pytest-benchmark cannot time them): for build/wasm/{hecate,hecate_simd}.wasm,
// the .wasm size and tok/s of process() and step() on wasm/demo/micro.hct.
// Usage: bash wasm/build.sh && node tools/wasm_bench.mjs [process_tokens] [step_tokens] [max_chunk]
// (max_chunk: the session's block size, default 64; 16 is tools/c_bench.sh's)
import { readFileSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { loadRuntime } from "../wasm/hecate.js";

const repo = fileURLToPath(new URL("../", import.meta.url));
const processTokens = Number(process.argv[2] ?? 8192), stepTokens = Number(process.argv[3] ?? 2048);
const maxChunk = Number(process.argv[4] ?? 64);
const modelBytes = readFileSync(`${repo}wasm/demo/micro.hct`);
const tokens = Uint32Array.from({ length: processTokens }, (_, i) => (i * 37 + 11) % 256);

// Best of five (as benchmarks/c_throughput.c): tokens per second of fn(),
// which consumes `count` tokens.
function rate(count, fn) {
  let best = Infinity;
  for (let rep = 0; rep < 5; rep++) {
    const start = performance.now();
    fn();
    best = Math.min(best, performance.now() - start);
  }
  return (count / best) * 1000;
}

console.log(`node ${process.version}; model wasm/demo/micro.hct; process ${processTokens} tokens in chunks of ` +
            `${maxChunk}, step ${stepTokens}`);
console.log("| build | .wasm bytes | process tok/s | step tok/s |\n| --- | ---: | ---: | ---: |");
for (const name of ["hecate", "hecate_simd"]) {
  const path = `${repo}build/wasm/${name}.wasm`;
  const rt = await loadRuntime(readFileSync(path));
  const session = rt.openModel(modelBytes).session({ maxChunk });
  const processRate = rate(processTokens, () => { session.reset(); session.process(tokens); });
  const stepRate = rate(stepTokens, () => {
    session.reset();
    for (let i = 0; i < stepTokens; i++) session.step(tokens[i]);
  });
  console.log(`| ${name}.wasm | ${statSync(path).size} | ${processRate.toFixed(0)} | ${stepRate.toFixed(0)} |`);
}
