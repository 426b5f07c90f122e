// compare-onnx.js — the demo's ONNX panel: runs the bundled model's ONNX
// export (micro.onnx and its fresh state micro.state.json, made by
// tools/serve_demo.py; docs/ONNX.md) in onnxruntime-web beside this page's
// WebAssembly runtime: the same tokens through both, logits compared, then
// both timed over a few calls with the state handed on (MATH §6).
const ORT_URL = new URL("../node_modules/onnxruntime-web/dist/", import.meta.url).href;
const ROUNDS = 20;

async function fetchOk(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`cannot fetch ${url}: HTTP ${response.status} (the server needs the onnx extra)`);
  return response;
}

// {input name: ort.Tensor} of the state JSON ({name: {dtype, shape, data}})
function stateTensors(ort, json) {
  const out = {};
  for (const [name, { dtype, shape, data }] of Object.entries(json)) {
    out[name] = dtype === "int64" ? new ort.Tensor("int64", BigInt64Array.from(data, BigInt), shape)
      : new ort.Tensor("float32", Float32Array.from(data), shape);
  }
  return out;
}

function rmsRelative(actual, expected) {
  let err = 0, ref = 0;
  for (let i = 0; i < expected.length; i++) {
    err += (actual[i] - expected[i]) ** 2;
    ref += expected[i] ** 2;
  }
  return Math.sqrt(err / Math.max(ref, 1e-30));
}

// Resolves to {tokens, rmsRelative, rounds, oursTokPerS, ortTokPerS, ortVersion}.
export async function compareOnnx(model, tokens) {
  const ort = await import(`${ORT_URL}ort.wasm.min.mjs`);
  ort.env.wasm.wasmPaths = ORT_URL;
  ort.env.wasm.numThreads = 1;
  const graph = new Uint8Array(await (await fetchOk("micro.onnx")).arrayBuffer());
  const fresh = await (await fetchOk("micro.state.json")).json();
  const onnx = await ort.InferenceSession.create(graph);
  const names = Object.keys(fresh);
  const tokenTensor = new ort.Tensor("int64", BigInt64Array.from(tokens, (t) => BigInt(t)), [tokens.length]);
  let state = stateTensors(ort, fresh);
  const runOnnx = async () => {
    const out = await onnx.run({ tokens: tokenTensor, ...state });
    state = Object.fromEntries(names.map((name) => [name, out[`${name}_out`]]));
    return out.logits.data;
  };
  const session = model.session();
  try {
    const expected = Float32Array.from(session.process(tokens));
    const actual = await runOnnx();
    const result = { tokens: tokens.length, rmsRelative: rmsRelative(actual, expected), rounds: ROUNDS,
                     ortVersion: ort.env.versions?.web ?? "" };
    let start = performance.now();
    for (let i = 0; i < ROUNDS; i++) session.process(tokens);
    result.oursTokPerS = (ROUNDS * tokens.length) / ((performance.now() - start) / 1000);
    start = performance.now();
    for (let i = 0; i < ROUNDS; i++) await runOnnx();
    result.ortTokPerS = (ROUNDS * tokens.length) / ((performance.now() - start) / 1000);
    return result;
  } finally {
    session.close();
  }
}
