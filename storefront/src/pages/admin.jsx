// The admin area: products and their SKUs, prices, promotions and stock. The API refuses
// every write without the admin role; the page only hides itself from others.
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { ErrorMessage, Field, Loading, formValues, go, useAction, useLoad } from '../ui.jsx';
import { money, toMinor, when } from '../words.js';

/** "Colour: Black, White +5.00; Size: S, M" to option groups, or throws. */
export function parseOptionGroups(text, currency) {
  if (!text.trim()) return undefined;
  return text
    .split(';')
    .filter((group) => group.trim())
    .map((group) => {
      const [name, list = ''] = group.split(':');
      const options = list
        .split(',')
        .filter((option) => option.trim())
        .map((option) => {
          const match = option.trim().match(/^(.*?)(?:\s+\+(\S+))?$/);
          const surchargeMinor = match[2] ? toMinor(match[2], currency) : 0;
          if (surchargeMinor === null) throw new Error(`The surcharge of ${match[1]} is not a price.`);
          return { name: match[1].trim(), surchargeMinor };
        });
      return { name: name.trim(), options };
    });
}

export function Admin({ query }) {
  const productId = query.get('product');
  return (
    <section aria-labelledby="admin-title">
      <h1 id="admin-title">Admin</h1>
      <p>
        <a href="#/admin/metrics">Metrics</a>: orders, latency, lag, dead letters and errors, live from Prometheus.
      </p>
      <form
        class="filters"
        onSubmit={(event) => {
          const values = formValues(event);
          go(`/admin?product=${encodeURIComponent(values.manageProductId)}`);
        }}
      >
        <Field id="manageProductId" label="Manage the product with id" required defaultValue={productId || ''} />
        <p class="field">
          <button type="submit">Open</button>
        </p>
      </form>
      {productId ? <ManageProduct key={productId} productId={productId} /> : <CreateProduct />}
    </section>
  );
}

function CreateProduct() {
  const categories = useLoad(() => api('GET', '/categories'), []);
  const create = useAction(async (values) => {
    const currency = values.currency.toUpperCase();
    const priceMinor = toMinor(values.price, currency);
    if (priceMinor === null) throw Object.assign(new Error('The price is not a number like 12.90.'), { code: 'PRICE' });
    let optionGroups;
    try {
      optionGroups = parseOptionGroups(values.options, currency);
    } catch (error) {
      throw Object.assign(error, { code: 'OPTIONS' });
    }
    const body = { productId: values.productId, name: values.name, priceMinor, currency };
    if (values.description) body.description = values.description;
    if (values.categoryId) body.categoryId = values.categoryId;
    if (optionGroups) body.optionGroups = optionGroups;
    const product = await api('POST', '/admin/products', { body });
    go(`/admin?product=${encodeURIComponent(product.productId)}`);
  });
  const flat = (nodes, depth = 0) =>
    (nodes || []).flatMap((node) => [[node.categoryId, `${'— '.repeat(depth)}${node.name}`], ...flat(node.children, depth + 1)]);
  return (
    <>
      <h2>New product</h2>
      <form onSubmit={(event) => create.run(formValues(event))}>
        <Field id="productId" label="Product id (letters, digits, dashes)" required />
        <Field id="name" label="Name" required />
        <p class="field">
          <label for="description">Description</label>
          <textarea id="description" name="description" rows="3" />
        </p>
        <p class="field">
          <label for="categoryId">Category</label>
          <select id="categoryId" name="categoryId">
            <option value="">None</option>
            {flat(categories.data).map(([id, label]) => (
              <option value={id}>{label}</option>
            ))}
          </select>
        </p>
        <Field id="price" label="Price (e.g. 12.90)" required inputMode="decimal" />
        <Field id="currency" label="Currency" required defaultValue="EUR" maxLength="3" />
        <Field id="options" label="Options (optional), e.g. Colour: Black, White +5.00; Size: S, M" />
        <ErrorMessage error={create.error} />
        <p>
          <button type="submit" disabled={create.busy}>
            Create product
          </button>
        </p>
      </form>
    </>
  );
}

function ManageProduct({ productId }) {
  const path = `/products/${encodeURIComponent(productId)}`;
  const product = useLoad(() => api('GET', path), [productId]);
  const promotions = useLoad(() => api('GET', `${path}/promotions`), [productId]);
  const [done, setDone] = useState(null);
  const act = useAction(async (method, route, body, message) => {
    await api(method, route, body === undefined ? {} : { body });
    setDone(message);
    product.reload();
    promotions.reload();
  });
  if (product.error) return <ErrorMessage error={product.error} />;
  if (!product.data) return <Loading what="the product" />;
  const data = product.data;
  const admin = `/admin/products/${encodeURIComponent(productId)}`;
  const promotionList = Array.isArray(promotions.data) ? promotions.data : (promotions.data && promotions.data.promotions) || [];
  return (
    <>
      <h2>
        {data.name} <span class="muted">({data.productId}, {data.status})</span>
      </h2>
      <p>
        <a href={`#${path}`}>See it in the shop</a>{' '}
        {data.status === 'ACTIVE' ? (
          <button type="button" onClick={() => act.run('POST', `${admin}/discontinue`, undefined, 'Discontinued.')}>
            Discontinue
          </button>
        ) : (
          <button type="button" onClick={() => act.run('POST', `${admin}/activate`, undefined, 'Selling again.')}>
            Sell again
          </button>
        )}
      </p>
      <ErrorMessage error={act.error} />
      {done ? (
        <p role="status" class="ok">
          {done}
        </p>
      ) : null}
      <h3>Price</h3>
      <form
        class="filters"
        onSubmit={(event) => {
          const values = formValues(event);
          const priceMinor = toMinor(values.newPrice, data.currency);
          if (priceMinor === null) {
            act.setError({ code: 'PRICE', message: 'The price is not a number like 12.90.' });
            return;
          }
          act.run('PUT', `${admin}/price`, { priceMinor, currency: data.currency }, 'Price changed.');
        }}
      >
        <Field id="newPrice" label={`Base price (${data.currency}), now ${money(data.priceMinor, data.currency)}`} required inputMode="decimal" />
        <p class="field">
          <button type="submit">Change price</button>
        </p>
      </form>
      {(data.optionGroups || []).length ? <h3>Options</h3> : null}
      {(data.optionGroups || []).map((group) => (
        <form
          class="inline"
          onSubmit={(event) => {
            const values = formValues(event);
            let options;
            try {
              [{ options }] = parseOptionGroups(`${group.name}: ${values[`add-${group.groupId}`]}`, data.currency);
            } catch (error) {
              act.setError({ code: 'OPTIONS', message: error.message });
              return;
            }
            act.run('POST', `${admin}/options`, { groupId: group.groupId, options }, 'Options added; their SKUs have no stock yet.');
          }}
        >
          <strong>{group.name}:</strong>
          {group.options.map((option) => (
            <span>
              {option.name}
              {option.surchargeMinor ? ` (+${money(option.surchargeMinor, data.currency)})` : ''}{' '}
              <button
                type="button"
                aria-label={`Remove the option ${option.name}`}
                onClick={() => act.run('DELETE', `${admin}/options/${option.optionId}`, undefined, `${option.name} removed; its SKUs stop selling.`)}
              >
                ×
              </button>
            </span>
          ))}
          <label for={`add-${group.groupId}`} class="visually-hidden">
            New options of {group.name}
          </label>
          <input id={`add-${group.groupId}`} name={`add-${group.groupId}`} placeholder="Red, Blue +1.00" required />
          <button type="submit">Add options</button>
        </form>
      ))}
      <h3>SKUs and stock</h3>
      <table>
        <thead>
          <tr>
            <th scope="col">SKU</th>
            <th scope="col">Options</th>
            <th scope="col">Price</th>
            <th scope="col">Status</th>
            <th scope="col">Stock</th>
          </tr>
        </thead>
        <tbody>
          {data.skus.map((sku) => (
            <tr>
              <td>{sku.sku}</td>
              <td>{Object.entries(sku.options).map(([group, option]) => `${group}: ${option}`).join(', ')}</td>
              <td>{money(sku.sellingPriceMinor ?? sku.priceMinor, data.currency)}</td>
              <td>{sku.status}</td>
              <td>
                <Stock sku={sku.sku} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Promotions</h3>
      <ul>
        {promotionList.map((promotion) => (
          <li>
            {promotion.name}: {promotion.discountType === 'RATE' ? `${promotion.discountValue}% off` : `${money(promotion.discountValue, data.currency)} off`}{' '}
            {promotion.active ? <strong>running</strong> : <span class="muted">from {when(promotion.startsAt)}</span>}{' '}
            <button
              type="button"
              onClick={() => act.run('DELETE', `${admin}/promotions/${promotion.promotionId}`, undefined, 'Promotion ended.')}
            >
              End
            </button>
          </li>
        ))}
      </ul>
      <form
        onSubmit={(event) => {
          const values = formValues(event);
          const discountValue = values.discountType === 'RATE' ? Number(values.discountValue) : toMinor(values.discountValue, data.currency);
          act.run('POST', `${admin}/promotions`, { name: values.promotionName, discountType: values.discountType, discountValue }, 'Promotion added.');
        }}
      >
        <Field id="promotionName" label="Promotion name" required />
        <p class="field">
          <label for="discountType">Kind</label>
          <select id="discountType" name="discountType">
            <option value="RATE">Percent off</option>
            <option value="AMOUNT">Amount off</option>
          </select>
        </p>
        <Field id="discountValue" label="Discount (percent, or an amount like 2.50)" required inputMode="decimal" />
        <p>
          <button type="submit">Start the promotion now</button>
        </p>
      </form>
    </>
  );
}

function Stock({ sku }) {
  const stock = useLoad(() => api('GET', `/inventory/${encodeURIComponent(sku)}`), [sku]);
  const set = useAction(async (onHand) => {
    await api('PUT', `/admin/inventory/${encodeURIComponent(sku)}`, { body: { onHand } });
    stock.reload();
  });
  return (
    <form
      class="inline"
      onSubmit={(event) => {
        const values = formValues(event);
        set.run(Number(values.onHand));
      }}
    >
      <span data-testid={`stock-${sku}`}>
        {stock.data ? `${stock.data.onHand} on hand, ${stock.data.reserved} reserved` : stock.error ? 'not known yet' : '…'}
      </span>{' '}
      <label for={`onHand-${sku}`} class="visually-hidden">
        Units on hand of {sku}
      </label>
      <input id={`onHand-${sku}`} name="onHand" type="number" min="0" size="5" required />
      <button type="submit" disabled={set.busy}>
        Set stock
      </button>
      <ErrorMessage error={set.error} />
    </form>
  );
}
