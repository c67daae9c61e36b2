// The storefront: a hash-routed single-page app, so it runs from any static file host.
import { render } from 'preact';
import { useEffect, useErrorBoundary, useRef, useState } from 'preact/hooks';
import { accessClaims, isSignedIn, logout, onSessionChange } from './api.js';
import { Account, Login, Order, Orders, Signup } from './pages/account.jsx';
import { Admin } from './pages/admin.jsx';
import { Metrics } from './pages/metrics.jsx';
import { Browse, Cart, Checkout, Product } from './pages/shop.jsx';
import { ErrorMessage, go, useRoute } from './ui.jsx';

const SIGNED_IN_ONLY = ['/cart', '/checkout', '/orders', '/account', '/admin'];

function Page({ route }) {
  const { path, query } = route;
  const signedIn = isSignedIn();
  if (SIGNED_IN_ONLY.some((prefix) => path === prefix || path.startsWith(`${prefix}/`)) && !signedIn) {
    return <Login query={new URLSearchParams({ next: path })} />;
  }
  const product = path.match(/^\/products\/([^/]+)$/);
  const order = path.match(/^\/orders\/([^/]+)$/);
  if (path === '/') return <Browse query={query} />;
  if (product) return <Product productId={decodeURIComponent(product[1])} />;
  if (path === '/login') return <Login query={query} />;
  if (path === '/signup') return <Signup query={query} />;
  if (path === '/cart') return <Cart />;
  if (path === '/checkout') return <Checkout />;
  if (path === '/orders') return <Orders />;
  if (order) return <Order orderId={decodeURIComponent(order[1])} />;
  if (path === '/account') return <Account />;
  if (path === '/admin') return <Admin query={query} />;
  if (path === '/admin/metrics') return <Metrics />;
  return (
    <section>
      <h1>Not found</h1>
      <p>
        There is no such page. <a href="#/">Back to the shop.</a>
      </p>
    </section>
  );
}

/** Shows a failure of the page in words instead of a blank screen. */
function Guarded({ route }) {
  const [error, reset] = useErrorBoundary();
  useEffect(() => {
    if (error) reset();
  }, [route.path]);
  if (error) {
    return (
      <section>
        <h1>Something went wrong</h1>
        <ErrorMessage error={{ code: 'PAGE', message: `This page failed to show: ${error.message}` }} />
        <p>
          <a href="#/">Back to the shop</a>
        </p>
      </section>
    );
  }
  return <Page route={route} />;
}

function App() {
  const route = useRoute();
  // Re-rendered on every session change (a refresh brings the token's roles, too).
  const [, setSessionVersion] = useState(0);
  const signedIn = isSignedIn();
  const main = useRef(null);
  useEffect(() => onSessionChange(() => setSessionVersion((version) => version + 1)), []);
  // Moves focus to the new page, so keyboard and screen-reader users start at its top.
  useEffect(() => {
    if (main.current) main.current.focus();
  }, [route.path]);
  const claims = accessClaims();
  const admin = claims && Array.isArray(claims.roles) && claims.roles.includes('admin');
  return (
    <>
      <a class="skip" href="#main" onClick={(event) => { event.preventDefault(); main.current.focus(); }}>
        Skip to content
      </a>
      <header>
        <nav aria-label="Main">
          <a href="#/" class="brand">
            Commerce Shop
          </a>
          <a href="#/">Shop</a>
          {signedIn ? (
            <>
              <a href="#/cart">Cart</a>
              <a href="#/orders">Orders</a>
              <a href="#/account">Account</a>
              {admin ? <a href="#/admin">Admin</a> : null}
              <button type="button" class="link" onClick={() => logout().finally(() => go('/'))}>
                Log out
              </button>
            </>
          ) : (
            <>
              <a href="#/login">Log in</a>
              <a href="#/signup">Sign up</a>
            </>
          )}
        </nav>
      </header>
      <main id="main" tabIndex={-1} ref={main}>
        <Guarded route={route} key={signedIn ? 'in' : 'out'} />
      </main>
    </>
  );
}

render(<App />, document.getElementById('app'));
