// The page in a real browser: headless Chromium (Debian's, driven by
// playwright-core) opens web/dist served on 127.0.0.1, trains a 20-layer
// sigmoid network and a 20-layer residual ReLU network, and checks what the
// page says about each. Saves a screenshot of each: docs/web_vanishing.png,
// docs/web_healthy.png.
//
// Run web/build.sh first; then `npm install` and `npm test` in web/test.
// CHROMIUM overrides the browser's path (default /usr/bin/chromium).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dist = join(root, 'web', 'dist');
const PORT = Number(process.env.PORT ?? 8765);
const URL = `http://127.0.0.1:${PORT}/`;
// Each training run must finish within this (measured: 1.0 s for the three
// sigmoid epochs, 1.4 s for the five residual ones, on a 2-core machine).
const LIMIT_MS = 60_000;

async function serve() {
  assert.ok(existsSync(join(dist, 'pkg', 'nn_web_bg.wasm')), 'web/dist is built (run web/build.sh)');
  const server = spawn('python3', ['-m', 'http.server', String(PORT), '--bind', '127.0.0.1', '--directory', dist], {
    stdio: 'ignore',
  });
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(URL)).ok) return server;
    } catch {
      // Not listening yet.
    }
    await new Promise(r => setTimeout(r, 100));
  }
  server.kill();
  throw new Error(`the page server did not answer on ${URL}`);
}

async function train(page, preset, epochs) {
  await page.click(`[data-preset="${preset}"]`);
  await page.fill('#epochs', String(epochs));
  const began = Date.now();
  await page.click('#train');
  await page.waitForSelector('#status[data-state="done"]', { timeout: LIMIT_MS });
  const seconds = (Date.now() - began) / 1000;
  const read = id => page.$eval(id, e => ({ text: e.textContent, value: e.dataset.value }));
  return { seconds, verdict: (await read('#verdict')).text, ratio: await read('#ratio'), accuracy: await read('#accuracy') };
}

test('the page trains in the browser and says what GradientFlow says', { timeout: 4 * LIMIT_MS }, async () => {
  const server = await serve();
  const profile = mkdtempSync(join(tmpdir(), 'nn-web-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1240, height: 1000 },
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const errors = [];
    page.on('pageerror', e => errors.push(e.message));
    await page.goto(URL);
    await page.waitForSelector('#status[data-state="ready"]', { timeout: LIMIT_MS });

    const sigmoid = await train(page, 'vanishing', 3);
    console.log(`20 x sigmoid: ${sigmoid.verdict}, ratio ${sigmoid.ratio.value}, ${sigmoid.seconds} s`);
    assert.match(sigmoid.verdict, /vanishing/);
    assert.ok(Number(sigmoid.ratio.value) < 1e-6, `first-layer gradient ratio ${sigmoid.ratio.value}`);
    assert.match(await page.textContent('#words'), /Remedies/);
    await page.screenshot({ path: join(root, 'docs', 'web_vanishing.png'), fullPage: true });

    const residual = await train(page, 'healthy', 5);
    console.log(`20 x residual relu: ${residual.verdict}, test accuracy ${residual.accuracy.value}, ${residual.seconds} s`);
    assert.equal(residual.verdict, 'healthy');
    assert.ok(Number(residual.accuracy.value) > 0.9, `test accuracy ${residual.accuracy.value}`);
    await page.screenshot({ path: join(root, 'docs', 'web_healthy.png'), fullPage: true });
    assert.deepEqual(errors, [], 'no errors on the page');
  } finally {
    await context.close();
    server.kill();
    rmSync(profile, { recursive: true, force: true });
  }
});
