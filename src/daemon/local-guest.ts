// The guest of an in-process call or of one HTTP request: pushes are collected instead of sent.
import { EventEmitter } from 'node:events';
import type { Guest } from './session.js';

export class LocalGuest extends EventEmitter implements Guest {
  readonly id = 0;
  readonly kind: string;
  readonly remote: string;
  readonly pushes: Array<{ name: string; args: unknown[] }> = [];
  #authenticated: boolean;
  #closed = false;

  constructor(authenticated: boolean, kind = 'local', remote = 'local') {
    super();
    this.#authenticated = authenticated;
    this.kind = kind;
    this.remote = remote;
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
