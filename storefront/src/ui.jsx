// Small shared pieces: routing by the URL's hash, loading data, forms and error messages.
import { useCallback, useEffect, useState } from 'preact/hooks';
import { errorWords } from './words.js';

/** The current route: the hash without `#`, split into path and query. */
export function useRoute() {
  const read = () => {
    const hash = location.hash.replace(/^#/, '') || '/';
    const [path, query = ''] = hash.split('?');
    return { path, query: new URLSearchParams(query) };
  };
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const changed = () => setRoute(read());
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return route;
}

export function go(path) {
  location.hash = path;
}

/** Loads with `load()` whenever `keys` change; gives {data, error, loading, reload}. */
export function useLoad(load, keys) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const reload = useCallback(() => {
    let live = true;
    setState((previous) => ({ ...previous, loading: true }));
    load().then(
      (data) => live && setState({ data, error: null, loading: false }),
      (error) => live && setState({ data: null, error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, keys);
  useEffect(reload, [reload]);
  return { ...state, reload };
}

/** Runs an action on submit, keeping its error and a busy flag. */
export function useAction(action) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const run = async (...args) => {
    setBusy(true);
    setError(null);
    try {
      return await action(...args);
    } catch (caught) {
      setError(caught);
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return { run, busy, error, setError };
}

export function ErrorMessage({ error }) {
  if (!error) return null;
  return (
    <p class="error" role="alert" data-code={error.code}>
      {errorWords(error)}
    </p>
  );
}

export function Loading({ what }) {
  return <p aria-busy="true">Loading {what}…</p>;
}

/** A labelled input; `id` ties the label to it. */
export function Field({ id, label, ...input }) {
  return (
    <p class="field">
      <label for={id}>{label}</label>
      <input id={id} name={id} {...input} />
    </p>
  );
}

export function formValues(event) {
  event.preventDefault();
  return Object.fromEntries(new FormData(event.currentTarget).entries());
}
