// The dashboard: a header (connection, sign-in), and one of three views by the address's #fragment: the daemons'
// table (#/), a daemon's page (#/d/<name>), the LAN (#/lan).
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Store } from './store.js';
import { DaemonTable } from './table.js';
import { DaemonPage } from './daemon.js';
import { LanView } from './lan.js';

import { html } from './html.js';

// A malformed escape (`#/d/%`) is no address: the table.
function decoded(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}

function route(hash) {
  const daemon = /^#\/d\/(.+)$/.exec(hash);
  const name = daemon ? decoded(daemon[1]) : null;
  if (name !== null) return { view: 'daemon', name };
  if (hash === '#/lan') return { view: 'lan' };
  return { view: 'table' };
}

function useStore(store) {
  const [, setVersion] = useState(0);
  useEffect(() => store.subscribe(() => setVersion((v) => v + 1)), [store]);
}

function SignIn({ store }) {
  const [open, setOpen] = useState(false);
  const [token, setToken] = useState('');
  if (store.signedIn) return html`<button class="quiet" onClick=${() => store.signOut()}>Sign out</button>`;
  if (!open) return html`<button onClick=${() => setOpen(true)}>Sign in</button>`;
  const submit = async (event) => {
    event.preventDefault();
    if (await store.signIn(token.trim())) setOpen(false);
    setToken('');
  };
  return html`<form class="signin" onSubmit=${submit}>
    <input type="password" name="token" placeholder="the home's token" autocomplete="off" value=${token} onInput=${(e) => setToken(e.currentTarget.value)} autofocus />
    <button type="submit">Sign in</button>
    <button type="button" class="quiet" onClick=${() => setOpen(false)}>Cancel</button>
  </form>`;
}

function Header({ store, where }) {
  const id = store.identity;
  return html`<header>
    <a class="brand" href="#/">dae</a>
    <nav>
      <a href="#/" class=${where.view === 'table' ? 'here' : ''}>Daemons</a>
      <a href="#/lan" class=${where.view === 'lan' ? 'here' : ''}>LAN</a>
    </nav>
    <span class="who">${id ? `supervisor pid ${id.pid}` : ''}</span>
    <span class=${`link ${store.connected ? 'ok' : 'bad'}`} title=${store.connected ? 'live: updates arrive as they happen' : 'not connected: trying again'}>${store.connected ? 'live' : 'offline'}</span>
    <${SignIn} store=${store} />
  </header>
  ${store.signedIn ? null : html`<p class="readonly">Read-only: starting, stopping and restarting daemons, and their logs, need the home's token. Sign in with it (<code>cat ~/.dae/token</code>, or open the address <code>dae dashboard --token</code> prints); it is kept for this tab only.</p>`}
  ${store.notice ? html`<p class="notice" role="alert">${store.notice}</p>` : null}`;
}

function App({ store }) {
  useStore(store);
  const [where, setWhere] = useState(route(location.hash));
  useEffect(() => {
    const onHash = () => setWhere(route(location.hash));
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  const view = where.view === 'daemon' ? html`<${DaemonPage} store=${store} name=${where.name} />` : where.view === 'lan' ? html`<${LanView} store=${store} />` : html`<${DaemonTable} store=${store} />`;
  return html`<${Header} store=${store} where=${where} /><main>${view}</main>`;
}

// An address with `#token=…` (from `dae dashboard --token`) signs in, and the token leaves the address bar at once.
const fragment = /^#token=([^&]+)$/.exec(location.hash);
if (fragment) {
  const token = decoded(fragment[1]);
  if (token !== null) sessionStorage.setItem('dae-token', token);
  history.replaceState(null, '', `${location.pathname}#/`);
}
const store = new Store(location, sessionStorage);
store.start();
render(html`<${App} store=${store} />`, document.getElementById('app'));
