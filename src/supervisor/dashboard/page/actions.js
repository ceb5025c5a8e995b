// Start, stop, restart, reload of a daemon: only when signed in; the destructive ones ask first, in place.
import { useState } from 'preact/hooks';
import { html } from './html.js';

const ASKS = new Set(['stop', 'restart', 'reload']);

export function Actions({ store, entry, verbs = ['start', 'stop', 'restart'], onDone }) {
  const [asking, setAsking] = useState(null);
  const [busy, setBusy] = useState(false);
  if (!store.signedIn) return html`<span class="muted" title="sign in with the home's token to act">read-only</span>`;
  const run = async (verb) => {
    setAsking(null);
    setBusy(true);
    try {
      await store.act(verb, entry.name);
      onDone?.(`${entry.name}: ${verb} done`);
    } catch (error) {
      onDone?.(`${entry.name}: ${verb} failed: ${error.code}: ${error.message}`, true);
    } finally {
      setBusy(false);
    }
  };
  if (asking !== null) {
    return html`<span class="ask">${asking} ${entry.name}?
      <button class="danger" data-confirm=${asking} onClick=${() => run(asking)}>Yes, ${asking}</button>
      <button class="quiet" onClick=${() => setAsking(null)}>No</button></span>`;
  }
  const running = entry.status !== 'stopped' && entry.status !== 'errored';
  return html`<span class="actions">${verbs
    .filter((verb) => (verb === 'start' ? !running : verb === 'stop' || verb === 'reload' ? running : true))
    .map((verb) => html`<button disabled=${busy} data-verb=${verb} onClick=${() => (ASKS.has(verb) ? setAsking(verb) : run(verb))}>${verb}</button>`)}</span>`;
}
