// What the shop shows for prices and errors, without a browser.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorWords, hopRows, money, reasonWords, toMinor } from '../src/words.js';

test('prices typed by an admin become integer minor units, and nonsense becomes nothing', () => {
  assert.equal(toMinor('12.90'), 1290);
  assert.equal(toMinor('12,9'), 1290);
  assert.equal(toMinor('7'), 700);
  assert.equal(toMinor('0.05'), 5);
  assert.equal(toMinor('15000', 'KRW'), 15000);
  assert.equal(toMinor('12.5'), 1250);
  for (const bad of ['', '-1', '1.234', '12.90 EUR', 'abc', '1e3', '99999999999999999999']) {
    assert.equal(toMinor(bad), null, bad);
  }
  assert.equal(toMinor('12.50', 'KRW'), null, 'won have no minor unit');
});

test('minor units are shown as the currency, with or without decimals', () => {
  assert.match(money(1290, 'EUR'), /12[.,]90/);
  assert.match(money(15000, 'KRW'), /15,?000/);
  assert.doesNotMatch(money(15000, 'KRW'), /[.,]00$/);
  assert.equal(money(null), '');
});

test('an error is told in words: ours for a known code, the server message otherwise, field problems named', () => {
  assert.match(errorWords({ code: 'PRICE_CHANGED', message: 'x' }), /Prices changed/);
  assert.equal(errorWords({ code: 'SOMETHING_NEW', message: 'The server says why.' }), 'The server says why.');
  assert.equal(
    errorWords({ code: 'VALIDATION_FAILED', message: 'x', fieldErrors: [{ field: 'country', reason: 'must be two letters' }] }),
    'Some fields need another look. (country: must be two letters)',
  );
  assert.equal(reasonWords('payment-declined'), 'The payment was declined.');
  assert.equal(reasonWords('a-new-reason'), 'a-new-reason');
});

test('an order saga hop becomes milliseconds after placing, with the relay and delivery shares', () => {
  const order = {
    createdAt: '2026-12-03T09:00:00.000Z',
    hops: [
      {
        event: 'commerce.payment.payment.authorized.v1',
        consumer: 'confirm-order',
        occurredAt: '2026-12-03T09:00:00.040Z',
        publishedAt: '2026-12-03T09:00:00.052Z',
        receivedAt: '2026-12-03T09:00:00.070Z',
        attempt: 2,
      },
      { event: 'commerce.inventory.stock.reserved.v1', consumer: 'record-order-progress', receivedAt: '2026-12-03T09:00:00.030Z' },
    ],
  };
  const [authorized, reserved] = hopRows(order);
  assert.deepEqual(authorized, {
    event: 'payment.authorized',
    consumer: 'confirm-order',
    committed: 40,
    published: 52,
    received: 70,
    relay: 12,
    delivery: 18,
    attempt: 2,
  });
  assert.equal(reserved.event, 'stock.reserved');
  assert.equal(reserved.received, 30);
  assert.equal(reserved.relay, null, 'no times given, no gap invented');
  assert.equal(reserved.attempt, 1);
  assert.deepEqual(hopRows({ createdAt: order.createdAt }), [], 'older orders have no hops');
});
