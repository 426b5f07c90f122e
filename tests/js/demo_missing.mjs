// demo_missing.mjs — Node driver of tests/test_demo_page.py's missing-parts
// test: for each URL of the JSON spec (the demo served from a copy of the
// repository that lacks a built part) opens the page in headless Chromium,
// waits until it is ready or has failed, runs its Python console when ready,
// and prints what the page said.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("../../", import.meta.url));
const { chromium } = await import(join(repo, "wasm/node_modules/playwright-core/index.mjs"));
const spec = JSON.parse(readFileSync(process.argv[2], "utf8"));

const browser = await chromium.launch({ executablePath: spec.chromium, headless: true, args: ["--no-sandbox"] });
try {
  const results = [];
  for (const url of spec.urls) {
    const page = await browser.newPage();
    await page.goto(url);
    await page.waitForSelector("body[data-state=ready], body[data-state=error]", { timeout: 60000 });
    const result = { state: await page.getAttribute("body", "data-state"), error: await page.textContent("#error") };
    if (result.state === "ready") {
      await page.click("#run-python");
      await page.waitForSelector("body[data-python=done], body[data-python=error]", { timeout: 60000 });
      result.python = await page.textContent("#pyout");
    }
    results.push(result);
    await page.close();
  }
  process.stdout.write(JSON.stringify(results));
} finally {
  await browser.close();
}
