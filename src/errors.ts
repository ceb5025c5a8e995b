// The one table of stable error codes. A code is never reused or renamed; the README lists the same set.
export const ERRORS = {
  ERR_BAD_PACKET: 'a line that is not `name [json]`',
  ERR_BAD_ARGS: 'arguments that are not JSON, or fewer than required, or more than declared',
  ERR_UNKNOWN_COMMAND: 'no such command on this daemon',
  ERR_COMMAND_FAILED: 'the handler threw an error without a code of its own',
  ERR_PACKET_TOO_LARGE: 'a packet over the size limit; the connection is closed',
  ERR_SLOW_CONSUMER: 'the peer stopped reading while replies piled up; the connection is closed',
  ERR_IDLE_TIMEOUT: 'nothing arrived within the idle timeout; the connection is closed',
  ERR_TOO_MANY_CONNECTIONS: 'the daemon is at its connection limit; the connection is closed',
  ERR_AUTH_REQUIRED: 'a protected command before a successful `auth`',
  ERR_AUTH_FAILED: 'a wrong token, or no token configured; a machine key other than the one its id registered with',
  ERR_SHUTTING_DOWN: 'the daemon is stopping and takes no new commands',
  ERR_TIMEOUT: 'a call got no reply within its timeout (client side)',
  ERR_CONNECTION_FAILED: 'a connection could not be opened (client side)',
  ERR_CONNECTION_CLOSED: 'the connection closed before the reply arrived (client side)',
  ERR_PROTOCOL: 'the peer sent something that breaks the protocol (client side)',
  ERR_FORBIDDEN: 'an HTTP or WebSocket request whose Origin or Host is not allowed (403)',
  ERR_METHOD_NOT_ALLOWED: 'an HTTP method other than GET / and POST /<command> (405)',
  ERR_UNSUPPORTED_MEDIA_TYPE: 'a POST whose Content-Type is not application/json (415)',
  ERR_BAD_OPTION: 'an option or declaration that is not valid (library API)',
  ERR_NOT_SUPERVISED: 'a supervisor was needed but none is known (no `DAE_PORT`)',
  ERR_NO_PORT: 'no free port is left in a range',
  ERR_LOCKED: 'the home\'s lock could not be taken',
  ERR_ALREADY_RUNNING: 'a supervisor (or LAN manager) already runs on this home',
  ERR_ALREADY_INSTALLED: 'a daemon of that name is already installed',
  ERR_NOT_INSTALLED: 'no daemon of that name is installed',
  ERR_NOT_RUNNING: 'nothing runs that could answer this (the daemon, the supervisor or the LAN manager)',
  ERR_BAD_STATE: 'the state file cannot be read; it is left untouched',
  ERR_START_FAILED: 'the supervisor or LAN manager could not start (the message says why; its dae.log has more)',
  ERR_NOT_ONLINE: 'the daemon did not come online (the message says why)',
  ERR_BAD_CONFIG: 'a config file with an unknown key, a wrong type or an impossible value',
  ERR_NO_SUCH_NEED: 'no need of that name is registered with the LAN manager',
  ERR_NEED_EXISTS: 'a need of that name is already registered',
  ERR_CONFLICT: 'someone else changed the record first (a claim lost its race, or the claim is no longer yours)',
  ERR_UNREACHABLE: 'the LAN manager could not reach the reported service (`whois` did not answer the expected name and pid)',
  ERR_NOT_REGISTERED: 'a machine command on a connection that has not registered',
  ERR_PLACEMENT: 'the need may not run there (pin, `allowedscripts`, code-loading env; the message says which), or a daemon the LAN placed was to be started by hand',
  ERR_UNSAFE_FILE: 'a file or folder of the home, or the config, that another user owns or may write, or a symbolic link where a file of ours belongs',
  ERR_STATE_WRITE: 'the state could not be written (a full disk?): the command changed nothing, and nothing was spawned',
  ERR_AUTH_TIMEOUT: 'a network connection of the supervisor or the LAN manager did not `auth` in time; the connection is closed',
  ERR_MACHINE_CLONED: 'a second live process registered a machine id that another process holds (a cloned home)',
  ERR_MISSING_PACKAGE: 'an optional npm package a feature needs is not installed (the message names it)',
  ERR_PORT_HELD: 'the supervisor could not bind a port (or socket file) it holds for a daemon: someone else has it',
} as const;

export type ErrorCode = keyof typeof ERRORS;

/** The shape in which errors cross the wire. */
export interface WireError {
  code: string;
  message: string;
}

/** Every error dae raises or relays: branch on `code`, never on `message`. */
export class DaeError extends Error {
  readonly code: string;

  constructor(code: ErrorCode | (string & {}), message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DaeError';
    this.code = code;
  }

  /** The `{code, message}` sent over the wire: never a stack. */
  toWire(): WireError {
    return { code: this.code, message: this.message };
  }
}

const CODE = /^ERR_[A-Z0-9_]{1,60}$/;

/** Turns anything a handler threw into the wire form, keeping a handler's own well-formed code. */
export function toWireError(error: unknown): WireError {
  if (error instanceof DaeError) return error.toWire();
  if (error !== null && typeof error === 'object') {
    const { code, message } = error as { code?: unknown; message?: unknown };
    const text = typeof message === 'string' ? message : 'command failed';
    if (typeof code === 'string' && CODE.test(code)) return { code, message: text };
    return { code: 'ERR_COMMAND_FAILED', message: text };
  }
  return { code: 'ERR_COMMAND_FAILED', message: typeof error === 'string' ? error : 'command failed' };
}

/** Rebuilds a `DaeError` from the wire, tolerating a malformed peer. */
export function fromWire(value: unknown): DaeError {
  if (value !== null && typeof value === 'object') {
    const { code, message } = value as { code?: unknown; message?: unknown };
    if (typeof code === 'string') return new DaeError(code, typeof message === 'string' ? message : code);
  }
  return new DaeError('ERR_PROTOCOL', `malformed error reply: ${JSON.stringify(value)}`);
}
