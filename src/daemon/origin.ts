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

/**
 * No `Origin` (curl, scripts) passes; a browser's `Origin` must be in the allow-list (empty by default) or be the
 * door's own: `http://` and the request's `Host`, when that names loopback or a configured name (a page the door served
 * itself). Never through `*`: a rebound name would be its own origin.
 */
export function isAllowedOrigin(origin: string | undefined, allowOrigins: readonly string[], hostHeader?: string, allowHosts: readonly string[] = []): boolean {
  if (origin === undefined) return true;
  const own = hostHeader !== undefined && origin.toLowerCase() === `http://${hostHeader.trim().toLowerCase()}`;
  if (own && isAllowedHost(hostHeader, allowHosts.filter((name) => name !== '*'))) return true;
  return allowOrigins.includes(origin);
}
