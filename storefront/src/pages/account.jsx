// Signing up and in, the orders with the saga followed live, refunds and the account page.
import { useEffect, useState } from 'preact/hooks';
import { api, forgetSession, login, newIdempotencyKey } from '../api.js';
import { ErrorMessage, Field, Loading, formValues, go, useAction, useLoad } from '../ui.jsx';
import { STATUS_WORDS, hopRows, money, reasonWords, when } from '../words.js';
import { AddressForm, Totals, addressLine } from './shop.jsx';

export function Login({ query }) {
  const submit = useAction(async (values) => {
    await login(values.email, values.password);
    go(query.get('next') || '/');
  });
  return (
    <section aria-labelledby="login-title" class="narrow">
      <h1 id="login-title">Log in</h1>
      <form onSubmit={(event) => submit.run(formValues(event))}>
        <Field id="email" label="E-mail" type="email" required autoComplete="username" />
        <Field id="password" label="Password" type="password" required autoComplete="current-password" />
        <ErrorMessage error={submit.error} />
        <p>
          <button type="submit" disabled={submit.busy}>
            Log in
          </button>
        </p>
      </form>
      <p>
        New here? <a href={`#/signup${query.get('next') ? `?next=${encodeURIComponent(query.get('next'))}` : ''}`}>Create an account</a>
      </p>
    </section>
  );
}

export function Signup({ query }) {
  const submit = useAction(async (values) => {
    await api('POST', '/auth/register', {
      body: { email: values.email, password: values.password, displayName: values.displayName },
    });
    await login(values.email, values.password);
    go(query.get('next') || '/');
  });
  return (
    <section aria-labelledby="signup-title" class="narrow">
      <h1 id="signup-title">Create an account</h1>
      <form onSubmit={(event) => submit.run(formValues(event))}>
        <Field id="displayName" label="Your name" required autoComplete="nickname" />
        <Field id="email" label="E-mail" type="email" required autoComplete="email" />
        <Field id="password" label="Password (at least 12 characters)" type="password" required minLength="12" autoComplete="new-password" />
        <ErrorMessage error={submit.error} />
        <p>
          <button type="submit" disabled={submit.busy}>
            Sign up
          </button>
        </p>
      </form>
    </section>
  );
}

export function Orders() {
  const orders = useLoad(() => api('GET', '/orders?limit=50&offset=0'), []);
  if (orders.error) return <ErrorMessage error={orders.error} />;
  if (!orders.data) return <Loading what="your orders" />;
  return (
    <section aria-labelledby="orders-title">
      <h1 id="orders-title">Your orders</h1>
      {orders.data.orders.length === 0 ? <p>No orders yet.</p> : null}
      <ul class="orders">
        {orders.data.orders.map((order) => (
          <li>
            <a href={`#/orders/${encodeURIComponent(order.orderId)}`}>{order.orderNumber || order.orderId}</a>{' '}
            <span class={`status status-${order.status}`}>{STATUS_WORDS[order.status] || order.status}</span>{' '}
            {money(order.totalMinor, order.currency)} <span class="muted">{when(order.createdAt)}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}

const POLL_MILLISECONDS = 1000;

/** How long after the saga ended the page still waits for its steps' times to arrive. */
const STEP_GRACE_MILLISECONDS = 15_000;

/** Whether the order can still change without the shopper doing anything. */
function stillMoving(order) {
  return order.status === 'PLACED' || order.refunds.some((refund) => refund.status === 'REQUESTED') || stepsTrailing(order);
}

/** The move that ended the saga, if it ended. */
function endOf(order) {
  return order.history.find((change) => change.to === 'CONFIRMED' || change.to === 'CANCELLED');
}

/** When a step happened elsewhere, as ordering heard of it (`STOCK_RESERVED`, `PAYMENT_AUTHORIZED`). */
function stepAt(order, name) {
  const step = (order.steps || []).find((recorded) => recorded.step === name);
  return step ? step.at : null;
}

/**
 * Whether the saga ended moments ago and a step it went through is not recorded yet: the
 * steps reach ordering through a consumer of their own and may trail the order's status.
 */
function stepsTrailing(order) {
  const ended = endOf(order);
  if (!ended || Date.now() - Date.parse(ended.at) > STEP_GRACE_MILLISECONDS) return false;
  if (ended.to === 'CONFIRMED') return !stepAt(order, 'STOCK_RESERVED') || !stepAt(order, 'PAYMENT_AUTHORIZED');
  return ended.reason === 'payment-declined' && !stepAt(order, 'STOCK_RESERVED');
}

/**
 * The order, followed live by polling GET /orders/{id} every second while the saga (or a
 * refund) is under way, then no more (docs/adr/0050).
 */
export function Order({ orderId }) {
  const [order, setOrder] = useState(null);
  const [error, setError] = useState(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    let timer;
    const poll = async () => {
      try {
        const next = await api('GET', `/orders/${encodeURIComponent(orderId)}`);
        if (!live) return;
        setOrder(next);
        setError(null);
        if (stillMoving(next)) timer = setTimeout(poll, POLL_MILLISECONDS);
      } catch (caught) {
        if (!live) return;
        setError(caught);
        // A passing network failure should not end the live view; a 404 should.
        if (caught.status === 0 || caught.status >= 500) timer = setTimeout(poll, POLL_MILLISECONDS * 3);
      }
    };
    poll();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [orderId, tick]);
  const follow = () => setTick((value) => value + 1);

  if (!order) return error ? <ErrorMessage error={error} /> : <Loading what="the order" />;
  return (
    <section aria-labelledby="order-title">
      <h1 id="order-title">Order {order.orderNumber || order.orderId}</h1>
      <p>
        Status:{' '}
        <strong class={`status status-${order.status}`} data-testid="order-status" aria-live="polite">
          {order.status}
        </strong>{' '}
        {order.status === 'PLACED' ? <span class="muted">(updating live…)</span> : null}
      </p>
      {order.cancelReason ? (
        <p class="error" data-testid="cancel-reason">
          Cancelled: {reasonWords(order.cancelReason)} <span class="muted">({order.cancelReason})</span>
        </p>
      ) : null}
      <ErrorMessage error={error} />
      <Saga order={order} />
      <Timeline order={order} />
      <h2>Lines</h2>
      <Refunds order={order} onRequested={follow} />
      <Totals totals={order} />
      {order.shippingAddress ? <p>Ships to: {addressLine(order.shippingAddress)}</p> : null}
      {order.status === 'PLACED' ? <CancelOrder order={order} onCancelled={follow} /> : null}
    </section>
  );
}

/**
 * The saga's steps, each with its time. Ordering records the order's own moves (PLACED, then
 * CONFIRMED or CANCELLED) and, as their events reach it, the steps between that happen in
 * inventory and payment (`order.steps`: stock reserved, payment authorized). A step not
 * recorded yet is told by the move it led to, without a time.
 */
function Saga({ order }) {
  const placed = order.history.find((change) => change.to === 'PLACED');
  const ended = endOf(order);
  const reason = ended && ended.reason;
  const reservedAt = stepAt(order, 'STOCK_RESERVED');
  const authorizedAt = stepAt(order, 'PAYMENT_AUTHORIZED');
  const stockReserved = reservedAt
    ? true
    : ended ? (reason === 'out-of-stock' ? false : reason === 'customer-cancelled' ? null : true) : null;
  const paymentAuthorized = authorizedAt
    ? true
    : ended ? (ended.to === 'CONFIRMED' ? true : reason === 'out-of-stock' ? null : false) : null;
  const step = (label, state, at, detail) => (
    <li class={`step step-${state === true ? 'done' : state === false ? 'failed' : 'pending'}`}>
      <span class="visually-hidden">{state === true ? 'Done: ' : state === false ? 'Failed: ' : 'Waiting: '}</span>
      <strong>{label}</strong> {at ? <time dateTime={at}>{when(at)}</time> : null} {detail ? <span>— {detail}</span> : null}
    </li>
  );
  return (
    <>
      <h2>How the order went</h2>
      <ol class="saga" data-testid="saga">
        {step('Placed', true, placed ? placed.at : order.createdAt)}
        {step('Stock reserved', stockReserved, reservedAt, stockReserved === false ? reasonWords(reason) : null)}
        {step(
          'Payment authorized',
          paymentAuthorized,
          authorizedAt,
          paymentAuthorized === false && reason !== 'customer-cancelled' ? reasonWords(reason) : null,
        )}
        {ended
          ? step(ended.to === 'CONFIRMED' ? 'Confirmed' : 'Cancelled', ended.to === 'CONFIRMED', ended.at, ended.reason ? reasonWords(ended.reason) : null)
          : step('Confirmed or cancelled', null, null, 'waiting for the saga…')}
        {order.history
          .filter((change) => change.to === 'PARTIALLY_REFUNDED' || change.to === 'REFUNDED')
          .map((change) => step(STATUS_WORDS[change.to], true, change.at))}
      </ol>
    </>
  );
}

/**
 * Where the saga's time went, hop by hop, for the events ordering's own functions received
 * (`order.hops`, docs/adr/0057): when each event's producer committed it, when the relay put it
 * on Kafka, and when the function began on it. `local-stack/timeline` shows every context.
 */
function Timeline({ order }) {
  const rows = hopRows(order);
  if (rows.length === 0) return null;
  const ms = (value) => (value === null ? '–' : `${value} ms`);
  const after = (value) => (value === null ? '–' : `+${value} ms`);
  const ended = endOf(order);
  return (
    <details class="timeline" data-testid="timeline">
      <summary>
        Where the time went{ended ? `: ${ended.to === 'CONFIRMED' ? 'confirmed' : 'cancelled'} ${Date.parse(ended.at) - Date.parse(order.createdAt)} ms after placing` : ''}
      </summary>
      <table>
        <caption class="visually-hidden">Each event of the saga: committed by its producer, published to Kafka by the relay, received by a function; times after the order was placed</caption>
        <thead>
          <tr>
            <th scope="col">Event</th>
            <th scope="col">Received by</th>
            <th scope="col">Committed</th>
            <th scope="col">On Kafka (relay)</th>
            <th scope="col">Received (delivery)</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={`${row.event} ${row.consumer}`} data-testid="hop">
              <td>{row.event}</td>
              <td>
                {row.consumer}
                {row.attempt > 1 ? <span class="muted"> (attempt {row.attempt})</span> : null}
              </td>
              <td>{after(row.committed)}</td>
              <td>
                {after(row.published)} <span class="muted">({ms(row.relay)})</span>
              </td>
              <td>
                {after(row.received)} <span class="muted">({ms(row.delivery)})</span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  );
}

function CancelOrder({ order, onCancelled }) {
  const cancel = useAction(async () => {
    await api('POST', `/orders/${encodeURIComponent(order.orderId)}/cancel`);
    onCancelled();
  });
  return (
    <p>
      <button type="button" onClick={() => cancel.run()} disabled={cancel.busy}>
        Cancel the order
      </button>
      <ErrorMessage error={cancel.error} />
    </p>
  );
}

function Refunds({ order, onRequested }) {
  const refundable = order.status === 'CONFIRMED' || order.status === 'PARTIALLY_REFUNDED';
  const [chosen, setChosen] = useState([]);
  const request = useAction(async () => {
    await api('POST', `/orders/${encodeURIComponent(order.orderId)}/refunds`, {
      body: { lines: chosen },
      idempotencyKey: newIdempotencyKey(),
    });
    setChosen([]);
    onRequested();
  });
  const toggle = (lineNo) =>
    setChosen(chosen.includes(lineNo) ? chosen.filter((value) => value !== lineNo) : [...chosen, lineNo]);
  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        request.run();
      }}
    >
      <table>
        <caption class="visually-hidden">Order lines</caption>
        <thead>
          <tr>
            {refundable ? <th scope="col">Refund</th> : null}
            <th scope="col">Product</th>
            <th scope="col">Quantity</th>
            <th scope="col">Unit price</th>
            <th scope="col">Line status</th>
          </tr>
        </thead>
        <tbody>
          {order.lines.map((line) => (
            <tr>
              {refundable ? (
                <td>
                  <input
                    type="checkbox"
                    id={`refund-line-${line.lineNo}`}
                    checked={chosen.includes(line.lineNo)}
                    disabled={line.status !== 'ORDERED'}
                    onChange={() => toggle(line.lineNo)}
                    aria-label={`Refund ${line.productName || line.productId}`}
                  />
                </td>
              ) : null}
              <td>{line.productName || line.productId}</td>
              <td>{line.quantity}</td>
              <td>{money(line.unitPriceMinor, order.currency)}</td>
              <td data-testid={`line-status-${line.lineNo}`}>{line.status}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {refundable ? (
        <p>
          <button type="submit" disabled={chosen.length === 0 || request.busy}>
            Refund the chosen lines
          </button>
        </p>
      ) : null}
      <ErrorMessage error={request.error} />
      {order.refunds.length ? (
        <>
          <h2>Refunds</h2>
          <ul data-testid="refunds">
            {order.refunds.map((refund) => (
              <li>
                {money(refund.amountMinor, refund.currency)} for line{refund.lines.length > 1 ? 's' : ''} {refund.lines.join(', ')}:{' '}
                <strong>{refund.status}</strong>
                {refund.failureReason ? ` — ${reasonWords(refund.failureReason)}` : ''}
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </form>
  );
}

export function Account() {
  const profile = useLoad(() => api('GET', '/users/me'), []);
  const addresses = useLoad(() => api('GET', '/users/me/addresses'), []);
  const addressAction = useAction(async (method, path) => {
    await api(method, path);
    addresses.reload();
  });
  const [passwordChanged, setPasswordChanged] = useState(false);
  const password = useAction(async (values) => {
    await api('PUT', '/users/me/password', { body: values });
    setPasswordChanged(true);
  });
  const withdraw = useAction(async (values) => {
    await api('DELETE', '/users/me', { body: { password: values.withdrawPassword } });
    forgetSession();
    go('/');
  });
  if (profile.error) return <ErrorMessage error={profile.error} />;
  if (!profile.data) return <Loading what="your account" />;
  return (
    <section aria-labelledby="account-title">
      <h1 id="account-title">Your account</h1>
      <p>
        {profile.data.displayName} — {profile.data.email}
        {profile.data.roles.includes('admin') || profile.data.roles.includes('ADMIN') ? ' (admin)' : ''}
      </p>
      <h2>Addresses</h2>
      <ErrorMessage error={addresses.error || addressAction.error} />
      <ul class="addresses">
        {(addresses.data ? addresses.data.addresses : []).map((address) => (
          <li>
            {addressLine(address)} {address.isDefault ? <strong>(default)</strong> : null}{' '}
            {!address.isDefault ? (
              <button type="button" onClick={() => addressAction.run('PUT', `/users/me/addresses/${address.addressId}/default`)}>
                Make default
              </button>
            ) : null}{' '}
            <button
              type="button"
              aria-label={`Delete the address ${addressLine(address)}`}
              onClick={() => addressAction.run('DELETE', `/users/me/addresses/${address.addressId}`)}
            >
              Delete
            </button>
          </li>
        ))}
      </ul>
      <details>
        <summary>Add an address</summary>
        <AddressForm onSaved={() => addresses.reload()} />
      </details>
      <h2>Password</h2>
      <form onSubmit={(event) => password.run(formValues(event))}>
        <Field id="currentPassword" label="Current password" type="password" required autoComplete="current-password" />
        <Field id="newPassword" label="New password" type="password" required minLength="12" autoComplete="new-password" />
        <ErrorMessage error={password.error} />
        {passwordChanged ? (
          <p role="status" class="ok">
            Password changed; your other sessions were ended.
          </p>
        ) : null}
        <p>
          <button type="submit" disabled={password.busy}>
            Change password
          </button>
        </p>
      </form>
      <h2>Close the account</h2>
      <form onSubmit={(event) => withdraw.run(formValues(event))}>
        <p>Your personal data is erased; your orders stay in the books without it.</p>
        <Field id="withdrawPassword" label="Your password, to confirm" type="password" required autoComplete="current-password" />
        <ErrorMessage error={withdraw.error} />
        <p>
          <button type="submit" class="danger" disabled={withdraw.busy}>
            Close my account
          </button>
        </p>
      </form>
    </section>
  );
}
