// Headless Chromium (Debian's, driven by playwright-core) as an admin of the instances
// console: sign in, open the instances list, refresh it in place, open an instance, see its
// charts, reboot it after the confirmation that names it. Env: CAIRN_URL, ORG, EMAIL,
// PASSWORD, INSTANCE_ID, INSTANCE_NAME. Prints one JSON line; exits non-zero at the first
// failure.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';

const base = process.env.CAIRN_URL;
const id = process.env.INSTANCE_ID;
const name = process.env.INSTANCE_NAME;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const steps = [];
const problems = [];
try {
  const page = await browser.newPage();
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(String(e)));

  await page.goto(`${base}/t/${process.env.ORG}/`);
  await page.getByLabel('Email', { exact: true }).fill(process.env.EMAIL);
  await page.getByLabel('Password', { exact: true }).fill(process.env.PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.pathname.startsWith('/app/'));
  steps.push('signed in');

  await page.goto(`${base}/app/instances`);
  await page.getByRole('link', { name, exact: true }).waitFor();
  const row = page.getByRole('row').filter({ hasText: id });
  assert.equal(await row.locator('.badge').textContent(), 'running');
  steps.push('saw the instance running');

  // Refresh swaps the table in place: no navigation.
  let navigated = false;
  page.on('framenavigated', (f) => { if (f === page.mainFrame()) navigated = true; });
  const refreshed = page.waitForResponse((r) => r.url().includes('/app/instances/rows') && r.status() === 200);
  await page.getByRole('link', { name: 'Refresh' }).click();
  await refreshed;
  await page.getByRole('link', { name, exact: true }).waitFor();
  assert.equal(navigated, false, 'the list refreshed in place');
  steps.push('refreshed the list in place');

  await page.getByRole('link', { name, exact: true }).click();
  await page.getByRole('heading', { name, level: 1 }).waitFor();
  assert.ok(await page.locator('figure.chart svg').count() >= 4, 'the charts are drawn');
  assert.equal(await page.locator('figure.chart').first().locator('svg:visible').count(), 1, 'one size shows');
  steps.push('opened the instance with its charts');

  await page.getByRole('link', { name: 'Reboot…' }).click();
  await page.getByRole('heading', { name: 'Reboot instance' }).waitFor();
  const question = await page.locator('section.confirm p').textContent();
  assert.ok(question.includes(name) && question.includes(id), `the confirmation names the instance: ${question}`);
  steps.push('was asked to confirm, naming the instance');

  await page.getByRole('button', { name: 'Reboot', exact: true }).click();
  await page.waitForURL((u) => u.search.includes('done=reboot'));
  await page.getByText('Reboot requested').waitFor();
  steps.push('rebooted the instance');

  assert.deepEqual(problems, [], 'no console errors');
  console.log(JSON.stringify({ ok: true, steps }));
} finally {
  await browser.close();
}
