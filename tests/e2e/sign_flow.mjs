// Drive the institution's web page in headless Chromium (Debian's /usr/bin/chromium).
//   node sign_flow.mjs '<json>'   json: {url, institution, taskId, expect: "signed"|"install"|"declined",
//                                        screenshot, timeoutMs}
// Prints one line of JSON: what the page showed.  tests/test_bridge_e2e.py runs this.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const opts = JSON.parse(process.argv[2]);
const timeout = opts.timeoutMs ?? 90000;
const profile = mkdtempSync(join(tmpdir(), "zhenglian-chromium-"));
// An empty profile each run (playwright passes it as --user-data-dir).
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  locale: "zh-CN",
  viewport: { width: 1100, height: 800 },
});
const out = { consoleErrors: [] };
try {
  const page = await browser.newPage();
  page.on("console", (m) => { if (m.type() === "error") out.consoleErrors.push(m.text()); });
  await page.goto(opts.url);
  await page.selectOption("#institution", opts.institution);
  await page.click("#enter");
  const row = page.locator(`tr[data-task-id="${opts.taskId}"]`);
  await row.waitFor({ timeout: 15000 });
  out.before = (await row.locator("td.status").textContent()).trim();
  await row.locator("button.sign").click();
  if (opts.expect === "install") {
    await page.locator("#install").waitFor({ state: "visible", timeout });
  } else if (opts.expect === "signed") {
    await page.locator(`tr[data-task-id="${opts.taskId}"] td.status.signed`).waitFor({ timeout });
  } else {
    await page.locator("#message.error").waitFor({ timeout });
  }
  out.after = (await page.locator(`tr[data-task-id="${opts.taskId}"] td.status`).textContent()).trim();
  out.message = (await page.locator("#message").textContent()).trim();
  out.client = (await page.locator("#client-status").textContent()).trim();
  out.installVisible = await page.locator("#install").isVisible();
  if (opts.screenshot) await page.screenshot({ path: opts.screenshot, fullPage: true });
  out.ok = true;
} catch (err) {
  out.ok = false;
  out.error = String(err && err.message || err).slice(0, 2000);
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(out));
