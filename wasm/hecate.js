// hecate.js — ES-module JS API over the wasm32 build of the C runtime
// (wasm/build.sh): loads models, runs sessions, saves/restores state, and
// manages the module's linear memory (the C side never allocates).
// Sampling helpers live in sampler.js; docs/WASM.md describes the whole API.

export { XorShift32, sample, argmax } from "./sampler.js";

// hecate_status names by code, as in runtime_c/include/hecate.h
// (tests/test_wasm.py checks this table against the header).
export const STATUS_NAMES = Object.freeze({
  0: "HECATE_OK",
  101: "HECATE_E_NULL_ARG", 102: "HECATE_E_BAD_ARG", 103: "HECATE_E_BUFFER_TOO_SMALL",
  104: "HECATE_E_BUFFER_ALIGN", 105: "HECATE_E_TOKEN_RANGE", 106: "HECATE_E_CHUNK_TOO_LONG",
  107: "HECATE_E_NOT_TRAINABLE", 108: "HECATE_E_IO",
  201: "HECATE_E_FILE_TRUNCATED", 202: "HECATE_E_FILE_MAGIC", 203: "HECATE_E_FILE_VERSION",
  204: "HECATE_E_FILE_ENDIAN", 205: "HECATE_E_FILE_SIZE", 206: "HECATE_E_FILE_CRC",
  207: "HECATE_E_FILE_RESERVED", 208: "HECATE_E_FILE_CONFIG", 209: "HECATE_E_FILE_RULE",
  210: "HECATE_E_FILE_COMPOSITION", 211: "HECATE_E_FILE_TENSOR_COUNT",
  212: "HECATE_E_FILE_TENSOR_NAME", 213: "HECATE_E_FILE_TENSOR_DTYPE",
  214: "HECATE_E_FILE_TENSOR_SHAPE", 215: "HECATE_E_FILE_TENSOR_RANGE",
  216: "HECATE_E_FILE_TENSOR_ALIGN", 217: "HECATE_E_FILE_TENSOR_OVERLAP",
  218: "HECATE_E_FILE_NONFINITE", 219: "HECATE_E_FILE_TENSOR_SIZE", 220: "HECATE_E_FILE_RETENTION",
  221: "HECATE_E_FILE_TENSOR_SCALE",
  301: "HECATE_E_STATE_TRUNCATED", 302: "HECATE_E_STATE_MAGIC", 303: "HECATE_E_STATE_VERSION",
  304: "HECATE_E_STATE_ENDIAN", 305: "HECATE_E_STATE_MODEL", 306: "HECATE_E_STATE_SIZE",
  307: "HECATE_E_STATE_CRC", 308: "HECATE_E_STATE_NONFINITE", 309: "HECATE_E_STATE_RESERVED",
  401: "HECATE_E_NONFINITE",
  501: "HECATE_E_DEVICE", 502: "HECATE_E_UNSUPPORTED",
});

/** A C call returned a non-zero hecate_status.  Fields: status (code),
 * statusName (enum name), text (hecate_status_str); message is the text,
 * prefixed with "NAME: " unless it starts with the name already. */
export class HecateError extends Error {
  constructor(status, name, text) {
    super(text.startsWith(name) ? text : `${name}: ${text}`);
    this.name = "HecateError";
    this.status = status;
    this.statusName = name;
    this.text = text;
  }
}

// wasm32 layouts of the structs in hecate.h (size_t and pointers are 4 bytes).
const MODEL_INFO_U32 = ["format_version", "vocab", "d_model", "n_heads", "window", "composition",
  "rule", "n_levels", "flags", "n_tensors", "real_bytes", "file_crc32"];
const MODEL_INFO_N_PARAMS = 48;    // uint64 after twelve uint32
const MODEL_INFO_N_LAYERS = 56;    // uint32 after n_params
const TENSOR_NAME_BYTES = 40;      // name[40], ndim, shape[4], then three uint64
const TENSOR_NDIM = 40, TENSOR_SHAPE = 44, TENSOR_N_ELEMS = 64, TENSOR_GRAD = 72, TENSOR_FILE = 80;
const TENSOR_DTYPE = 88;
const DTYPE_NAMES = ["f32", "f64", "i8", "i8a16"]; // hecate_tensor_info.dtype (docs/FORMAT.md dtype table)
const SCRATCH_BYTES = 128;         // out-parameters of one call
const FILE_ALIGN = 64;             // tensors sit at 64-byte multiples of the file
const ARENA_ALIGN = 64;            // hecate.h asks 16; 64 suits SIMD too
const PAGE = 65536;
const FREEZE_MEMORY = 1;           // HECATE_SESSION_FREEZE_MEMORY

/** First-fit region allocator over the module's linear memory: everything
 * above __heap_base, grown with memory.grow when no free span fits. */
export class Regions {
  constructor(memory, base) {
    this.memory = memory;
    this.free = [];                 // [{start, size}] sorted by start, coalesced
    this.top = base;                // first byte never handed out
    this.used = new Map();          // start -> size of live regions
  }

  /** Start offset of a fresh region of `bytes` bytes aligned to `align`. */
  alloc(bytes, align = ARENA_ALIGN) {
    const size = Math.max(1, Math.ceil(bytes / align) * align);
    for (let i = 0; i < this.free.length; i++) {
      const span = this.free[i];
      const start = Math.ceil(span.start / align) * align;
      const lead = start - span.start;
      if (lead + size > span.size) continue;
      this.free.splice(i, 1);
      if (lead > 0) this.release(span.start, lead);
      if (lead + size < span.size) this.release(start + size, span.size - lead - size);
      this.used.set(start, size);
      return start;
    }
    const start = Math.ceil(this.top / align) * align;
    const end = start + size;
    if (end > this.memory.buffer.byteLength) {
      const pages = Math.ceil((end - this.memory.buffer.byteLength) / PAGE);
      try {
        this.memory.grow(pages);
      } catch (err) {
        throw new RangeError(`wasm memory cannot grow by ${pages} pages (${end} bytes wanted): ${err.message}`);
      }
    }
    if (start > this.top) this.release(this.top, start - this.top);
    this.top = end;
    this.used.set(start, size);
    return start;
  }

  /** Give back a region alloc() returned (unknown offsets are an error). */
  dealloc(start) {
    const size = this.used.get(start);
    if (size === undefined) throw new Error(`no live region starts at ${start}`);
    this.used.delete(start);
    this.release(start, size);
  }

  /** Put [start, start+size) on the free list, merging with neighbours. */
  release(start, size) {
    let i = 0;
    while (i < this.free.length && this.free[i].start < start) i++;
    this.free.splice(i, 0, { start, size });
    const next = this.free[i + 1], prev = this.free[i - 1];
    if (next && start + size === next.start) {
      this.free[i].size += next.size;
      this.free.splice(i + 1, 1);
    }
    if (prev && prev.start + prev.size === start) {
      prev.size += this.free[i].size;
      this.free.splice(i, 1);
    }
  }

  /** Bytes in live regions. */
  get liveBytes() {
    let n = 0;
    for (const size of this.used.values()) n += size;
    return n;
  }
}

/** Whether this engine validates WebAssembly SIMD128 (a one-function module
 * that returns a v128 constant). */
export function simdSupported() {
  const probe = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0,
    10, 22, 1, 20, 0, 253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11]);
  return WebAssembly.validate(probe);
}

/** Instantiate a runtime module.  source: the .wasm bytes (ArrayBuffer or a
 * typed array), a compiled WebAssembly.Module, or a URL string to fetch. */
export async function loadRuntime(source) {
  let module = source;
  if (typeof source === "string" || source instanceof URL) {
    const response = await fetch(source);
    if (!response.ok) throw new Error(`cannot fetch ${source}: HTTP ${response.status}`);
    module = await response.arrayBuffer();
  }
  if (!(module instanceof WebAssembly.Module)) module = await WebAssembly.compile(module);
  const instance = await WebAssembly.instantiate(module, {});
  return new Runtime(instance.exports);
}

/** One instantiated runtime module: its exports, its memory regions and a
 * scratch area for out-parameters.  Make models with openModel(). */
export class Runtime {
  constructor(exports) {
    this.c = exports;
    this.regions = new Regions(exports.memory, exports.__heap_base.value);
    this.scratch = this.regions.alloc(SCRATCH_BYTES);
  }

  /** Fresh DataView / typed views (memory.grow detaches old ones). */
  view() { return new DataView(this.c.memory.buffer); }
  bytes(ptr, n) { return new Uint8Array(this.c.memory.buffer, ptr, n); }

  /** Throw HecateError for a non-zero status. */
  check(status) {
    if (status === 0) return;
    const name = STATUS_NAMES[status] ?? `HECATE_STATUS_${status}`;
    throw new HecateError(status, name, this.cString(this.c.hecate_status_str(status)));
  }

  /** The NUL-terminated string at ptr. */
  cString(ptr) {
    const mem = new Uint8Array(this.c.memory.buffer);
    let end = ptr;
    while (mem[end] !== 0) end++;
    return new TextDecoder().decode(mem.subarray(ptr, end));
  }

  /** Copy bytes into a fresh region (aligned to align); returns its offset. */
  copyIn(data, align) {
    const ptr = this.regions.alloc(data.byteLength, align);
    this.bytes(ptr, data.byteLength).set(data);
    return ptr;
  }

  /** Validate a model file (ArrayBuffer or typed array) and open it. */
  openModel(fileBytes) {
    return new Model(this, toUint8(fileBytes, "model file"));
  }
}

/** A model file validated by hecate_model_open; the file lives in wasm
 * memory until close().  info: hecate_model_info fields (snake_case, as the
 * Python binding's Model.info); tensors: hecate_tensor_info list. */
export class Model {
  constructor(rt, file) {
    this.rt = rt;
    this.filePtr = rt.copyIn(file, FILE_ALIGN);
    this.fileBytes = file.byteLength;
    this.handleMem = rt.regions.alloc(rt.c.hecate_model_bytes() >>> 0);
    const out = rt.scratch;
    try {
      rt.check(rt.c.hecate_model_open(this.handleMem, rt.c.hecate_model_bytes() >>> 0,
        this.filePtr, this.fileBytes, out));
    } catch (err) {
      this.freeRegions();
      throw err;
    }
    this.handle = rt.view().getUint32(out, true);
    this.info = this.readInfo();
    this.tensors = [];
    for (let i = 0; i < this.info.n_tensors; i++) this.tensors.push(this.readTensor(i));
  }

  readInfo() {
    const rt = this.rt;
    rt.check(rt.c.hecate_model_get_info(this.handle, rt.scratch));
    const dv = rt.view();
    const info = {};
    MODEL_INFO_U32.forEach((field, i) => { info[field] = dv.getUint32(rt.scratch + 4 * i, true); });
    info.n_params = Number(dv.getBigUint64(rt.scratch + MODEL_INFO_N_PARAMS, true));
    info.n_layers = dv.getUint32(rt.scratch + MODEL_INFO_N_LAYERS, true);
    return info;
  }

  readTensor(index) {
    const rt = this.rt, p = rt.scratch;
    rt.check(rt.c.hecate_model_tensor(this.handle, index, p));
    const dv = rt.view();
    const ndim = dv.getUint32(p + TENSOR_NDIM, true);
    const shape = [];
    for (let k = 0; k < ndim; k++) shape.push(dv.getUint32(p + TENSOR_SHAPE + 4 * k, true));
    return {
      name: rt.cString(p).slice(0, TENSOR_NAME_BYTES),
      shape,
      n_elems: Number(dv.getBigUint64(p + TENSOR_N_ELEMS, true)),
      grad_offset: Number(dv.getBigUint64(p + TENSOR_GRAD, true)),
      file_offset: Number(dv.getBigUint64(p + TENSOR_FILE, true)),
      dtype: DTYPE_NAMES[dv.getUint32(p + TENSOR_DTYPE, true)],
    };
  }

  /** A new session.  opts: maxChunk (0: 16), freezeMemory (bool). */
  session(opts = {}) {
    if (!this.handle) throw new Error("model is closed");
    return new Session(this, opts);
  }

  freeRegions() {
    this.rt.regions.dealloc(this.filePtr);
    this.rt.regions.dealloc(this.handleMem);
  }

  /** Free the file and handle memory; the model and its sessions are unusable after. */
  close() {
    if (!this.handle) return;
    this.freeRegions();
    this.handle = 0;
  }
}

/** Streaming state over one Model (hecate_session_*): step, process, reset,
 * position, memory views, state blobs.  Logits come back as Float32Array
 * copies.  Call close() to give its arena back. */
export class Session {
  constructor(model, { maxChunk = 16, freezeMemory = false } = {}) {
    const rt = model.rt;
    this.model = model;
    this.rt = rt;
    this.vocab = model.info.vocab;
    const opts = rt.scratch;
    const dv = rt.view();
    dv.setUint32(opts, toUint32(maxChunk, "maxChunk"), true);
    dv.setUint32(opts + 4, 0, true);  // max_train_tokens: inference only
    dv.setUint32(opts + 8, freezeMemory ? FREEZE_MEMORY : 0, true);
    const sizeOut = opts + 16, handleOut = opts + 20;
    rt.check(rt.c.hecate_session_bytes(model.handle, opts, sizeOut));
    this.arenaBytes = rt.view().getUint32(sizeOut, true);
    this.arena = rt.regions.alloc(this.arenaBytes);
    try {
      rt.check(rt.c.hecate_session_init(this.arena, this.arenaBytes, model.handle, opts, handleOut));
    } catch (err) {
      rt.regions.dealloc(this.arena);
      throw err;
    }
    this.handle = rt.view().getUint32(handleOut, true);
    this.io = rt.regions.alloc(4 * this.vocab);  // logits of step(); grows for process()
    this.ioBytes = 4 * this.vocab;
  }

  /** The io region at least `bytes` long. */
  ioRegion(bytes) {
    if (bytes > this.ioBytes) {
      this.rt.regions.dealloc(this.io);
      this.io = this.rt.regions.alloc(bytes);
      this.ioBytes = bytes;
    }
    return this.io;
  }

  /** Feed one token; its next-token logits (Float32Array of vocab). */
  step(token) {
    const rt = this.rt;
    rt.check(rt.c.hecate_step(this.live(), toUint32(token, "token"), this.io));
    return new Float32Array(rt.c.memory.buffer.slice(this.io, this.io + 4 * this.vocab));
  }

  /** Feed tokens (array or typed array of ints); logits as one Float32Array
   * of tokens.length x vocab, row-major (wantLogits false: null). */
  process(tokens, wantLogits = true) {
    const rt = this.rt, n = tokens.length;
    const logitBytes = wantLogits ? 4 * n * this.vocab : 0;
    const base = this.ioRegion(logitBytes + 4 * n);
    const tokPtr = base + logitBytes;
    const dv = rt.view();
    for (let i = 0; i < n; i++) dv.setUint32(tokPtr + 4 * i, toUint32(tokens[i], "token"), true);
    rt.check(rt.c.hecate_process(this.live(), tokPtr, n, wantLogits ? base : 0));
    return wantLogits ? new Float32Array(rt.c.memory.buffer.slice(base, base + logitBytes)) : null;
  }

  /** Back to the initial state. */
  reset() { this.rt.check(this.rt.c.hecate_session_reset(this.live())); }

  /** Tokens consumed since the last reset. */
  get position() {
    const rt = this.rt;
    rt.check(rt.c.hecate_session_position(this.live(), rt.scratch));
    return Number(rt.view().getBigUint64(rt.scratch, true));
  }

  /** A copy of memory level `level`'s state (Float32Array, rule layout, MATH §3). */
  memory(level = 0) {
    const rt = this.rt, p = rt.scratch;
    rt.check(rt.c.hecate_session_memory(this.live(), toUint32(level, "level"), p, p + 4));
    const dv = rt.view();
    const ptr = dv.getUint32(p, true), n = dv.getUint32(p + 4, true);
    return new Float32Array(rt.c.memory.buffer.slice(ptr, ptr + 4 * n));
  }

  /** The whole session state as a versioned, CRC-checked blob (Uint8Array). */
  saveState() {
    const rt = this.rt, p = rt.scratch;
    rt.check(rt.c.hecate_state_bytes(this.live(), p));
    const size = rt.view().getUint32(p, true);
    const buf = rt.regions.alloc(size);
    try {
      rt.check(rt.c.hecate_state_save(this.handle, buf, size, p));
      return rt.bytes(buf, rt.view().getUint32(p, true)).slice();
    } finally {
      rt.regions.dealloc(buf);
    }
  }

  /** Restore a saveState() blob; on error (HecateError) nothing changes. */
  loadState(blob) {
    const rt = this.rt;
    const data = toUint8(blob, "state blob");
    const buf = rt.copyIn(data, ARENA_ALIGN);
    try {
      rt.check(rt.c.hecate_state_load(this.live(), buf, data.byteLength));
    } finally {
      rt.regions.dealloc(buf);
    }
  }

  live() {
    if (!this.handle || !this.model.handle) throw new Error("session or its model is closed");
    return this.handle;
  }

  /** Give the arena back; the session is unusable after. */
  close() {
    if (!this.handle) return;
    this.rt.regions.dealloc(this.arena);
    this.rt.regions.dealloc(this.io);
    this.handle = 0;
  }
}

function toUint8(data, what) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError(`${what} must be an ArrayBuffer or a typed array`);
}

function toUint32(value, what) {
  if (!Number.isInteger(value) || value < 0 || value > 0xFFFFFFFF) {
    throw new RangeError(`${what} must be an integer in 0..4294967295, got ${value}`);
  }
  return value;
}
