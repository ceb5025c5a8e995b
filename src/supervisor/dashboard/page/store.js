// The page's state: the supervisor's daemons as the live feed keeps them (rows, sample rings), sign-in, connection.
// Views read it and re-render on `change` (at most once a frame).
import { applyEvent, applyGone, applySamples, rowsFromList } from './view.js';
import { Wire, wireUrl } from './wire.js';

const TOKEN_KEY = 'dae-token';

export class Store {
  rows = new Map();
  rings = new Map();
  identity = null;
  connected = false;
  /** The first list has arrived. */
  loaded = false;
  signedIn = false;
  /** Why the sign-in failed, or a note for the user. */
  notice = null;
  /** Pushes of status events, for the pages that show them live. */
  onEvent = new Set();
  #listeners = new Set();
  #scheduled = false;
  wire;

  constructor(location, storage) {
    this.storage = storage;
    this.wire = new Wire(wireUrl(location), {
      open: () => void this.#session(),
      closed: () => {
        this.connected = false;
        this.changed();
      },
      push: (name, args) => this.#push(name, args),
    });
  }

  start() {
    this.wire.connect();
  }

  subscribe(listener) {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  changed() {
    if (this.#scheduled) return;
    this.#scheduled = true;
    requestAnimationFrame(() => {
      this.#scheduled = false;
      for (const listener of this.#listeners) listener();
    });
  }

  get token() {
    return this.storage.getItem(TOKEN_KEY);
  }

  /** Signs in with `token` (kept for this tab only); false when the supervisor refuses it. */
  async signIn(token) {
    try {
      await this.wire.call('auth', token);
    } catch (error) {
      this.notice = `sign-in refused: ${error.code}: ${error.message}`;
      this.changed();
      return false;
    }
    this.storage.setItem(TOKEN_KEY, token);
    this.signedIn = true;
    this.notice = null;
    this.changed();
    return true;
  }

  /** Forgets the token; the connection starts again unauthenticated. */
  signOut() {
    this.storage.removeItem(TOKEN_KEY);
    this.signedIn = false;
    this.wire.reconnect();
    this.changed();
  }

  /** Runs an action on a daemon (start, stop, restart, reload); resolves with the answer or rejects with the error. */
  act(verb, name) {
    return this.wire.call(verb, name);
  }

  // A (new) connection: sign in again, follow the feed, then the list and the samples once.
  async #session() {
    this.connected = true;
    const token = this.token;
    if (token !== null) {
      this.signedIn = false;
      try {
        await this.wire.call('auth', token);
        this.signedIn = true;
      } catch (error) {
        // Refused: forgotten. Anything else (the connection dropped, say) is tried again with the next connection.
        if (error.code === 'ERR_AUTH_FAILED') this.storage.removeItem(TOKEN_KEY);
        this.notice = `signing in with the kept token failed (${error.code}: ${error.message})`;
      }
    }
    try {
      await this.wire.call('events');
      const [identity, list, samples] = await Promise.all([this.wire.call('whois'), this.wire.call('list'), this.wire.call('samples')]);
      this.identity = identity;
      this.rows = rowsFromList(list, Date.now());
      ({ rings: this.rings } = applySamples(new Map(), new Map(), samples));
      this.loaded = true;
    } catch (error) {
      this.notice = `${error.code}: ${error.message}`;
    }
    this.changed();
  }

  #push(name, args) {
    const at = Date.now();
    if (name === 'event') {
      this.rows = applyEvent(this.rows, args[0], args[1], at);
      for (const listener of this.onEvent) listener(args[0]);
    } else if (name === 'sample') ({ rings: this.rings, rows: this.rows } = applySamples(this.rings, this.rows, args[0]));
    else if (name === 'gone') ({ rows: this.rows, rings: this.rings } = applyGone(this.rows, this.rings, args[0]));
    else return;
    this.changed();
  }
}
