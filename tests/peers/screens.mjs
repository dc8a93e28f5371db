// Every page of Cairn in headless Chromium (Debian's, driven by playwright-core), 1280 and
// 390 px wide, in light and dark: a screenshot of each into OUT, and a failure for
//   - a document wider than the viewport (horizontal overflow),
//   - text whose colour against the background it sits on (found by walking up to the first
//     opaque background, semi-transparent layers composited) is below WCAG AA: 4.5:1, or
//     3:1 for large text (24 px, or 18.66 px bold),
//   - any console error, uncaught exception or failed request.
// Each page is checked as it loads, then with its disclosures open (forms), then with the
// account menu and (narrow) the navigation menu open.
// Env: CAIRN_URL, ORG, EMAIL, PASSWORD, OUT, SIGNED_OUT and SIGNED_IN (JSON lists of
// {name, path, status?, menus?, follows?}: status is the page's expected HTTP status, 200 by
// default; menus: screenshots of the open menus too; follows: the page's live block must
// change by itself within 10 s; charts: at least this many charts, each a visible SVG with
// drawn marks, not the empty chart's message).
// Prints one JSON line; exits non-zero with every problem found.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const base = process.env.CAIRN_URL;
const out = process.env.OUT;
const signedOut = JSON.parse(process.env.SIGNED_OUT);
const signedIn = JSON.parse(process.env.SIGNED_IN);
mkdirSync(out, { recursive: true });

const WIDTHS = [1280, 390];
const SCHEMES = ['light', 'dark'];
const problems = [];
let shots = 0;
let checked = 0;

// Runs in the page: every rendered text (text nodes, form values, placeholders) whose
// contrast with its background is below AA.
function lowContrast() {
  const parse = (c) => {
    const m = /rgba?\(([^)]+)\)/.exec(c || '');
    if (!m) return null;
    const p = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const over = (top, under) => ({
    r: top.r * top.a + under.r * (1 - top.a),
    g: top.g * top.a + under.g * (1 - top.a),
    b: top.b * top.a + under.b * (1 - top.a),
    a: 1,
  });
  const lin = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  const lum = (c) => 0.2126 * lin(c.r) + 0.7152 * lin(c.g) + 0.0722 * lin(c.b);
  const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
  const dark = matchMedia('(prefers-color-scheme: dark)').matches;
  const canvas = dark ? { r: 18, g: 18, b: 18, a: 1 } : { r: 255, g: 255, b: 255, a: 1 };
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; }
    }
    let bg = layers.length && layers[layers.length - 1].a >= 1 ? layers.pop() : canvas;
    while (layers.length) bg = over(layers.pop(), bg);
    return bg;
  };
  const shown = (el) => {
    const r = el.getBoundingClientRect();
    if (r.width <= 1 || r.height <= 1) return false;
    const cs = getComputedStyle(el);
    return cs.visibility !== 'hidden' && cs.display !== 'none' && el.getClientRects().length > 0;
  };
  const name = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += `#${el.id}`;
    else if (el.className && typeof el.className === 'string') s += `.${el.className.trim().split(/\s+/).join('.')}`;
    const p = el.parentElement;
    return p && p !== document.body ? `${name(p).split(' > ').slice(-2).join(' > ')} > ${s}` : s;
  };
  const found = [];
  const judge = (el, text, colour) => {
    const cs = getComputedStyle(el);
    const fg = parse(colour);
    if (!fg) return;
    const bg = background(el);
    const size = parseFloat(cs.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(cs.fontWeight) >= 700);
    const need = large ? 3 : 4.5;
    const got = ratio(fg.a < 1 ? over(fg, bg) : fg, bg);
    if (got < need) {
      const hex = (c) => `rgb(${Math.round(c.r)},${Math.round(c.g)},${Math.round(c.b)})`;
      found.push(`${name(el)} "${text.slice(0, 40)}": ${got.toFixed(2)}:1 < ${need}:1 (${hex(fg)} on ${hex(bg)})`);
    }
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const text = n.textContent.trim();
    const el = n.parentElement;
    if (!text || !el || seen.has(el) || el.closest('script, style, option')) continue;
    seen.add(el);
    if (el.closest('.visually-hidden') || !shown(el)) continue;
    judge(el, text, getComputedStyle(el).color);
  }
  for (const el of document.querySelectorAll('input, textarea, select')) {
    if (el.disabled || ['hidden', 'checkbox', 'radio'].includes(el.type) || !shown(el)) continue;
    if (el.value) judge(el, el.value, getComputedStyle(el).color);
    else if (el.placeholder) judge(el, el.placeholder, getComputedStyle(el, '::placeholder').color);
  }
  return found;
}

async function check(page, label, file, fullPage = true) {
  checked += 1;
  const widths = await page.evaluate(() => ({ doc: document.documentElement.scrollWidth, view: document.documentElement.clientWidth }));
  if (widths.doc > widths.view) problems.push(`${label}: the page is ${widths.doc}px wide in a ${widths.view}px viewport`);
  for (const p of await page.evaluate(lowContrast)) problems.push(`${label}: low contrast: ${p}`);
  if (file) {
    await page.screenshot({ path: join(out, file), fullPage });
    shots += 1;
  }
}

async function visit(page, item, width, scheme, state) {
  const label = `${item.name} @${width} ${scheme}`;
  state.expected = item.status || 200;
  state.label = label;
  const resp = await page.goto(`${base}${item.path}`, { waitUntil: 'load' });
  if (resp.status() !== state.expected) problems.push(`${label}: status ${resp.status()}, expected ${state.expected}`);
  await page.evaluate(() => document.fonts.ready);
  const stem = `${item.name}-${width}-${scheme}`;
  if (item.charts) {
    // A chart with data draws bars (rect) or lines (path) beyond its frame.
    const drawn = await page.evaluate(() => [...document.querySelectorAll('figure.chart svg')]
      .filter((svg) => svg.getBoundingClientRect().width > 0)
      .filter((svg) => svg.querySelectorAll('path, rect[rx]').length > 0).length);
    if (drawn < item.charts) problems.push(`${label}: ${drawn} charts with data drawn, expected at least ${item.charts}`);
  }
  await check(page, label, `${stem}.png`);
  const disclosures = await page.evaluate(() => {
    const closed = [...document.querySelectorAll('main details:not([open])')];
    closed.forEach((d) => { d.open = true; });
    return closed.length;
  });
  if (disclosures) await check(page, `${label} (forms open)`, `${stem}-open.png`);
  if (item.follows) {
    // A page that follows something live ([data-poll]) swaps in what it fetches.
    const block = () => document.querySelector('[data-poll]')?.textContent ?? '';
    const before = await page.evaluate(block);
    await page.waitForFunction((b) => (document.querySelector('[data-poll]')?.textContent ?? '') !== b, before, { timeout: 10000 })
      .catch(() => problems.push(`${label}: the live block did not change in 10 s`));
  }
  for (const menu of ['details.account', 'details.nav-toggle']) {
    const summary = page.locator(`${menu} > summary`);
    if (!(await summary.count()) || !(await summary.isVisible())) continue;
    await summary.click();
    await check(page, `${label} (${menu} open)`, item.menus ? `${stem}-${menu.split('.')[1]}.png` : null, false);
    await summary.click();
  }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
try {
  for (const scheme of SCHEMES) {
    for (const width of WIDTHS) {
      const context = await browser.newContext({ viewport: { width, height: 900 }, colorScheme: scheme, reducedMotion: 'reduce' });
      const page = await context.newPage();
      const state = { label: '', expected: 200 };
      page.on('console', (m) => {
        if (m.type() !== 'error') return;
        // The browser reports the page's own expected error status (a 404 page) as a console error.
        const own = state.expected >= 400 && m.text().includes(`status of ${state.expected}`);
        if (!own) problems.push(`${state.label}: console error: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`${state.label}: uncaught: ${e.message}`));
      page.on('requestfailed', (r) => {
        // Leaving the records page closes its live stream, leaving a run's page the fetch
        // that follows the run, and leaving a report's preview the PDF its viewer reads
        // (through Chromium's built-in PDF viewer): not failures.
        const aborted = r.failure()?.errorText === 'net::ERR_ABORTED';
        const pdfViewer = 'chrome-extension://mhjfbmdgcfjbbpaeojofohoefgiehjai/';
        const left = r.url().includes('/app/records/stream') || /\/app\/metrics\/runs\/[^/]+\/progress$/.test(r.url())
          || /\/app\/reports\/[^/]+\/pdf$/.test(r.url()) || r.url().startsWith(pdfViewer);
        if (aborted && left) return;
        problems.push(`${state.label}: request failed: ${r.url()} ${r.failure()?.errorText}`);
      });
      page.on('response', (r) => {
        if (r.status() >= 400 && r.request().resourceType() !== 'document') {
          problems.push(`${state.label}: ${r.status()} for ${r.url()}`);
        }
      });
      for (const item of signedOut) await visit(page, item, width, scheme, state);
      state.label = `sign-in @${width} ${scheme}`;
      state.expected = 200;
      await page.goto(`${base}/t/${process.env.ORG}/`);
      await page.getByLabel('Email', { exact: true }).fill(process.env.EMAIL);
      await page.getByLabel('Password', { exact: true }).fill(process.env.PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(/\/app\//);
      for (const item of signedIn) await visit(page, item, width, scheme, state);
      await context.close();
    }
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify({ ok: problems.length === 0, checked, shots, out, problems }));
if (problems.length) process.exit(1);
