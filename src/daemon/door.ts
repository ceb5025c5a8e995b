// What every door needs from its daemon: one command table, one set of handlers, one set of limits.
import type { Gate } from './gate.js';
import type { Guest, SessionHost } from './session.js';

export interface DoorHost extends SessionHost {
  /** Resolves and runs a command for `guest`; rejects with a `DaeError` carrying the wire code. */
  call(name: string, args: unknown[], guest: Guest): Promise<unknown>;
  /** `GET /`: identity and commands with arities. */
  describe(): unknown;
  /** Admits connections per pool and peer, and checks tokens with a per-peer throttle. */
  readonly gate: Gate;
  readonly allowOrigins: readonly string[];
  readonly allowHosts: readonly string[];
  /** A page of the HTTP door beyond `GET /`'s identity (a subclass's: metrics, a dashboard), or null. */
  page(path: string, accept: string | undefined): HttpPage | null | Promise<HttpPage | null>;
}

/** What a GET of one of a daemon's own pages answers. */
export interface HttpPage {
  type: string;
  body: string | Buffer;
  /** More headers (a page's Content-Security-Policy, say). */
  headers?: Record<string, string>;
}

/** An open door: closed gracefully at stop, destroyed after the stop deadline. */
export interface Door {
  readonly kind: string;
  close(): Promise<void>;
  destroy(): void;
}
