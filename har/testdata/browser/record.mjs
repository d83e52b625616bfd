// Records a HAR of one page with Debian's Chromium through Playwright's
// recordHar. Usage: node record.mjs URL OUT.har
// The page must set window.__done = true when it has finished its work.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [url, out] = process.argv.slice(2);
if (!url || !out) {
  console.error('usage: node record.mjs URL OUT.har');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const profile = mkdtempSync(join(tmpdir(), 'reprise-har-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath,
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
  recordHar: { path: out, content: 'embed' },
});
try {
  const page = context.pages()[0] || await context.newPage();
  await page.goto(url);
  await page.waitForFunction(() => window.__done === true, null, { timeout: 20000 });
  const errors = await page.evaluate(() => window.__errors || []);
  if (errors.length) {
    console.error('page errors:', errors.join('; '));
    process.exitCode = 1;
  }
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
