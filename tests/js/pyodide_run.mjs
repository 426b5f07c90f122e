// pyodide_run.mjs — Node driver of tests/test_pyodide.py: starts Pyodide
// offline from wasm/node_modules, loads micropip from the spec's local wheels,
// installs hecate_edge's Pyodide wheel (tools/build_pyodide_wheel.py) with
// micropip from a file in Pyodide's file system, and runs
// tests/js/pyodide_job.py, which loads the runtime the wheel carries.
import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("../../", import.meta.url));
const { loadPyodide } = await import(join(repo, "wasm/node_modules/pyodide/pyodide.mjs"));
const spec = JSON.parse(readFileSync(process.argv[2], "utf8"));

const pyodide = await loadPyodide();
await pyodide.loadPackage(spec.micropip_wheels, { messageCallback: () => {} });
const wheel = `/tmp/${basename(spec.wheel)}`;
pyodide.FS.writeFile(wheel, readFileSync(spec.wheel));
await pyodide.runPythonAsync(`import micropip\nawait micropip.install("emfs:${wheel}", deps=False)`);
pyodide.FS.mkdirTree("/job");
pyodide.FS.writeFile("/job/model.hct", readFileSync(spec.model));
pyodide.FS.writeFile("/job/bad.hct", readFileSync(spec.bad_model));
pyodide.globals.set("spec_json", JSON.stringify(spec));
process.stdout.write(await pyodide.runPythonAsync(readFileSync(join(repo, "tests/js/pyodide_job.py"), "utf8")));
