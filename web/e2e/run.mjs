#!/usr/bin/env node
// End-to-end test of the web client in a real headless Chromium, against a
// running gateway (which serves the client) and the whole pipeline behind it.
//
//   node e2e/run.mjs --base-url http://127.0.0.1:8080 [--chromium /usr/bin/chromium]
//                    [--artifacts e2e/artifacts] [--timeout 120]
//
// A person's path: create an account, start a project, describe a flange in
// the chat, watch the live status reach "Model ready", see the 3D view draw
// the part (pixels are checked), read its measurements, make it thicker with
// a follow-up in the chat and again with the Parameters form (no language
// model: the offline generator), download the STL, read the script, upload a
// changed script and see the line diff, read the
// logs, see a failure with its reason and retry it, rename and delete the
// project, and be sent back to sign in when the token is no longer valid.
// Screenshots at laptop and phone widths land in the artifacts folder.
// Any console error or uncaught page error fails the run.

import { chromium } from 'playwright-core';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

function args(argv) {
  const out = { baseUrl: process.env.BASE_URL ?? 'http://127.0.0.1:8080', chromium: process.env.CHROMIUM ?? '/usr/bin/chromium', artifacts: join(here, 'artifacts'), timeout: 120 };
  for (let i = 0; i < argv.length; i++) {
    const [k, inline] = argv[i].split('=', 2);
    const v = () => inline ?? argv[++i];
    if (k === '--base-url') out.baseUrl = v();
    else if (k === '--chromium') out.chromium = v();
    else if (k === '--artifacts') out.artifacts = resolve(v());
    else if (k === '--timeout') out.timeout = Number(v());
    else if (k === '--help' || k === '-h') {
      console.log('usage: node e2e/run.mjs --base-url URL [--chromium PATH] [--artifacts DIR] [--timeout SECONDS]');
      process.exit(0);
    } else {
      console.error(`unknown argument ${k}`);
      process.exit(2);
    }
  }
  out.baseUrl = out.baseUrl.replace(/\/$/, '');
  return out;
}

const opts = args(process.argv.slice(2));
const T = opts.timeout * 1000;
mkdirSync(opts.artifacts, { recursive: true });

export const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // WebGL without a GPU: SwiftShader, software rendering.
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
];

const results = [];
let failed = false;
async function step(name, fn) {
  if (failed) {
    results.push({ name, status: 'skipped' });
    console.log(`skip - ${name}`);
    return;
  }
  const started = Date.now();
  try {
    await fn();
    results.push({ name, status: 'passed' });
    console.log(`ok   - ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    failed = true;
    results.push({ name, status: 'failed', error: e });
    console.log(`FAIL - ${name}: ${e?.stack ?? e}`);
  }
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

const profile = mkdtempSync(join(tmpdir(), 'cadscribe-e2e-'));
const consoleErrors = [];
// Chromium reports every 4xx answer as a console error; the steps that
// provoke a 401 on purpose (a wrong password, a rejected token) allow it,
// and the step that enters a bad parameter value allows its 400.
let allow401 = false;
let allow400 = false;
let rateLimited = 0;
const context = await chromium.launchPersistentContext(profile, {
  executablePath: opts.chromium,
  headless: true,
  // Playwright passes the fresh profile as --user-data-dir.
  args: FLAGS,
  viewport: { width: 1366, height: 860 },
  acceptDownloads: true,
  timeout: 60_000,
});
context.setDefaultTimeout(30_000);
const page = context.pages()[0] ?? (await context.newPage());
page.on('console', (msg) => {
  if (msg.type() !== 'error') return;
  if (allow401 && /status of 401/.test(msg.text())) return;
  if (allow400 && /status of 400/.test(msg.text())) return;
  // A rate limit is the server's policy, and the client waits it out.
  if (/status of 429/.test(msg.text())) {
    rateLimited++;
    return;
  }
  if (msg.type() === 'error') consoleErrors.push(`console: ${msg.text()} (${msg.location()?.url ?? ''})`);
});
page.on('pageerror', (err) => consoleErrors.push(`page error: ${err.message}`));
let apiRequests = 0;
page.on('request', (req) => {
  if (new URL(req.url()).pathname.startsWith('/api/')) apiRequests++;
});

const shot = async (name, target = page) => {
  const path = join(opts.artifacts, `${name}.png`);
  await target.screenshot({ path, fullPage: target === page });
  return path;
};

const email = `e2e-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.com`;
const password = 'correct horse battery staple';
const PROMPT = 'a flange 80 mm across with six 8 mm holes on a 60 mm bolt circle';
const ORDER = ['Queued…', 'Generating script…', 'Uploading to S3…', 'FreeCAD processing…', 'Model ready'];
let projectUrl = '';

/** Records every status label the page shows, in order (a MutationObserver). */
async function watchLabels() {
  await page.evaluate(() => {
    window.__labels = [];
    const read = () => {
      const el = document.querySelector('.job-status .status-label');
      const text = el?.textContent ?? null;
      if (text && window.__labels[window.__labels.length - 1] !== text) window.__labels.push(text);
    };
    window.__labelObserver?.disconnect();
    window.__labelObserver = new MutationObserver(read);
    window.__labelObserver.observe(document.body, { subtree: true, childList: true, characterData: true });
    read();
  });
}
const labels = () => page.evaluate(() => window.__labels.slice());

/** Waits for a job other than `previous` to complete and the page to show its version. */
async function nextVersion(previous, version) {
  await page.waitForFunction(
    (id) => {
      const el = document.querySelector('.job-status');
      return el && el.getAttribute('data-job') !== id && el.getAttribute('data-stage') === 'completed';
    },
    previous,
    { timeout: T },
  );
  await page.waitForFunction((v) => document.querySelector('#version')?.value === v, String(version), { timeout: T });
}

/** Fraction of pixels that differ from the background, and distinct colours, of a PNG. */
async function pixelStats(png) {
  return page.evaluate(async (b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const g = canvas.getContext('2d');
    g.drawImage(bitmap, 0, 0);
    const { data } = g.getImageData(0, 0, bitmap.width, bitmap.height);
    // The background is the colour of the corners.
    const [br, bg, bb] = [data[0], data[1], data[2]];
    let differ = 0;
    let blue = 0;
    const colours = new Set();
    for (let i = 0; i < data.length; i += 4) {
      const [r, gr, b] = [data[i], data[i + 1], data[i + 2]];
      if (Math.abs(r - br) + Math.abs(gr - bg) + Math.abs(b - bb) > 40) differ++;
      if (b > r + 25 && b > gr) blue++;
      colours.add((r >> 3) * 1024 + (gr >> 3) * 32 + (b >> 3));
    }
    const n = data.length / 4;
    return { width: bitmap.width, height: bitmap.height, differ: differ / n, blue: blue / n, colours: colours.size };
  }, png.toString('base64'));
}

try {
  await step('an empty browser is sent to sign in', async () => {
    await page.goto(opts.baseUrl + '/', { waitUntil: 'load' });
    await page.waitForURL(/\/signin/);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await shot('01-signin-laptop');
  });

  await step('create an account', async () => {
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.waitForURL(/\/register/);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'Describe a part', exact: true }).waitFor();
    assert((await page.evaluate(() => localStorage.getItem('cadscribe.token')))?.length > 20, 'the token is kept in localStorage');
    await page.getByText('No projects yet').waitFor();
  });

  await step('sign out and sign in again', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/signin/);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill('wrong password!');
    allow401 = true;
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Wrong email or password.').waitFor();
    allow401 = false;
    // From the keyboard alone: the email field has focus, Tab, Enter.
    await page.getByLabel('Email').focus();
    await page.keyboard.press('Control+A');
    await page.keyboard.type(email);
    await page.keyboard.press('Tab');
    await page.keyboard.press('Control+A');
    await page.keyboard.type(password);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Describe a part', exact: true }).waitFor();
  });

  await step('create a project', async () => {
    await page.getByRole('button', { name: 'New project' }).click();
    await page.getByLabel('Project name').fill('E2E flange');
    await page.getByRole('button', { name: 'Create project' }).click();
    await page.waitForURL(/\/projects\/project-/);
    await page.getByRole('heading', { name: 'E2E flange' }).waitFor();
    projectUrl = page.url();
    await page.locator('.chat[data-connection="live"]').waitFor();
  });

  await step('describe a part and watch the live status reach "Model ready"', async () => {
    await watchLabels();
    await page.getByLabel('Message').fill(PROMPT);
    await page.getByLabel('Message').press('Enter');
    await page.locator('.message.user', { hasText: PROMPT }).first().waitFor();
    await page.locator('.job-status').first().waitFor();
    await shot('02-progress-laptop');
    await page.locator('.job-status[data-stage="completed"]').waitFor({ timeout: T });
    const seen = await labels();
    console.log(`     status labels seen: ${seen.join(' → ')}`);
    assert(seen[seen.length - 1] === 'Model ready', `the last label is "Model ready" (saw ${seen.join(', ')})`);
    const ranks = seen.map((l) => ORDER.indexOf(l));
    assert(ranks.every((r) => r >= 0), `only known labels (saw ${seen.join(', ')})`);
    assert(ranks.every((r, i) => i === 0 || r > ranks[i - 1]), `labels in order (saw ${seen.join(', ')})`);
    // The stream was open before the message was sent, so the steps show
    // one by one (two of three at least, should two events share a frame).
    const working = ['Generating script…', 'Uploading to S3…', 'FreeCAD processing…'].filter((l) => seen.includes(l));
    assert(working.length >= 2, `the working steps show as they happen (saw ${seen.join(', ')})`);
    await page.locator('.message.assistant').first().waitFor();
  });

  await step('the 3D view draws the model', async () => {
    const viewer = page.locator('.viewer');
    await page.locator('.viewer[data-state="ready"]').waitFor({ timeout: T });
    // The viewer reads the GLB (binary glTF), the smallest of the meshes.
    const format = await viewer.getAttribute('data-format');
    assert(format === 'GLB', `the 3D view loaded the GLB (it loaded ${format})`);
    await page.waitForTimeout(500);
    const png = await viewer.screenshot({ path: join(opts.artifacts, '03-viewer.png') });
    const stats = await pixelStats(png);
    console.log(`     viewer ${stats.width}×${stats.height}: ${(stats.differ * 100).toFixed(1)}% drawn, ${(stats.blue * 100).toFixed(1)}% part colour, ${stats.colours} colours`);
    assert(stats.differ > 0.03, 'the canvas is not blank');
    assert(stats.blue > 0.02, 'the part is drawn in its colour');
    assert(stats.colours > 20, 'the part is shaded');
    // Fit and rotate from the keyboard-usable toolbar change the picture.
    await page.getByRole('button', { name: 'Rotate right' }).click();
    await page.getByRole('button', { name: 'Zoom in' }).click();
    await page.getByRole('button', { name: 'Fit to view' }).click();
    await page.waitForTimeout(300);
    const after = await pixelStats(await viewer.screenshot());
    assert(after.blue > 0.02, 'the part is still in view after fit');
    await shot('03-project-laptop');
  });

  await step('the measurements are shown', async () => {
    const metrics = page.locator('.metrics');
    await metrics.getByText('80 × 80 × 10 mm', { exact: true }).waitFor();
    const text = await metrics.textContent();
    assert(/Volume.*mm³|Volume.*cm³/.test(text), `a volume (${text})`);
    assert(/Surface area/.test(text), 'a surface area');
  });

  await step('the picture of the version shows in the chat and beside the version picker', async () => {
    for (const selector of ['.job-status img.chat-picture', '.version-pick img.version-thumb']) {
      const img = page.locator(`${selector}:not([hidden])`).first();
      await img.waitFor({ timeout: T });
      const size = await img.evaluate((el) => [el.naturalWidth, el.naturalHeight]);
      assert(size[0] === 512 && size[1] === 512, `${selector} shows the 512 × 512 picture (${size.join(' × ')})`);
    }
    const src = await page.locator('.version-pick img.version-thumb').getAttribute('src');
    const res = await fetch(src);
    assert(res.ok && res.headers.get('content-type') === 'image/png', `the picture is a PNG (${res.status} ${res.headers.get('content-type')})`);
    const stats = await pixelStats(Buffer.from(await res.arrayBuffer()));
    console.log(`     picture ${stats.width}×${stats.height}: ${(stats.differ * 100).toFixed(1)}% drawn, ${stats.colours} colours`);
    assert(stats.differ > 0.1, 'the picture is not blank');
    assert(stats.colours > 5, 'the picture is shaded');
    await shot('03-picture-chat', page.locator('.job-status').first());
  });

  await step('a follow-up in the chat makes version 2 at 15 mm', async () => {
    const previous = await page.locator('.job-status').getAttribute('data-job');
    const placeholder = await page.getByLabel('Message').getAttribute('placeholder');
    assert(placeholder.includes('make it 15 mm thick'), `the placeholder suggests a follow-up that works (${placeholder})`);
    await page.getByLabel('Message').fill('make it 15 mm thick');
    await page.getByLabel('Message').press('Enter');
    await nextVersion(previous, 2);
    await page.locator('.message.assistant', { hasText: '10 → 15' }).waitFor({ timeout: T });
    const metrics = page.locator('.metrics');
    await metrics.getByText('80 × 80 × 15 mm', { exact: true }).waitFor({ timeout: T });
    await metrics.getByText(/^Verified/).waitFor({ timeout: T });
  });

  await step('the Parameters form edits it: height 12 mm makes version 3', async () => {
    const form = page.locator('.parameters');
    await form.getByText('The named dimensions of version 2').waitFor({ timeout: T });
    const height = form.getByLabel('Height', { exact: true });
    assert((await height.inputValue()) === '15', `version 2's height is 15 mm (${await height.inputValue()})`);
    await shot('03-parameters-laptop');
    // A value the part cannot take is refused with the server's reason.
    allow400 = true;
    await height.fill('-2');
    await form.getByRole('button', { name: 'Apply' }).click();
    await form.locator('.form-error', { hasText: 'must be positive' }).waitFor();
    allow400 = false;
    assert((await height.getAttribute('aria-invalid')) === 'true', 'the refused value is marked');
    const previous = await page.locator('.job-status').getAttribute('data-job');
    await height.fill('12');
    await form.getByRole('button', { name: 'Apply' }).click();
    await nextVersion(previous, 3);
    await page.locator('.metrics').getByText('80 × 80 × 12 mm', { exact: true }).waitFor({ timeout: T });
    await form.getByText('The named dimensions of version 3').waitFor({ timeout: T });
    assert((await form.getByLabel('Height', { exact: true }).inputValue()) === '12', 'version 3 shows its height');
    await page.locator('.message.user', { hasText: '15 → 12' }).waitFor({ timeout: T });
  });

  await step('download the STL', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('button.download[data-format="STL"]').click()]);
    const path = join(opts.artifacts, 'model.stl');
    await download.saveAs(path);
    const data = readFileSync(path);
    const binary = data.length >= 84 && data.length === 84 + 50 * data.readUInt32LE(80);
    const ascii = data.subarray(0, 5).toString() === 'solid' && data.includes('facet');
    assert(binary || ascii, `an STL file (${data.length} bytes)`);
    assert(/\.stl$/.test(download.suggestedFilename()), `named .stl (${download.suggestedFilename()})`);
    console.log(`     ${download.suggestedFilename()}: ${data.length} bytes`);
  });

  let script = '';
  await step('read the script with syntax highlighting', async () => {
    // Tabs follow the arrow keys.
    await page.getByRole('tab', { name: 'Model' }).focus();
    await page.keyboard.press('ArrowRight');
    assert((await page.getByRole('tab', { name: 'Scripts' }).getAttribute('aria-selected')) === 'true', 'ArrowRight selects Scripts');
    await page.waitForURL(/\/scripts/);
    const code = page.locator('.code .source code');
    await code.waitFor();
    await page.locator('.code .hljs-keyword').first().waitFor();
    script = await code.textContent();
    assert(script.includes('import'), 'the script imports FreeCAD modules');
    await shot('04-script-laptop');
  });

  await step('upload a changed script and see what changed', async () => {
    const changed = script.replace(/\n*$/, '\n') + '# a note added by the end-to-end test\n';
    await page.getByLabel('or paste it here').fill(changed);
    await watchLabels();
    await page.getByRole('button', { name: 'Upload and build' }).click();
    await page.locator('.job-status[data-stage="completed"]').waitFor({ timeout: T });
    await page.waitForFunction(() => document.querySelector('#version')?.value === '4', null, { timeout: T });
    await page.getByRole('button', { name: 'Changes' }).click();
    await page.locator('.diff-row.add', { hasText: 'a note added by the end-to-end test' }).waitFor();
    await page.getByText('Changes from version 3 to version 4').waitFor();
    await shot('05-diff-laptop');
    await page.getByRole('button', { name: 'Code' }).click();
  });

  await step('read the processing logs', async () => {
    await page.getByRole('tab', { name: 'Logs' }).click();
    await page.locator('.log-record', { hasText: 'Model generated successfully' }).first().waitFor({ timeout: T });
    await page.locator('.history').first().waitFor();
    await shot('06-logs-laptop');
  });

  await step('a failure shows its reason and can be retried', async () => {
    await page.getByRole('tab', { name: 'Model' }).click();
    // An uploaded script has no part spec, so nothing to edit.
    await page.locator('.parameters', { hasText: 'Version 4 was not built from a part description' }).waitFor();
    await watchLabels();
    await page.getByLabel('Message').fill('a teapot shaped like a dragon');
    await page.getByRole('button', { name: 'Send' }).click();
    const status = page.locator('.job-status[data-stage="failed"]');
    await status.waitFor({ timeout: T });
    const detail = await status.locator('.status-detail').textContent();
    assert(/flange/i.test(detail ?? ''), `the reason lists what is understood (${detail})`);
    const first = await status.getAttribute('data-job');
    await shot('07-failure-laptop');
    await status.getByRole('button', { name: 'Retry' }).click();
    await page.waitForFunction((id) => {
      const el = document.querySelector('.job-status');
      return el && el.getAttribute('data-job') !== id && el.getAttribute('data-stage') === 'failed';
    }, first, { timeout: T });
  });

  await step('a failed run shows its class, line and suggestion, and marks the line', async () => {
    await page.getByRole('tab', { name: 'Scripts' }).click();
    const failing = [
      'import FreeCAD as App',
      'import Part',
      '',
      'doc = App.newDocument("Block")',
      'box = Part.makeBox(58, 30, 10)',
      'rounded = box.makeFillet(20, box.Edges)',
      'doc.addObject("Part::Feature", "Block").Shape = rounded',
      '',
    ].join('\n');
    await page.getByLabel('or paste it here').fill(failing);
    await page.getByRole('button', { name: 'Upload and build' }).click();
    const status = page.locator('.job-status[data-stage="failed"] .diagnosis');
    await status.waitFor({ timeout: T });
    const text = await status.textContent();
    assert(/FreeCAD exception/.test(text ?? ''), `the class is shown (${text})`);
    assert(/makeFillet/.test(text ?? ''), `the failing line's code is shown (${text})`);
    assert(/Try:/.test(text ?? ''), `a suggestion is shown (${text})`);
    await status.getByRole('button', { name: 'line 6' }).click();
    await page.locator('.code .line-mark[data-line="6"]').waitFor({ timeout: T });
    assert((await page.getByRole('tab', { name: 'Scripts' }).getAttribute('aria-selected')) === 'true', 'the Scripts tab shows the line');
    await shot('07b-diagnosis-laptop');
    await page.getByRole('tab', { name: 'Model' }).click();
  });

  await step('phone width: readable project page', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(projectUrl, { waitUntil: 'load' });
    await page.locator('.viewer[data-state="ready"]').waitFor({ timeout: T });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(overflow <= 1, `no sideways scrolling on a phone (${overflow}px too wide)`);
    await shot('08-project-phone');
  });

  await step('rename and delete the project from the list', async () => {
    await page.goto(opts.baseUrl + '/', { waitUntil: 'load' });
    await page.locator('.project-card img.project-thumb:not([hidden])').first().waitFor({ timeout: T });
    await shot('09-projects-phone');
    await page.setViewportSize({ width: 1366, height: 860 });
    await page.getByRole('button', { name: 'Rename E2E flange' }).click();
    await page.getByLabel('Project name').fill('E2E flange, renamed');
    await page.getByRole('button', { name: 'Rename', exact: true }).click();
    await page.getByRole('link', { name: 'E2E flange, renamed' }).waitFor();
    await shot('10-projects-laptop');
    await page.getByRole('button', { name: 'Delete E2E flange, renamed' }).click();
    await page.getByRole('button', { name: 'Delete project' }).click();
    await page.getByText('No projects yet').waitFor();
  });

  await step('describe a part from the home page, then delete its project', async () => {
    await page.getByRole('button', { name: 'a 40 x 20 x 10 mm plate with a 6 mm through hole' }).click();
    await page.getByRole('button', { name: 'Generate model' }).click();
    await page.waitForURL(/\/projects\/project-/);
    await page.locator('.job-status[data-stage="completed"]').waitFor({ timeout: T });
    await page.locator('.viewer[data-state="ready"]').waitFor({ timeout: T });
    await page.locator('.metrics').getByText('40 × 20 × 10 mm', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    await page.getByRole('button', { name: 'Delete project' }).click();
    await page.waitForURL((url) => url.pathname === '/');
    await page.getByText('No projects yet').waitFor();
  });

  await step('a rejected token sends the person back to sign in', async () => {
    allow401 = true;
    await page.evaluate(() => localStorage.setItem('cadscribe.token', 'not-a-valid-token'));
    await page.reload({ waitUntil: 'load' });
    await page.waitForURL(/\/signin/);
    await page.getByText('Please sign in again').waitFor();
    assert((await page.evaluate(() => localStorage.getItem('cadscribe.token'))) === null, 'the bad token is gone');
    allow401 = false;
    await page.setViewportSize({ width: 390, height: 844 });
    await shot('11-signin-phone');
  });

  await step('no console errors', async () => {
    assert(consoleErrors.length === 0, consoleErrors.join('\n'));
  });
} finally {
  if (failed) {
    try {
      await shot('failure');
      writeFileSync(join(opts.artifacts, 'failure.html'), await page.content());
    } catch {
      // the page may be gone
    }
    if (consoleErrors.length) console.log('console errors:\n  ' + consoleErrors.join('\n  '));
  }
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}

const passed = results.filter((r) => r.status === 'passed').length;
const failedCount = results.filter((r) => r.status === 'failed').length;
const skipped = results.filter((r) => r.status === 'skipped').length;
console.log(`     ${apiRequests} API requests in all, ${rateLimited} rate-limited`);
console.log(`web e2e: ${passed} passed, ${failedCount} failed${skipped ? `, ${skipped} skipped` : ''}`);
console.log(`screenshots: ${opts.artifacts}`);
process.exit(failedCount ? 1 : 0);
