// Safe defaults for every buffer and counter a peer can grow. All are configurable per daemon or client.
export interface Limits {
  /** Largest packet in bytes, newline excluded; a larger one gets `ERR_PACKET_TOO_LARGE` and the connection closes. */
  maxPacketBytes: number;
  /** Connections one daemon serves at once; one more gets `ERR_TOO_MANY_CONNECTIONS`. */
  maxConnections: number;
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
  maxInFlight: 256,
  maxWriteBuffer: 8 * 1024 * 1024,
  slowConsumerTimeout: 30_000,
  idleTimeout: 0,
});
