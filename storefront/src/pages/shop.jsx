// Browsing, a product with its options, the cart and the checkout.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, isSignedIn, newIdempotencyKey } from '../api.js';
import { ErrorMessage, Field, Loading, formValues, go, useAction, useLoad } from '../ui.jsx';
import { money, toMinor, when } from '../words.js';

const SORTS = [
  ['newest', 'Newest'],
  ['relevance', 'Best match'],
  ['price_asc', 'Price: low to high'],
  ['price_desc', 'Price: high to low'],
  ['popularity', 'Most liked'],
  ['best_selling', 'Best selling'],
  ['rating', 'Best rated'],
  ['review_count', 'Most reviewed'],
  ['name', 'Name'],
];

function flattenCategories(nodes, depth = 0) {
  return (nodes || []).flatMap((node) => [
    { id: node.categoryId, label: `${'— '.repeat(depth)}${node.name}` },
    ...flattenCategories(node.children, depth + 1),
  ]);
}

export function Browse({ query }) {
  const page = Number(query.get('page') || '1');
  const categories = useLoad(() => api('GET', '/categories'), []);
  const products = useLoad(() => {
    const params = new URLSearchParams();
    for (const name of ['q', 'category', 'sort']) if (query.get(name)) params.set(name, query.get(name));
    for (const name of ['minPrice', 'maxPrice']) {
      const minor = query.get(name) ? toMinor(query.get(name)) : null;
      if (minor !== null) params.set(name, String(minor));
    }
    params.set('page', String(page));
    params.set('size', '12');
    return api('GET', `/products?${params}`);
  }, [query.toString()]);

  const search = (event) => {
    const values = formValues(event);
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(values)) if (value) params.set(name, value);
    go(`/?${params}`);
  };
  const toPage = (number) => {
    const params = new URLSearchParams(query);
    params.set('page', String(number));
    go(`/?${params}`);
  };
  const pages = products.data ? Math.max(1, Math.ceil(products.data.total / products.data.size)) : 1;

  return (
    <section aria-labelledby="browse-title">
      <h1 id="browse-title">Shop</h1>
      <form class="filters" role="search" onSubmit={search}>
        <Field id="q" label="Search" type="search" defaultValue={query.get('q') || ''} placeholder="e.g. espresso cup" />
        <p class="field">
          <label for="category">Category</label>
          <select id="category" name="category" defaultValue={query.get('category') || ''}>
            <option value="">All categories</option>
            {flattenCategories(categories.data).map((category) => (
              <option value={category.id} selected={query.get('category') === category.id}>
                {category.label}
              </option>
            ))}
          </select>
        </p>
        <Field id="minPrice" label="Lowest price" inputMode="decimal" size="7" defaultValue={query.get('minPrice') || ''} />
        <Field id="maxPrice" label="Highest price" inputMode="decimal" size="7" defaultValue={query.get('maxPrice') || ''} />
        <p class="field">
          <label for="sort">Sort by</label>
          <select id="sort" name="sort">
            {SORTS.map(([value, label]) => (
              <option value={value} selected={(query.get('sort') || (query.get('q') ? 'relevance' : 'newest')) === value}>
                {label}
              </option>
            ))}
          </select>
        </p>
        <p class="field">
          <button type="submit">Search</button>
        </p>
      </form>
      <ErrorMessage error={products.error} />
      {products.loading && !products.data ? <Loading what="products" /> : null}
      {products.data ? (
        <>
          <p aria-live="polite">
            {products.data.total} product{products.data.total === 1 ? '' : 's'}
          </p>
          <ul class="grid" aria-label="Products">
            {products.data.products.map((product) => (
              <li class="card">
                <a href={`#/products/${encodeURIComponent(product.productId)}`}>
                  <strong>{product.name}</strong>
                </a>
                <Price product={product} />
                <span class={product.available ? 'ok' : 'muted'}>{product.available ? 'In stock' : 'Out of stock'}</span>
                {product.reviewCount ? (
                  <span class="muted">
                    ★ {Number(product.averageRating || 0).toFixed(1)} ({product.reviewCount})
                  </span>
                ) : null}
              </li>
            ))}
          </ul>
          {pages > 1 ? (
            <nav class="pager" aria-label="Pages">
              <button disabled={page <= 1} onClick={() => toPage(page - 1)}>
                Previous
              </button>
              <span>
                Page {page} of {pages}
              </span>
              <button disabled={page >= pages} onClick={() => toPage(page + 1)}>
                Next
              </button>
            </nav>
          ) : null}
        </>
      ) : null}
    </section>
  );
}

function Price({ product }) {
  const selling = product.sellingPriceMinor ?? product.priceMinor;
  return (
    <span class="price">
      {money(selling, product.currency)}
      {selling < product.priceMinor ? (
        <>
          {' '}
          <del aria-label="List price">{money(product.priceMinor, product.currency)}</del>
        </>
      ) : null}
    </span>
  );
}

export function Product({ productId }) {
  const product = useLoad(() => api('GET', `/products/${encodeURIComponent(productId)}`), [productId]);
  const reviews = useLoad(() => api('GET', `/products/${encodeURIComponent(productId)}/reviews?page=1&size=10`), [productId]);
  const [chosen, setChosen] = useState({});
  const [quantity, setQuantity] = useState(1);
  const [added, setAdded] = useState(null);
  const data = product.data;

  useEffect(() => {
    if (!data) return;
    // Start from the first active SKU's options, so a price shows at once.
    const first = data.skus.find((sku) => sku.status === 'ACTIVE');
    setChosen(first ? { ...first.options } : {});
  }, [data]);

  const groups = data ? data.optionGroups || [] : [];
  const sku = data
    ? data.skus.find(
        (candidate) =>
          candidate.status === 'ACTIVE' && groups.every((group) => candidate.options[group.name] === chosen[group.name]),
      )
    : null;
  const availability = useLoad(
    () => (sku ? api('GET', `/inventory/${encodeURIComponent(sku.sku)}`) : Promise.resolve(null)),
    [sku && sku.sku],
  );
  const add = useAction(async () => {
    if (!isSignedIn()) {
      go(`/login?next=${encodeURIComponent(`/products/${productId}`)}`);
      return;
    }
    await api('POST', '/cart/items', { body: { sku: sku.sku, quantity }, idempotencyKey: newIdempotencyKey() });
    setAdded(`${quantity} × ${data.name} added to your cart.`);
  });

  if (product.error) return <ErrorMessage error={product.error} />;
  if (!data) return <Loading what="the product" />;
  const available = availability.data ? availability.data.available : null;
  return (
    <section aria-labelledby="product-title">
      <p>
        <a href="#/">← Back to the shop</a>
      </p>
      <h1 id="product-title">{data.name}</h1>
      {data.description ? <p>{data.description}</p> : null}
      <form
        class="buy"
        onSubmit={(event) => {
          event.preventDefault();
          add.run();
        }}
      >
        {groups.map((group) => (
          <p class="field">
            <label for={`option-${group.groupId}`}>{group.name}</label>
            <select
              id={`option-${group.groupId}`}
              value={chosen[group.name] || ''}
              onChange={(event) => setChosen({ ...chosen, [group.name]: event.currentTarget.value })}
            >
              {group.options.map((option) => (
                <option value={option.name}>
                  {option.name}
                  {option.surchargeMinor ? ` (+${money(option.surchargeMinor, data.currency)})` : ''}
                </option>
              ))}
            </select>
          </p>
        ))}
        {sku ? (
          <p class="sku" aria-live="polite">
            <span class="price" data-testid="sku-price">
              {money(sku.sellingPriceMinor ?? sku.priceMinor, data.currency)}
            </span>
            {(sku.sellingPriceMinor ?? sku.priceMinor) < sku.priceMinor ? (
              <>
                {' '}
                <del aria-label="List price">{money(sku.priceMinor, data.currency)}</del>
              </>
            ) : null}{' '}
            <span class="muted">SKU {sku.sku}</span>{' '}
            <span data-testid="availability" class={available ? 'ok' : 'muted'}>
              {available === null ? '' : available > 0 ? `${available} in stock` : 'Out of stock'}
            </span>
          </p>
        ) : (
          <p role="status">This combination is not sold.</p>
        )}
        <Field
          id="quantity"
          label="Quantity"
          type="number"
          min="1"
          max="1000"
          value={quantity}
          onInput={(event) => setQuantity(Math.max(1, Math.min(1000, Number(event.currentTarget.value) || 1)))}
        />
        <p>
          <button type="submit" disabled={!sku || add.busy || available === 0}>
            Add to cart
          </button>
        </p>
        <ErrorMessage error={add.error} />
        {added ? (
          <p role="status" class="ok">
            {added} <a href="#/cart">Go to the cart</a>
          </p>
        ) : null}
      </form>
      <h2>Reviews</h2>
      <ErrorMessage error={reviews.error} />
      {reviews.data && reviews.data.reviews.length === 0 ? <p class="muted">No reviews yet.</p> : null}
      <ul class="reviews">
        {(reviews.data ? reviews.data.reviews : []).map((review) => (
          <li>
            <strong>
              <span aria-label={`${review.rating} of 5 stars`}>{'★'.repeat(review.rating)}</span> {review.title}
            </strong>
            <p>{review.content}</p>
            <span class="muted">{when(review.createdAt)}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}

export function Cart() {
  const cart = useLoad(() => api('GET', '/cart'), []);
  const change = useAction(async (sku, quantity) => {
    if (quantity <= 0) await api('DELETE', `/cart/items/${encodeURIComponent(sku)}`);
    else await api('PATCH', `/cart/items/${encodeURIComponent(sku)}`, { body: { quantity } });
    cart.reload();
  });
  if (cart.error) return <ErrorMessage error={cart.error} />;
  if (!cart.data) return <Loading what="your cart" />;
  const data = cart.data;
  return (
    <section aria-labelledby="cart-title">
      <h1 id="cart-title">Your cart</h1>
      <ErrorMessage error={change.error} />
      {data.lines.length === 0 ? (
        <p>
          Your cart is empty. <a href="#/">Find something in the shop.</a>
        </p>
      ) : (
        <>
          <table>
            <caption class="visually-hidden">Cart lines</caption>
            <thead>
              <tr>
                <th scope="col">Product</th>
                <th scope="col">Unit price</th>
                <th scope="col">Quantity</th>
                <th scope="col">Line total</th>
                <th scope="col">Availability</th>
                <th scope="col">
                  <span class="visually-hidden">Remove</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {data.lines.map((line) => (
                <tr>
                  <td>
                    {line.name} <span class="muted">({line.sku})</span>
                  </td>
                  <td>{money(line.unitPriceMinor, data.currency)}</td>
                  <td>
                    <label class="visually-hidden" for={`qty-${line.sku}`}>
                      Quantity of {line.name}
                    </label>
                    <input
                      id={`qty-${line.sku}`}
                      type="number"
                      min="1"
                      max="1000"
                      size="4"
                      value={line.quantity}
                      onChange={(event) => change.run(line.sku, Number(event.currentTarget.value))}
                    />
                  </td>
                  <td>{money(line.lineTotalMinor, data.currency)}</td>
                  <td>{availabilityWords(line)}</td>
                  <td>
                    <button type="button" onClick={() => change.run(line.sku, 0)} aria-label={`Remove ${line.name}`}>
                      Remove
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <Totals totals={data} />
          <p>
            <a class="button" href="#/checkout">
              Check out
            </a>
          </p>
        </>
      )}
    </section>
  );
}

function availabilityWords(line) {
  switch (line.availability) {
    case 'AVAILABLE':
      return 'In stock';
    case 'INSUFFICIENT':
      return `Only ${line.availableUnits} left`;
    case 'OUT_OF_STOCK':
      return 'Out of stock';
    default:
      return 'Unknown';
  }
}

export function Totals({ totals }) {
  const currency = totals.currency;
  return (
    <dl class="totals">
      <dt>Subtotal</dt>
      <dd>{money(totals.subtotalMinor, currency)}</dd>
      {totals.discountMinor ? (
        <>
          <dt>Promotions saved you</dt>
          <dd>{money(totals.discountMinor, currency)}</dd>
        </>
      ) : null}
      {totals.shippingFeeMinor !== undefined ? (
        <>
          <dt>Shipping</dt>
          <dd>{totals.shippingFeeMinor ? money(totals.shippingFeeMinor, currency) : 'Free'}</dd>
        </>
      ) : null}
      <dt>Total</dt>
      <dd data-testid="total">
        <strong>{money(totals.totalMinor, currency)}</strong>
      </dd>
    </dl>
  );
}

export const PAYMENT_TOKENS = [
  ['tok_approve', 'Card that is approved'],
  ['tok_decline', 'Card that is declined'],
  ['tok_insufficient_funds', 'Card without enough funds'],
  ['tok_timeout', 'Card whose bank never answers (timeout)'],
  ['tok_flaky', 'Card whose bank fails twice, then approves (flaky)'],
  ['tok_refund_decline', 'Card that pays, but refuses refunds'],
];

export function Checkout() {
  const cart = useLoad(() => api('GET', '/cart'), []);
  const addresses = useLoad(() => api('GET', '/users/me/addresses'), []);
  // The same attempt (same body) keeps its key, so a retry after a lost answer places the
  // order once; a changed body (another card, a new total) is a new attempt with a new key.
  const attempt = useRef({ body: null, key: null });
  const place = useAction(async (values) => {
    const body = { addressId: values.addressId, paymentToken: values.paymentToken, expectedTotalMinor: cart.data.totalMinor };
    if (JSON.stringify(body) !== attempt.current.body) {
      attempt.current = { body: JSON.stringify(body), key: newIdempotencyKey() };
    }
    const order = await api('POST', '/cart/checkout', { body, idempotencyKey: attempt.current.key });
    go(`/orders/${encodeURIComponent(order.orderId)}`);
  });
  useEffect(() => {
    if (place.error && place.error.code === 'PRICE_CHANGED') cart.reload();
  }, [place.error]);

  if (cart.error) return <ErrorMessage error={cart.error} />;
  if (!cart.data || !addresses.data) return <Loading what="the checkout" />;
  const list = addresses.data.addresses;
  return (
    <section aria-labelledby="checkout-title">
      <h1 id="checkout-title">Checkout</h1>
      {cart.data.lines.length === 0 ? (
        <p>
          Your cart is empty. <a href="#/">Back to the shop.</a>
        </p>
      ) : (
        <>
          <Totals totals={cart.data} />
          {list.length === 0 ? (
            <>
              <h2>Where should it go?</h2>
              <AddressForm onSaved={() => addresses.reload()} />
            </>
          ) : (
            <form onSubmit={(event) => place.run(formValues(event))}>
              <fieldset>
                <legend>Ship to</legend>
                {list.map((address, index) => (
                  <p>
                    <input
                      type="radio"
                      name="addressId"
                      id={`address-${address.addressId}`}
                      value={address.addressId}
                      defaultChecked={index === 0}
                      required
                    />
                    <label for={`address-${address.addressId}`}>{addressLine(address)}</label>
                  </p>
                ))}
                <p>
                  <a href="#/account">Manage addresses</a>
                </p>
              </fieldset>
              <fieldset>
                <legend>Pay with (simulated cards)</legend>
                {PAYMENT_TOKENS.map(([token, label], index) => (
                  <p>
                    <input type="radio" name="paymentToken" id={token} value={token} defaultChecked={index === 0} required />
                    <label for={token}>
                      {label} <code>{token}</code>
                    </label>
                  </p>
                ))}
              </fieldset>
              <ErrorMessage error={place.error} />
              <p>
                <button type="submit" disabled={place.busy}>
                  Place order for {money(cart.data.totalMinor, cart.data.currency)}
                </button>
              </p>
            </form>
          )}
        </>
      )}
    </section>
  );
}

export function addressLine(address) {
  return [address.recipient, address.line1, address.line2, `${address.postalCode} ${address.city}`, address.country]
    .filter(Boolean)
    .join(', ');
}

export function AddressForm({ onSaved }) {
  const save = useAction(async (values) => {
    const body = { ...values, country: values.country.toUpperCase() };
    if (!body.line2) delete body.line2;
    await api('POST', '/users/me/addresses', { body });
    onSaved();
  });
  return (
    <form class="address" onSubmit={(event) => save.run(formValues(event))}>
      <Field id="recipient" label="Recipient" required autoComplete="name" />
      <Field id="phone" label="Phone" required type="tel" autoComplete="tel" />
      <Field id="line1" label="Street and number" required autoComplete="address-line1" />
      <Field id="line2" label="Apartment, floor (optional)" autoComplete="address-line2" />
      <Field id="city" label="City" required autoComplete="address-level2" />
      <Field id="postalCode" label="Postal code" required autoComplete="postal-code" />
      <Field id="country" label="Country (two letters, e.g. KR)" required maxLength="2" autoComplete="country" />
      <ErrorMessage error={save.error} />
      <p>
        <button type="submit" disabled={save.busy}>
          Save address
        </button>
      </p>
    </form>
  );
}
