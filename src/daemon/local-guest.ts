// The guest of an in-process call or of one HTTP request: pushes are collected instead of sent.
import { EventEmitter } from 'node:events';
import type { Guest } from './session.js';

export class LocalGuest extends EventEmitter implements Guest {
  readonly id = 0;
  readonly kind: string;
  readonly remote: string;
  readonly peer: string | null;
  readonly pushes: Array<{ name: string; args: unknown[] }> = [];
  #authenticated: boolean;
  #closed = false;

  constructor(authenticated: boolean, kind = 'local', remote = 'local', peer: string | null = null) {
    super();
    this.#authenticated = authenticated;
    this.kind = kind;
    this.remote = remote;
    this.peer = peer;
  }

  get authenticated(): boolean {
    return this.#authenticated;
  }

  get closed(): boolean {
    return this.#closed;
  }

  authenticate(): void {
    this.#authenticated = true;
  }

  subscribed(): void {
    // one request, one guest: nothing outlives it
  }

  push(name: string, ...args: unknown[]): boolean {
    if (this.#closed || this.kind === 'http') return false;
    this.pushes.push({ name, args });
    return true;
  }

  endAfterReplies(): void {
    this.close();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.emit('close');
  }
}
