// The page's connection to the supervisor: Common TCP over a WebSocket on the page's own address, one packet a
// message (`name [json]`). Replies come in the order of the calls; pushes (`event`, `sample`, `gone`, `lines`,
// `tailend`) come beside them. It connects again after a loss (1 s, 2 s, then every 5 s).
const PUSHES = new Set(['event', 'sample', 'gone', 'lines', 'tailend']);
const RETRY_MS = [1000, 2000, 5000];

/** `name [json]` → {name, args}; null when it is not a packet. */
export function parsePacket(text) {
  const space = text.indexOf(' ');
  const name = space === -1 ? text : text.slice(0, space);
  if (space === -1) return { name, args: [] };
  try {
    const value = JSON.parse(text.slice(space + 1));
    return { name, args: Array.isArray(value) ? value : [value] };
  } catch {
    return null;
  }
}

export class Wire {
  #url;
  #handlers;
  #ws = null;
  #pending = [];
  #tries = 0;
  #ended = false;

  /** handlers: push(name, args), open(), closed(). */
  constructor(url, handlers) {
    this.#url = url;
    this.#handlers = handlers;
  }

  connect() {
    const ws = new WebSocket(this.#url);
    this.#ws = ws;
    ws.onopen = () => {
      this.#tries = 0;
      this.#handlers.open?.();
    };
    ws.onmessage = (message) => this.#receive(String(message.data));
    ws.onclose = () => {
      if (this.#ws !== ws) return;
      this.#ws = null;
      this.#failPending();
      this.#handlers.closed?.();
      if (!this.#ended) setTimeout(() => this.connect(), RETRY_MS[Math.min(this.#tries++, RETRY_MS.length - 1)]);
    };
  }

  /** Calls a command; rejects with the wire error `{code, message}`. */
  call(name, ...args) {
    const ws = this.#ws;
    if (ws === null || ws.readyState !== WebSocket.OPEN) return Promise.reject({ code: 'ERR_CONNECTION_CLOSED', message: 'not connected to the supervisor' });
    return new Promise((resolve, reject) => {
      this.#pending.push({ resolve, reject });
      ws.send(args.length === 0 ? name : `${name} ${JSON.stringify(args)}`);
    });
  }

  close() {
    this.#ended = true;
    this.#ws?.close();
  }

  /** Drops the connection (its authentication with it) and connects again at once. */
  reconnect() {
    if (this.#ended) return;
    this.#tries = 0;
    const ws = this.#ws;
    this.#ws = null;
    ws?.close();
    this.#failPending();
    this.connect();
  }

  #failPending() {
    for (const pending of this.#pending.splice(0)) pending.reject({ code: 'ERR_CONNECTION_CLOSED', message: 'the connection to the supervisor closed' });
  }

  #receive(text) {
    const packet = parsePacket(text);
    if (packet === null) return;
    // An error with no call waiting is the connection's own (it is being closed): a push too.
    if (PUSHES.has(packet.name) || this.#pending.length === 0) return this.#handlers.push?.(packet.name, packet.args);
    const pending = this.#pending.shift();
    if (packet.name === 'error') pending.reject(packet.args[0] ?? { code: 'ERR_PROTOCOL', message: 'an error without a reason' });
    else pending.resolve(packet.args[0]);
  }
}

/** The supervisor's WebSocket address: the page's own. */
export function wireUrl(location) {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/`;
}
