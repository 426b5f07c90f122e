// demo_e2e.mjs — Node driver of tests/test_demo_page.py: opens the demo page
// in headless Chromium (playwright-core, the system browser), generates from
// the JSON spec's prompt and settings through the page's own controls, runs
// its Python console and (spec.onnx) its onnxruntime-web comparison, writes a
// screenshot and prints what the page produced.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("../../", import.meta.url));
const { chromium } = await import(join(repo, "wasm/node_modules/playwright-core/index.mjs"));
const spec = JSON.parse(readFileSync(process.argv[2], "utf8"));

const browser = await chromium.launch({ executablePath: spec.chromium, headless: true, args: ["--no-sandbox"] });
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 1000 } });
  const consoleErrors = [];
  page.on("pageerror", (err) => consoleErrors.push(String(err)));
  await page.goto(spec.url);
  await page.waitForSelector("body[data-state=ready], body[data-state=error]", { timeout: 60000 });
  const about = await page.textContent("#about");
  await page.fill("#prompt", spec.prompt);
  await page.fill("#max-tokens", String(spec.max_tokens));
  await page.fill("#temperature", String(spec.temperature));
  await page.fill("#top-k", String(spec.top_k));
  await page.fill("#seed", String(spec.seed));
  await page.click("#generate");
  await page.waitForSelector("body[data-state=done], body[data-state=error]", { timeout: 120000 });
  const bytes = await page.evaluate(() => window.hecateDemo.lastBytes);
  const stats = await page.textContent("#stats");
  const caption = await page.textContent("#memory-caption");
  // distinct colours on the heat map: a painted picture, not a blank canvas
  const colours = await page.evaluate(() => {
    const c = document.getElementById("heatmap");
    const data = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    const seen = new Set();
    for (let i = 0; i < data.length; i += 4) seen.add(`${data[i]},${data[i + 1]},${data[i + 2]}`);
    return seen.size;
  });
  await page.fill("#pycode", spec.python);
  await page.click("#run-python");
  await page.waitForSelector("body[data-python=done], body[data-python=error]", { timeout: 180000 });
  const python = { status: await page.getAttribute("body", "data-python"), output: await page.textContent("#pyout") };
  let onnx = null;
  if (spec.onnx) {
    await page.click("#compare-onnx");
    await page.waitForSelector("body[data-onnx=done], body[data-onnx=error]", { timeout: 120000 });
    onnx = { status: await page.getAttribute("body", "data-onnx"), output: await page.textContent("#ort-out"),
             result: await page.evaluate(() => window.hecateDemo.onnx) };
  }
  await page.screenshot({ path: spec.screenshot, fullPage: true });
  const error = await page.textContent("#error");
  process.stdout.write(JSON.stringify({ about, bytes, stats, caption, colours, python, onnx, error, consoleErrors }));
} finally {
  await browser.close();
}
