// The LAN manager's defaults, apart from its code, so the CLI can show them without loading it.
export const LAN_DEFAULTS = Object.freeze({
  host: '127.0.0.1',
  /** Common TCP door. */
  port: 23551,
  /** The WebSocket door machine managers use: the port the original dae documents. */
  ws: 23552,
  /** ms a machine's registration lives without a heartbeat. */
  machineTtl: 2000,
  /** ms after a machine's connection closes before its registration is revoked (time to reconnect). */
  lostGrace: 500,
  /** ms the reachability check waits for `whois`. */
  reachTimeout: 2000,
});
