// The storefront in a real browser (headless Chromium driven by playwright-core) against a
// running platform: a new visitor signs up, searches, picks an option, checks out and sees
// the saga confirm the order; a declined card ends CANCELLED with its reason; one line is
// refunded; an admin creates a product that then appears in the shop.
//
// Run with tests/run [GATEWAY_URL] (it installs Chromium and the npm packages when missing).
// Settings: those of support.mjs.
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

const SAGA_DEADLINE_MS = 60_000;
const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const shopper = { email: `shopper-${run}@example.com`, name: `Shopper ${run}` };
const admin = { email: `admin-${run}@example.com`, name: `Admin ${run}` };
// A word only this run's products carry, so the search finds them and nothing else.
const word = `mug${run}`;
const mugId = `sf-mug-${run}`;

let browser;

async function registerAndLogIn(user) {
  await register(user);
  return () => logIn(user);
}

function newPage() {
  return pageOf(browser);
}

async function statusOf(page, status) {
  await page.locator('[data-testid=order-status]', { hasText: new RegExp(`^${status}$`) }).waitFor({ timeout: SAGA_DEADLINE_MS });
}

before(async () => {
  // The admin who sets up the mug (through the API) and later creates a product in the browser.
  const adminToken = await registerAndLogIn(admin);
  grantAdmin(admin.email);
  const token = await adminToken();
  const created = await call('POST', '/admin/products', {
    token,
    body: {
      productId: mugId,
      name: `Storefront ${word}`,
      description: 'A mug the browser tests buy.',
      priceMinor: 1290,
      currency: 'EUR',
      optionGroups: [{ name: 'Colour', options: [{ name: 'Black' }, { name: 'White', surchargeMinor: 200 }] }],
    },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const product = await call('GET', `/products/${mugId}`);
  assert.equal(product.status, 200, JSON.stringify(product.body));
  const skus = product.body.data.skus.map((entry) => entry.sku);
  assert.equal(skus.length, 2, 'one SKU per colour');
  for (const sku of skus) {
    // Inventory opens a SKU's stock when its event arrives; until then the SKU is unknown there.
    await poll(`stock of ${sku} set`, async () => (await call('PUT', `/admin/inventory/${sku}`, { token, body: { onHand: 20 } })).status === 200);
  }
  // Ordering learns the SKUs' prices from catalog's events; the cart refuses them until then.
  const probe = await registerAndLogIn({ email: `probe-${run}@example.com`, name: 'Probe' });
  const probeToken = await probe();
  for (const sku of skus) {
    await poll(`ordering knows ${sku}`, async () => {
      const added = await call('POST', '/cart/items', { token: probeToken, key: `probe-${sku}-${Date.now()}`, body: { sku, quantity: 1 } });
      return added.status === 201;
    });
  }
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
});

let shopperPage;
let confirmedOrderUrl;

test('a new visitor signs up, searches, picks an option, checks out with tok_approve and sees CONFIRMED', async () => {
  const page = (shopperPage = await newPage());
  await page.goto(SHOP);
  await page.getByRole('link', { name: 'Sign up', exact: true }).click();
  await page.getByLabel('Your name').fill(shopper.name);
  await page.getByLabel('E-mail').fill(shopper.email);
  await page.getByLabel('Password (at least 12 characters)').fill(password);
  await page.getByRole('button', { name: 'Sign up', exact: true }).click();
  await page.getByRole('button', { name: 'Log out', exact: true }).waitFor();

  await page.getByLabel('Search').fill(word);
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  const result = page.getByRole('link', { name: `Storefront ${word}` });
  await result.waitFor();
  await screenshot(page, 'shop');
  await result.click();

  await page.getByRole('heading', { name: `Storefront ${word}` }).waitFor();
  await page.getByLabel('Colour').selectOption('White');
  await page.locator('[data-testid=sku-price]', { hasText: '14.90' }).waitFor();
  await page.locator('[data-testid=availability]', { hasText: '20 in stock' }).waitFor();
  await screenshot(page, 'product');
  await page.getByRole('button', { name: 'Add to cart' }).click();
  await page.getByText('added to your cart').waitFor();
  // A second line: the black one, so that one line can be refunded later.
  await page.getByLabel('Colour').selectOption('Black');
  await page.locator('[data-testid=sku-price]', { hasText: '12.90' }).waitFor();
  await page.getByRole('button', { name: 'Add to cart' }).click();

  await page.getByRole('link', { name: 'Cart', exact: true }).click();
  await page.getByRole('heading', { name: 'Your cart' }).waitFor();
  await page.locator('[data-testid=total]', { hasText: '57.80' }).waitFor(); // 14.90 + 12.90 + 30.00 shipping
  await screenshot(page, 'cart');
  await page.getByRole('link', { name: 'Check out' }).click();

  await page.getByLabel('Recipient').fill(shopper.name);
  await page.getByLabel('Phone').fill('+82 10-1234-5678');
  await page.getByLabel('Street and number').fill('1 Main St');
  await page.getByLabel('City').fill('Seoul');
  await page.getByLabel('Postal code').fill('04524');
  await page.getByLabel('Country (two letters, e.g. KR)').fill('KR');
  await page.getByRole('button', { name: 'Save address' }).click();
  await page.getByLabel(/Card that is approved/).check();
  await screenshot(page, 'checkout');
  await page.getByRole('button', { name: /Place order/ }).click();

  await statusOf(page, 'CONFIRMED');
  await page.locator('.step-done', { hasText: 'Confirmed' }).waitFor();
  // Every step with its time, the two taken in inventory and payment included (they may
  // arrive a moment after the status; the page keeps polling for them).
  for (const label of ['Placed', 'Stock reserved', 'Payment authorized', 'Confirmed']) {
    await page.locator('.step-done', { hasText: label }).locator('time').waitFor({ timeout: SAGA_DEADLINE_MS });
  }
  confirmedOrderUrl = page.url();
  await screenshot(page, 'order-confirmed');
  // Where the time went: each event ordering's functions received, with the relay's and the
  // delivery's share (confirm-order's hop commits with CONFIRMED, so it is there by now).
  await page.locator('[data-testid=timeline] summary').click();
  const confirming = page.locator('[data-testid=hop]', { hasText: 'confirm-order' });
  await confirming.waitFor();
  assert.match(await confirming.innerText(), /payment\.authorized[\s\S]*\+\d+ ms[\s\S]*\+\d+ ms[\s\S]*\+\d+ ms/);
  await screenshot(page, 'order-timeline');
  assert.deepEqual(page.problems, []);
});

test('a checkout with tok_decline ends CANCELLED and the page says why', async () => {
  const page = shopperPage;
  await page.goto(SHOP);
  await page.getByLabel('Search').fill(word);
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.getByRole('link', { name: `Storefront ${word}` }).click();
  await page.getByRole('button', { name: 'Add to cart' }).click();
  await page.getByText('added to your cart').waitFor();
  await page.getByRole('link', { name: 'Cart', exact: true }).click();
  await page.getByRole('link', { name: 'Check out' }).click();
  await page.getByLabel(/Card that is declined/).check();
  await page.getByRole('button', { name: /Place order/ }).click();

  await statusOf(page, 'CANCELLED');
  const reason = await page.locator('[data-testid=cancel-reason]').innerText();
  assert.match(reason, /payment was declined/);
  await page.locator('.step-done', { hasText: 'Stock reserved' }).locator('time').waitFor({ timeout: SAGA_DEADLINE_MS });
  await page.locator('.step-failed', { hasText: 'Payment authorized' }).waitFor();
  await screenshot(page, 'order-cancelled');
});

test('one line of the confirmed order is refunded', async () => {
  const page = shopperPage;
  await page.goto(confirmedOrderUrl);
  await statusOf(page, 'CONFIRMED');
  await page.locator('#refund-line-0').check();
  await page.getByRole('button', { name: 'Refund the chosen lines' }).click();
  await statusOf(page, 'PARTIALLY_REFUNDED');
  await page.locator('[data-testid=line-status-0]', { hasText: 'REFUNDED' }).waitFor({ timeout: SAGA_DEADLINE_MS });
  assert.equal(await page.locator('[data-testid=line-status-1]').innerText(), 'ORDERED');
  await page.locator('[data-testid=refunds]', { hasText: 'SUCCEEDED' }).waitFor({ timeout: SAGA_DEADLINE_MS });
  await screenshot(page, 'order-refunded');

  await page.getByRole('link', { name: 'Orders', exact: true }).click();
  await page.getByRole('heading', { name: 'Your orders' }).waitFor();
  assert.equal(await page.locator('.orders li').count(), 2);
  await page.getByRole('link', { name: 'Account', exact: true }).click();
  await page.getByRole('heading', { name: 'Addresses' }).waitFor();
  await screenshot(page, 'account');
});

test('an admin creates a product in the admin area and it appears in the shop', async () => {
  const page = await newPage();
  await page.goto(`${SHOP}#/login`);
  await page.getByLabel('E-mail').fill(admin.email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('link', { name: 'Admin', exact: true }).click();

  const lamp = `lamp${run}`;
  await page.getByLabel('Product id (letters, digits, dashes)').fill(`sf-lamp-${run}`);
  await page.getByLabel('Name', { exact: true }).fill(`Desk ${lamp}`);
  await page.getByLabel('Price (e.g. 12.90)').fill('19.90');
  await page.getByRole('button', { name: 'Create product' }).click();
  await page.getByRole('heading', { name: new RegExp(`Desk ${lamp}`) }).waitFor();
  // Inventory opens the SKU's stock when catalog's event arrives; set it once it has.
  await poll('the lamp stock is set', async () => {
    await page.getByLabel(`Units on hand of sf-lamp-${run}`).fill('5');
    await page.getByRole('button', { name: 'Set stock' }).click();
    return page.locator(`[data-testid=stock-sf-lamp-${run}]`, { hasText: '5 on hand' }).isVisible();
  });
  await screenshot(page, 'admin');

  await page.getByRole('link', { name: 'Shop', exact: true }).click();
  await page.getByLabel('Search').fill(lamp);
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.getByRole('link', { name: `Desk ${lamp}` }).waitFor();
  assert.deepEqual(page.problems, []);
});
