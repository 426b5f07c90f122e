// pyodide_run.mjs — Node driver of tests/test_pyodide.py: starts Pyodide
// offline from wasm/node_modules, installs hecate_edge's Python files into its
// file system, registers the wasm runtime and runs tests/js/pyodide_job.py.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { loadRuntime } from "../../wasm/hecate.js";

const repo = fileURLToPath(new URL("../../", import.meta.url));
const { loadPyodide } = await import(join(repo, "wasm/node_modules/pyodide/pyodide.mjs"));
const spec = JSON.parse(readFileSync(process.argv[2], "utf8"));

// Every .py file under `dir`, as paths relative to the repo.
function pythonFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return pythonFiles(path);
    return name.endsWith(".py") ? [relative(repo, path)] : [];
  });
}

const pyodide = await loadPyodide();
for (const file of pythonFiles(join(repo, "hecate_edge"))) {
  const target = `/home/pyodide/${file}`;
  pyodide.FS.mkdirTree(target.slice(0, target.lastIndexOf("/")));
  pyodide.FS.writeFile(target, readFileSync(join(repo, file)));
}
pyodide.FS.mkdirTree("/job");
pyodide.FS.writeFile("/job/model.hct", readFileSync(spec.model));
pyodide.FS.writeFile("/job/bad.hct", readFileSync(spec.bad_model));
pyodide.registerJsModule("hecate_wasm", { runtime: await loadRuntime(readFileSync(spec.wasm)) });
pyodide.globals.set("spec_json", JSON.stringify(spec));
process.stdout.write(pyodide.runPython(readFileSync(join(repo, "tests/js/pyodide_job.py"), "utf8")));
