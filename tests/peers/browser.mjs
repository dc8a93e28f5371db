// Headless Chromium (Debian's, driven by playwright-core) as a person: open Cairn, pick the
// organization, sign in with the first admin's temporary password, choose a password, add
// a number, see it, sign out, sign in again, watch the records list update live. Prints one JSON line; exits non-zero at the first failure.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';

const base = process.env.CAIRN_URL;
const org = process.env.ORG;
const email = process.env.EMAIL;
const temporary = process.env.TEMPORARY_PASSWORD;
const chosen = process.env.NEW_PASSWORD;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const steps = [];
const cspViolations = [];
try {
  const page = await browser.newPage();
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text()); });

  await page.goto(`${base}/`);
  await page.getByLabel('Organization', { exact: true }).fill(org);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(temporary);
  await page.getByRole('button', { name: 'Sign in' }).click();
  steps.push('signed in with the temporary password');

  await page.getByLabel('New password', { exact: true }).fill(chosen);
  await page.getByRole('button', { name: 'Set password and continue' }).click();
  await page.waitForURL(`${base}/app/numbers`);
  steps.push('chose a password');

  await page.getByLabel('Value', { exact: true }).fill('42.5');
  await page.getByRole('button', { name: 'Add number' }).click();
  await page.waitForURL(`${base}/app/numbers`);
  const cell = page.getByRole('cell', { name: '42.5', exact: true });
  assert.equal(await cell.count(), 1, 'the number is listed');
  assert.equal((await page.locator('#stat-count').textContent()).trim(), '1');
  steps.push('added a number and saw it');

  // Sign-out sits in the account menu.
  await page.locator('details.account > summary').click();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(`${base}/`);
  await page.getByRole('heading', { name: 'Sign in to your organization' }).waitFor();
  await page.goto(`${base}/app/numbers`);
  assert.equal(new URL(page.url()).pathname, '/', 'signed-out visitors go to sign-in');
  steps.push('signed out');

  // The same person signs in again with the password they chose.
  await page.goto(`${base}/t/${org}/`);
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(chosen);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${base}/app/numbers`);
  assert.equal(await page.getByRole('cell', { name: '42.5', exact: true }).count(), 1);
  steps.push('signed in again');

  // The records list updates live when someone else creates a record.
  await page.goto(`${base}/app/records`);
  await page.getByText('Live:', { exact: false }).waitFor();
  const created = await fetch(`${base}/api/v1/records`, {
    method: 'POST',
    headers: { authorization: `Bearer ${process.env.API_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'Made elsewhere' }),
  });
  assert.equal(created.status, 201);
  await page.getByRole('link', { name: 'Made elsewhere' }).waitFor({ timeout: 10000 });
  steps.push('saw a record appear live');

  assert.deepEqual(cspViolations, [], 'no Content-Security-Policy violations');
  console.log(JSON.stringify({ ok: true, steps }));
} finally {
  await browser.close();
}
