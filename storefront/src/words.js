// Error codes of the API's envelope, and the saga's reasons, in words a shopper reads.

const ERROR_WORDS = {
  NETWORK: 'The shop could not reach the server. Check your connection and try again.',
  VALIDATION_FAILED: 'Some fields need another look.',
  UNAUTHENTICATED: 'Please log in first.',
  INVALID_CREDENTIALS: 'That e-mail and password do not match an account.',
  EMAIL_TAKEN: 'An account with this e-mail already exists. Log in instead.',
  RATE_LIMITED: 'Too many attempts. Please wait a little and try again.',
  SERVICE_BUSY: 'The shop is busy right now. Please try again in a moment.',
  ACCOUNT_LOCKED: 'This account is locked. Please contact support.',
  ACCOUNT_WITHDRAWN: 'This account was closed.',
  SESSION_REVOKED: 'Your session ended. Please log in again.',
  SESSION_EXPIRED: 'Your session expired. Please log in again.',
  REFRESH_TOKEN_REUSED: 'Your session was ended for safety. Please log in again.',
  INVALID_REFRESH_TOKEN: 'Your session ended. Please log in again.',
  REFRESH_TOKEN_EXPIRED: 'Your session expired. Please log in again.',
  WRONG_PASSWORD: 'The password is not right.',
  FORBIDDEN: 'You are not allowed to do that.',
  PRODUCT_NOT_FOUND: 'This product does not exist.',
  SKU_NOT_FOUND: 'This choice of options is not sold.',
  UNKNOWN_PRODUCT: 'A product in your cart is no longer sold.',
  PRODUCT_NOT_ORDERABLE: 'A product in your cart cannot be ordered right now. Remove it to go on.',
  MIXED_CURRENCIES: 'Products in different currencies cannot share one cart.',
  CART_FULL: 'Your cart is full (50 lines).',
  QUANTITY_LIMIT: 'That is more than one line can hold (1000).',
  CART_EMPTY: 'Your cart is empty.',
  CART_LINE_NOT_FOUND: 'That line is no longer in your cart.',
  PRICE_CHANGED: 'Prices changed since you opened the cart. Check the new total and place the order again.',
  ADDRESS_NOT_FOUND: 'That address no longer exists. Pick another.',
  TOO_MANY_ADDRESSES: 'You can keep at most 10 addresses.',
  TOTAL_OUT_OF_RANGE: 'The order total is out of range.',
  IDEMPOTENCY_KEY_REUSED: 'This request was already sent with other contents. Please try again.',
  ORDER_NOT_FOUND: 'This order does not exist.',
  ORDER_NOT_CANCELLABLE: 'This order can no longer be cancelled.',
  ORDER_NOT_REFUNDABLE: 'Only a confirmed order can be refunded.',
  LINE_ALREADY_REFUNDED: 'A chosen line was already refunded.',
  REFUND_IN_PROGRESS: 'A refund of a chosen line is in progress.',
  UNKNOWN_ORDER_LINE: 'A chosen line is not part of this order.',
  PRODUCT_EXISTS: 'A product with this id exists already.',
  SKU_EXISTS: 'A SKU with this id exists already.',
  UNKNOWN_CATEGORY: 'There is no such category.',
  UNKNOWN_BRAND: 'There is no such brand.',
  INVALID_OPTIONS: 'The options are not valid.',
  SKU_PRICE_TOO_HIGH: 'A SKU would cost more than the shop allows.',
  DISCOUNT_TOO_LARGE: 'The discount is larger than the price.',
  PROMOTION_NOT_FOUND: 'That promotion does not exist.',
  BELOW_RESERVED: 'Stock cannot go below the units reserved for open orders.',
  FUNCTION_UNAVAILABLE: 'Part of the shop is not answering right now. Please try again shortly.',
  NOT_FOUND: 'Not found.',
  INTERNAL_ERROR: 'Something went wrong on our side. Please try again.',
};

/** The words for an error: ours for a known code, else the server's own message. */
export function errorWords(error) {
  if (!error) return '';
  const words = ERROR_WORDS[error.code] || error.message || 'Something went wrong.';
  const fields = (error.fieldErrors || []).map((field) => `${field.field}: ${field.reason}`);
  return fields.length ? `${words} (${fields.join('; ')})` : words;
}

const REASON_WORDS = {
  'out-of-stock': 'Not enough stock could be reserved.',
  'payment-declined': 'The payment was declined.',
  'customer-cancelled': 'You cancelled the order.',
  'payment-expired': 'The payment did not complete in time.',
  'reservation-expired': 'The stock reservation expired.',
  'refund-declined': 'The payment provider declined the refund.',
  'gateway-unavailable': 'The payment provider did not answer.',
  'exceeds-captured': 'More than was paid would have been refunded.',
  'not-captured': 'The payment had not been captured.',
};

export function reasonWords(reason) {
  return REASON_WORDS[reason] || reason || '';
}

/** Minor units to a price: integer arithmetic until the last step. */
export function money(minor, currency = 'EUR') {
  if (minor === null || minor === undefined) return '';
  const digits = currency === 'KRW' || currency === 'JPY' ? 0 : 2;
  const major = digits ? minor / 100 : minor;
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency, minimumFractionDigits: digits }).format(major);
  } catch {
    return `${major.toFixed(digits)} ${currency}`;
  }
}

/** A major-unit string typed by an admin to integer minor units, or null. */
export function toMinor(text, currency = 'EUR') {
  const digits = currency === 'KRW' || currency === 'JPY' ? 0 : 2;
  const match = String(text).trim().match(digits ? /^(\d+)(?:[.,](\d{1,2}))?$/ : /^(\d+)$/);
  if (!match) return null;
  const whole = Number(match[1]);
  const cents = digits ? Number((match[2] || '0').padEnd(2, '0')) : 0;
  const minor = digits ? whole * 100 + cents : whole;
  return Number.isSafeInteger(minor) ? minor : null;
}

export function when(at) {
  if (!at) return '';
  const date = new Date(at);
  return `${date.toLocaleDateString()} ${date.toLocaleTimeString(undefined, { hour12: false })}.${String(date.getMilliseconds()).padStart(3, '0')}`;
}

export const STATUS_WORDS = {
  PLACED: 'Placed',
  CONFIRMED: 'Confirmed',
  CANCELLED: 'Cancelled',
  PARTIALLY_REFUNDED: 'Partly refunded',
  REFUNDED: 'Refunded',
};

/** `commerce.payment.payment.authorized.v1` → `payment.authorized`: the event in two words. */
export function eventWords(type) {
  const parts = String(type || '').split('.');
  if (parts.length >= 3 && /^v\d+$/.test(parts[parts.length - 1])) parts.pop();
  return parts.slice(-2).join('.') || 'event';
}

/**
 * The hops of an order's saga as ordering's functions received them (`order.hops`), as rows
 * of milliseconds after the order was placed: when the producer committed each event, when
 * the relay published it to Kafka and when the function began on it, with the two gaps (the
 * relay's and the delivery's share). Missing times stay null.
 */
export function hopRows(order) {
  const start = Date.parse(order.createdAt);
  const after = (at) => (at ? Date.parse(at) - start : null);
  const gap = (later, earlier) => (later && earlier ? Date.parse(later) - Date.parse(earlier) : null);
  return (order.hops || []).map((hop) => ({
    event: eventWords(hop.event),
    consumer: hop.consumer,
    committed: after(hop.occurredAt),
    published: after(hop.publishedAt),
    received: after(hop.receivedAt),
    relay: gap(hop.publishedAt, hop.occurredAt),
    delivery: gap(hop.receivedAt, hop.publishedAt),
    attempt: hop.attempt || 1,
  }));
}
