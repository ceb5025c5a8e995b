// The guest of an in-process call: pushes are collected instead of sent.
import { EventEmitter } from 'node:events';
import type { Guest } from './session.js';

export class LocalGuest extends EventEmitter implements Guest {
  readonly id = 0;
  readonly kind = 'local';
  readonly remote = 'local';
  readonly pushes: Array<{ name: string; args: unknown[] }> = [];
  #authenticated: boolean;
  #closed = false;

  constructor(authenticated: boolean) {
    super();
    this.#authenticated = authenticated;
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
    if (this.#closed) return false;
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
