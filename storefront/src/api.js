// The API client: the envelope, the tokens and the quiet refresh.
//
// Tokens (docs/adr/0049): the access token lives only in this module's memory; the refresh
// token is kept in sessionStorage so a reload of the tab keeps the shopper signed in, while
// closing the tab (or another tab) never sees it. Refresh tokens are single-use and a reused
// one revokes the whole session, so every refresh goes through one shared promise: two
// requests that meet an expired token at once refresh once.

const REFRESH_KEY = 'storefront.refreshToken';
// Refresh this long before the access token expires, so requests rarely meet a 401.
const REFRESH_MARGIN_SECONDS = 30;

const config = (typeof window !== 'undefined' && window.STOREFRONT_CONFIG) || {};
export const apiBaseUrl = (config.apiBaseUrl || '').replace(/\/$/, '');

/** An error answer of the API (or of the network), with the envelope's code. */
export class ApiError extends Error {
  constructor(status, code, message, fieldErrors = [], requestId) {
    super(message);
    this.status = status;
    this.code = code;
    this.fieldErrors = fieldErrors;
    this.requestId = requestId;
  }
}

let accessToken = null;
let refreshTimer = null;
let refreshing = null;
const listeners = new Set();

/** Called with `true`/`false` whenever the shopper becomes signed in or out. */
export function onSessionChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function notify() {
  for (const listener of listeners) listener(isSignedIn());
}

export function isSignedIn() {
  return accessToken !== null || storedRefreshToken() !== null;
}

function storedRefreshToken() {
  try {
    return sessionStorage.getItem(REFRESH_KEY);
  } catch {
    return null;
  }
}

function keepTokens(pair) {
  accessToken = pair.accessToken;
  try {
    sessionStorage.setItem(REFRESH_KEY, pair.refreshToken);
  } catch {
    // Storage refused (private mode): the session lasts as long as the page.
  }
  clearTimeout(refreshTimer);
  const inSeconds = Math.max(5, (pair.expiresIn || 300) - REFRESH_MARGIN_SECONDS);
  refreshTimer = setTimeout(() => refresh().catch(() => {}), inSeconds * 1000);
  notify();
}

function forgetTokens() {
  accessToken = null;
  clearTimeout(refreshTimer);
  try {
    sessionStorage.removeItem(REFRESH_KEY);
  } catch {
    // Nothing kept.
  }
  notify();
}

/** Exchanges the refresh token for a new pair, once at a time. */
export function refresh() {
  if (refreshing) return refreshing;
  const refreshToken = storedRefreshToken();
  if (!refreshToken) return Promise.reject(new ApiError(401, 'UNAUTHENTICATED', 'Please log in.'));
  refreshing = send('POST', '/auth/refresh', { body: { refreshToken } })
    .then((pair) => {
      keepTokens(pair);
      return pair;
    })
    .catch((error) => {
      // A network failure keeps the refresh token for the next try; an answer refusing it ends the session.
      if (error.status === 401 || error.status === 403) forgetTokens();
      throw error;
    })
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

export async function login(email, password) {
  const pair = await send('POST', '/auth/login', { body: { email, password } });
  keepTokens(pair);
  return pair;
}

export async function logout() {
  try {
    if (isSignedIn()) await api('POST', '/auth/logout');
  } finally {
    forgetTokens();
  }
}

/** Ends the session locally only (after a withdrawal, which ended it on the server). */
export function forgetSession() {
  forgetTokens();
}

/** The token's claims (roles, subject), for showing the admin link; never trusted for access. */
export function accessClaims() {
  if (!accessToken) return null;
  try {
    const payload = accessToken.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(payload));
  } catch {
    return null;
  }
}

export function newIdempotencyKey() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`;
}

/**
 * Calls the API with the caller's token when signed in. A 401 refreshes the token quietly
 * and tries once more; the answer's `data` is returned, an error answer is thrown as ApiError.
 */
export async function api(method, path, options = {}) {
  if (!accessToken && storedRefreshToken()) {
    await refresh().catch(() => {});
  }
  try {
    return await send(method, path, { ...options, token: accessToken });
  } catch (error) {
    if (error.status === 401 && storedRefreshToken() && !path.startsWith('/auth/')) {
      await refresh();
      return send(method, path, { ...options, token: accessToken });
    }
    throw error;
  }
}

async function send(method, path, { body, token, idempotencyKey } = {}) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  if (idempotencyKey) headers['idempotency-key'] = idempotencyKey;
  let response;
  try {
    response = await fetch(apiBaseUrl + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'NETWORK', 'The shop could not reach the server.');
  }
  if (response.status === 204) return null;
  let envelope = null;
  try {
    envelope = await response.json();
  } catch {
    // Not JSON: a proxy's page, or an empty body.
  }
  if (response.ok) return envelope && 'data' in envelope ? envelope.data : envelope;
  const error = (envelope && envelope.error) || {};
  throw new ApiError(
    response.status,
    error.code || `HTTP_${response.status}`,
    error.message || response.statusText || 'The server refused the request.',
    error.fieldErrors || [],
    error.requestId,
  );
}

// Prometheus's query API, read through the gateway by admins only (docs/adr/0058): the
// answer's `data` (`resultType` and `result`) as Prometheus gives it.
const PROMETHEUS_API = '/admin/prometheus/api/v1';

/** A range query: one series per label set, each with [seconds, "value"] pairs. */
export function prometheusRange(query, { start, end, step }) {
  const params = new URLSearchParams({ query, start: String(start), end: String(end), step: String(step) });
  return api('GET', `${PROMETHEUS_API}/query_range?${params}`);
}

/** An instant query, evaluated now. */
export function prometheusQuery(query) {
  return api('GET', `${PROMETHEUS_API}/query?${new URLSearchParams({ query })}`);
}
