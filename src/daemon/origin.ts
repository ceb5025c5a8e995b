// Browser defences for the HTTP and WebSocket doors: Origin allow-list and Host check (DNS rebinding).

const LOOPBACK_HOST = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;

/** The host name of a `Host` header value, without its port. */
function hostName(header: string): string {
  const trimmed = header.trim().toLowerCase();
  if (trimmed.startsWith('[')) return trimmed.slice(0, trimmed.indexOf(']') + 1);
  const colon = trimmed.lastIndexOf(':');
  return colon === -1 ? trimmed : trimmed.slice(0, colon);
}

/**
 * A `Host` header naming loopback or one of the configured names passes; anything else is a rebinding attempt.
 * `*` lets every name through (a server that machines reach under many names; browsers are still held by Origin).
 */
export function isAllowedHost(header: string | undefined, allowHosts: readonly string[]): boolean {
  if (header === undefined || header === '') return false;
  const name = hostName(header);
  return LOOPBACK_HOST.test(name) || allowHosts.some((allowed) => allowed === '*' || allowed.toLowerCase() === name);
}

/** No `Origin` (curl, scripts) passes; a browser's `Origin` must be in the allow-list (empty by default). */
export function isAllowedOrigin(origin: string | undefined, allowOrigins: readonly string[]): boolean {
  if (origin === undefined) return true;
  return allowOrigins.includes(origin);
}
