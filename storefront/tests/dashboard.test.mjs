// The admin's metrics page (#/admin/metrics, docs/adr/0058) in a real browser against a
// running platform: orders are placed through the API (one confirmed, one cancelled), then the
// page is watched until every graph has drawn series from Prometheus and the orders graph has
// seen orders placed, confirmed and cancelled. A customer is refused; a missing Prometheus is
// named in words.
//
// Run with tests/run [GATEWAY_URL]. When Prometheus does not run (plain `local-stack/up`), the
// live test is skipped and the page's message is checked against the real answer instead;
// METRICS_PAGE_REQUIRES_PROMETHEUS=1 (set by local-stack/test) makes a missing Prometheus a
// failure. Settings: those of support.mjs.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  PASSWORD as password,
  SHOP,
  call,
  grantAdmin,
  launchBrowser,
  logIn,
  newPage as pageOf,
  poll,
  register,
  screenshot,
} from './support.mjs';

const REQUIRE_PROMETHEUS = process.env.METRICS_PAGE_REQUIRES_PROMETHEUS === '1';
// Orders reach the graph through the saga, a scrape (every 5 s) and a 1-minute rate.
const GRAPH_DEADLINE_MS = 150_000;
// A first order of a kind creates its counter; rate() sees an increase only from the second
// scrape of it on, so another pair of orders is placed when the graph still shows none.
const ORDERS_AGAIN_AFTER_MS = 20_000;
const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const admin = { email: `metrics-admin-${run}@example.com`, name: `Metrics admin ${run}` };
const customer = { email: `metrics-customer-${run}@example.com`, name: `Metrics customer ${run}` };
const productId = `sf-metrics-${run}`;

let browser;
let adminToken;
let prometheusRunning;
let sku;

async function newPage() {
  const page = await pageOf(browser);
  const problems = page.problems;
  // Errors in the console too (a refused script or style would show there), except the
  // answers the tests ask for on purpose (401, 403, 503) and the favicon the shop has none of.
  page.on('console', (message) => {
    const where = message.location().url || '';
    if (message.type() !== 'error' || /status of (401|403|503)/.test(message.text()) || where.endsWith('/favicon.ico')) return;
    problems.push(`${message.text()} (${where})`);
  });
  return page;
}

async function logInInBrowser(page, user) {
  await page.goto(`${SHOP}#/login`);
  await page.getByLabel('E-mail').fill(user.email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('button', { name: 'Log out', exact: true }).waitFor();
}

/** Places an order of one unit with `card` and waits for the saga to end it. */
async function placeOrder(token, card, expected) {
  const placed = await poll(`ordering accepts an order of ${sku}`, async () => {
    const answer = await call('POST', '/orders', {
      token,
      key: `metrics-${card}-${Date.now()}-${Math.random()}`,
      body: { lines: [{ productId: sku, quantity: 1 }], paymentToken: card },
    });
    return answer.status === 201 ? answer : null;
  });
  const orderId = placed.body.data.orderId;
  await poll(`order ${orderId} ${expected}`, async () => {
    const order = await call('GET', `/orders/${orderId}`, { token });
    return order.status === 200 && order.body.data.status === expected;
  }, 60_000);
}

/** What the page's summary says of one series of one graph. */
async function peakOf(page, chart, series) {
  const peak = await page.locator(`[data-testid=chart-${chart}] li[data-series="${series}"]`).getAttribute('data-peak');
  return peak === null || peak === '' ? null : Number(peak);
}

before(async () => {
  await register(admin);
  grantAdmin(admin.email);
  adminToken = await logIn(admin);
  const probe = await call('GET', '/admin/prometheus/api/v1/query?query=up', { token: adminToken });
  prometheusRunning = probe.status === 200;
  if (!prometheusRunning) {
    assert.equal(probe.status, 503, JSON.stringify(probe.body));
    assert.equal(probe.body.error.code, 'PROMETHEUS_UNAVAILABLE');
  }
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
});

test('the metrics page draws live graphs of orders, latency, lag, dead letters and 5xx', async (t) => {
  if (!prometheusRunning) {
    assert.ok(!REQUIRE_PROMETHEUS, 'Prometheus must run for this test (local-stack/test starts it with OBSERVABILITY=1 up)');
    t.skip('Prometheus is not running (start it with OBSERVABILITY=1 local-stack/up)');
    return;
  }
  // A product of its own with stock, and a customer who buys it: one order confirmed, one cancelled.
  const created = await call('POST', '/admin/products', {
    token: adminToken,
    body: { productId, name: `Metrics probe ${run}`, priceMinor: 500, currency: 'EUR' },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const product = await call('GET', `/products/${productId}`);
  assert.equal(product.status, 200, JSON.stringify(product.body));
  sku = product.body.data.skus[0].sku;
  await poll(`stock of ${sku} set`, async () =>
    (await call('PUT', `/admin/inventory/${sku}`, { token: adminToken, body: { onHand: 100 } })).status === 200);
  await register(customer);
  const customerToken = await logIn(customer);
  const placePair = () =>
    Promise.all([placeOrder(customerToken, 'tok_approve', 'CONFIRMED'), placeOrder(customerToken, 'tok_decline', 'CANCELLED')]);
  await placePair();

  const page = await newPage();
  await logInInBrowser(page, admin);
  await page.getByRole('link', { name: 'Admin', exact: true }).click();
  await page.getByRole('link', { name: 'Metrics', exact: true }).click();
  await page.getByRole('heading', { name: 'Metrics' }).waitFor();
  await page.locator('[data-testid=metrics-updated]').waitFor({ timeout: 30_000 });

  let lastPair = Date.now();
  await poll('the orders graph shows orders placed, confirmed and cancelled', async () => {
    const peaks = await Promise.all(['placed', 'confirmed', 'cancelled'].map((series) => peakOf(page, 'orders', series)));
    if (peaks.every((peak) => peak > 0)) return true;
    if (Date.now() - lastPair > ORDERS_AGAIN_AFTER_MS) {
      lastPair = Date.now();
      await placePair();
    }
    return false;
  }, GRAPH_DEADLINE_MS, 1000);

  // Every graph has drawn at least one series with points, on a canvas.
  for (const chart of ['orders', 'latency', 'relay-lag', 'consumer-lag', 'dead-letters', 'errors']) {
    const figure = page.locator(`[data-testid=chart-${chart}]`);
    await poll(`the ${chart} graph has a series with points`, async () =>
      Number(await figure.getAttribute('data-series-with-points')) > 0, 30_000, 500);
    assert.equal(await figure.locator('canvas').count(), 1, `${chart} is drawn on a canvas`);
  }
  // Orders went through place-order and the saga's steps, so their latencies have points.
  for (const series of ['place-order (HTTP)', 'reserve-stock', 'authorize-payment', 'confirm-order']) {
    assert.ok((await peakOf(page, 'latency', series)) > 0, `the latency graph has points for ${series}`);
  }
  // Live: the page asks again every 5 s, and the time it says it was updated moves on.
  const updated = await page.locator('[data-testid=metrics-updated]').innerText();
  await poll('the graphs are redrawn', async () =>
    (await page.locator('[data-testid=metrics-updated]').innerText()) !== updated, 15_000, 500);
  await page.getByRole('heading', { name: 'Metrics' }).scrollIntoViewIfNeeded();
  await screenshot(page, 'metrics');
  assert.deepEqual(page.problems, []);
});

test('a customer is told the metrics are for admins', async () => {
  await register({ ...customer, email: `other-${customer.email}` });
  const page = await newPage();
  await logInInBrowser(page, { ...customer, email: `other-${customer.email}` });
  await page.goto(`${SHOP}#/admin/metrics`);
  const alert = page.locator('[role=alert][data-code=FORBIDDEN]');
  await alert.waitFor();
  assert.match(await alert.innerText(), /admins only/);
});

test('without Prometheus the page says so instead of drawing nothing', async () => {
  const page = await newPage();
  if (prometheusRunning) {
    // The gateway's answer when Prometheus does not answer (the gateway's own tests check it).
    await page.route('**/admin/prometheus/api/v1/**', (route) =>
      route.fulfill({
        status: 503,
        contentType: 'application/json',
        body: JSON.stringify({ error: { code: 'PROMETHEUS_UNAVAILABLE', message: 'Prometheus does not answer.' } }),
      }));
  }
  await logInInBrowser(page, admin);
  await page.goto(`${SHOP}#/admin/metrics`);
  const alert = page.locator('[role=alert][data-code=PROMETHEUS_UNAVAILABLE]');
  await alert.waitFor();
  assert.match(await alert.innerText(), /Prometheus is not running.*OBSERVABILITY=1 local-stack\/up/);
  assert.equal(await page.locator('.chart').count(), 0);
  if (!prometheusRunning) await screenshot(page, 'metrics-without-prometheus');
});
