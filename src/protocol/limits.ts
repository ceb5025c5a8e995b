// Safe defaults for every buffer and counter a peer can grow. All are configurable per daemon or client.
export interface Limits {
  /** Largest packet in bytes, newline excluded; a larger one gets `ERR_PACKET_TOO_LARGE` and the connection closes. */
  maxPacketBytes: number;
  /** Network connections (TCP, HTTP, WebSocket together) one daemon serves at once, and unix socket ones apart; one
   * more gets `ERR_TOO_MANY_CONNECTIONS`. */
  maxConnections: number;
  /** Network connections of one peer (a uid on loopback, an address elsewhere); one more is refused. */
  maxConnectionsPerPeer: number;
  /** A network connection that has not authenticated within this long (ms) is closed with `ERR_AUTH_TIMEOUT`, unless
   * it holds a read-only subscription; 0 = never (ordinary daemons serve anonymous clients). */
  authTimeout: number;
  /** After a few wrong tokens from one peer, each further `auth` of that peer waits, doubling up to this (ms); 0 = no
   * delay. */
  authDelayMax: number;
  /** Commands running at once on one connection; past it, reading pauses until replies drain. */
  maxInFlight: number;
  /** Reply bytes waiting to be written before reading pauses. */
  maxWriteBuffer: number;
  /** How long (ms) the write buffer may stay over `maxWriteBuffer` before `ERR_SLOW_CONSUMER`. */
  slowConsumerTimeout: number;
  /** Close a connection that sent nothing for this long (ms), with `ERR_IDLE_TIMEOUT`; 0 = never. */
  idleTimeout: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxPacketBytes: 1024 * 1024,
  maxConnections: 1024,
  maxConnectionsPerPeer: 128,
  authTimeout: 0,
  authDelayMax: 5000,
  maxInFlight: 256,
  maxWriteBuffer: 8 * 1024 * 1024,
  slowConsumerTimeout: 30_000,
  idleTimeout: 0,
});
