// What the browser tests share: the platform's address, calls to its API for setting up what
// a test does not show in the browser, polling with a deadline, making an admin, Chromium and
// screenshots. Settings: BASE_URL (the gateway), GRANT_ADMIN (the identity-admin binary) with
// IDENTITY_DATABASE_URL, CHROMIUM (/usr/bin/chromium), SCREENSHOT_DIR (tests/output).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';

export const BASE = (process.env.BASE_URL || 'http://127.0.0.1:8080').replace(/\/$/, '');
export const SHOP = `${BASE}/shop/`;
export const SCREENSHOTS = process.env.SCREENSHOT_DIR || new URL('./output/', import.meta.url).pathname;
/** Every account the tests make has this password. */
export const PASSWORD = 'a long enough passphrase';

/** A call to the API: { status, body }, the body parsed as JSON when it is JSON. */
export async function call(method, path, { token, body, key } = {}) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (key) headers['idempotency-key'] = key;
  const response = await fetch(BASE + path, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  return { status: response.status, body: parsed };
}

/** Polls `check` every `every` ms until it returns something truthy, or fails after `deadline` ms. */
export async function poll(what, check, deadline = 30_000, every = 250) {
  const end = Date.now() + deadline;
  while (Date.now() < end) {
    const result = await check();
    if (result) return result;
    await new Promise((resolve) => setTimeout(resolve, every));
  }
  throw new Error(`${what} did not happen within ${deadline} ms`);
}

/** Registers `user` ({ email, name }) with PASSWORD. */
export async function register(user) {
  const registered = await call('POST', '/auth/register', {
    body: { email: user.email, password: PASSWORD, displayName: user.name },
  });
  assert.equal(registered.status, 201, JSON.stringify(registered.body));
}

/** A fresh access token of `user`. */
export async function logIn(user) {
  const answer = await call('POST', '/auth/login', { body: { email: user.email, password: PASSWORD } });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body.data.accessToken;
}

/** Gives the account of `email` the admin role, with identity-admin as an operator would. */
export function grantAdmin(email) {
  const binary = process.env.GRANT_ADMIN;
  assert.ok(binary, 'GRANT_ADMIN must name the identity-admin binary (tests/run sets it)');
  execFileSync(binary, ['grant-admin', email], {
    env: { ...process.env, DATABASE_URL: process.env.IDENTITY_DATABASE_URL },
    stdio: 'pipe',
  });
}

/** Headless Chromium, Debian's. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

/** A page of its own context; `page.problems` collects the page's uncaught errors. */
export async function newPage(browser) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(error.message));
  page.problems = problems;
  return page;
}

export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: `${SCREENSHOTS}/${name}.png`, fullPage: true });
}
