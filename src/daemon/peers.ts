// Who is on the other end of a network connection: on loopback every peer is 127.x, so a peer there is the uid that
// owns its socket (the uid column of /proc/net/tcp and tcp6); anywhere else it is the address. Lookups made together
// share one read of the tables.
import { readFile } from 'node:fs/promises';
import { isIPv4 } from 'node:net';

export interface Address {
  address: string;
  port: number;
}

const LOOPBACK = /^(?:127\.|::ffff:127\.)|^::1$/;

/** True for 127.0.0.0/8 and ::1 (also IPv4-mapped). */
export function isLoopback(address: string): boolean {
  return LOOPBACK.test(address);
}

function hex(value: number, digits: number): string {
  return value.toString(16).toUpperCase().padStart(digits, '0');
}

// The kernel prints each 32-bit word of an address in host order (little-endian here): 127.0.0.1 is 0100007F.
function words(bytes: number[]): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 4) out += hex(((bytes[i + 3]! << 24) | (bytes[i + 2]! << 16) | (bytes[i + 1]! << 8) | bytes[i]!) >>> 0, 8);
  return out;
}

function ipv6Bytes(address: string): number[] {
  // An IPv4 tail (::ffff:127.0.0.1) is two groups.
  const tail = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(address);
  const text = tail === null ? address : `${address.slice(0, tail.index)}${hex((Number(tail[1]) << 8) | Number(tail[2]), 4)}:${hex((Number(tail[3]) << 8) | Number(tail[4]), 4)}`;
  const [head = '', rest = ''] = text.split('::');
  const part = (piece: string): string[] => (piece === '' ? [] : piece.split(':'));
  const groups = text.includes('::') ? [...part(head), ...Array<string>(8 - part(head).length - part(rest).length).fill('0'), ...part(rest)] : part(text);
  return groups.flatMap((group) => {
    const n = parseInt(group, 16);
    return [n >> 8, n & 0xff];
  });
}

/** How /proc/net/tcp (IPv4) or tcp6 writes `address:port`. */
export function procAddress({ address, port }: Address, table: 'tcp' | 'tcp6'): string {
  const bytes = table === 'tcp' ? address.split('.').map(Number) : ipv6Bytes(isIPv4(address) ? `::ffff:${address}` : address);
  return `${words(bytes)}:${hex(port, 4)}`;
}

/**
 * The owners of the sockets named in `wanted` (each `local remote`, as the table writes them) in a /proc/net/tcp(6)
 * text: one pass over the lines, slicing only the two address columns of each; the rest of a line is read only when it
 * is wanted.
 */
export function socketOwners(text: string, wanted: ReadonlySet<string>): Map<string, number | 'closed'> {
  const found = new Map<string, number | 'closed'>();
  let start = text.indexOf('\n') + 1; // the header
  while (start > 0 && start < text.length && found.size < wanted.size) {
    const end = text.indexOf('\n', start);
    const stop = end === -1 ? text.length : end;
    const local = text.indexOf(': ', start) + 2;
    const gap = text.indexOf(' ', local);
    const after = text.indexOf(' ', gap + 1);
    if (local > 1 && after !== -1 && after < stop) {
      const key = text.slice(local, after);
      if (wanted.has(key)) {
        // st, queues, timer, retransmits, uid, timeout, inode. A socket whose process closed it has no inode left, and
        // the kernel shows uid 0 for it: that is nobody's connection, never root's.
        const columns = text.slice(after, stop).trim().split(/\s+/);
        const uid = Number(columns[4]);
        if (columns[6] === '0') found.set(key, 'closed');
        else if (Number.isInteger(uid)) found.set(key, uid);
      }
    }
    start = end + 1;
  }
  return found;
}

// An IPv4 peer of a dual-stack listener shows as ::ffff:127.0.0.1; its own socket is an IPv4 one, in /proc/net/tcp.
function unmapped(address: string): string {
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

/** The key under which a table lists the socket whose local end is `peer` and remote end is `local`. */
export function socketKey(peer: Address, local: Address, table: 'tcp' | 'tcp6'): string | null {
  if (table === 'tcp') {
    const [from, to] = [unmapped(peer.address), unmapped(local.address)];
    return isIPv4(from) && isIPv4(to) ? `${procAddress({ address: from, port: peer.port }, 'tcp')} ${procAddress({ address: to, port: local.port }, 'tcp')}` : null;
  }
  return `${procAddress(peer, table)} ${procAddress(local, table)}`;
}

interface Lookup {
  keys: Array<string | null>;
  peer: Address;
  resolve(key: string | null): void;
}

let waiting: Lookup[] = [];
let reading = false;

// One read of the tables at a time, for every lookup that arrived before it began; lookups arriving meanwhile make the
// next batch. A flood of connections thus costs a few reads, not one per connection.
async function flush(): Promise<void> {
  reading = true;
  while (waiting.length > 0) {
    const batch = waiting;
    waiting = [];
    const wanted = { tcp: new Set<string>(), tcp6: new Set<string>() };
    for (const { keys } of batch) {
      if (keys[0]) wanted.tcp.add(keys[0]);
      if (keys[1]) wanted.tcp6.add(keys[1]);
    }
    const read = (path: string, keys: Set<string>): Promise<Map<string, number | 'closed'>> =>
      keys.size === 0 ? Promise.resolve(new Map()) : readFile(path, 'latin1').then((text) => socketOwners(text, keys), () => new Map());
    const [tcp, tcp6] = await Promise.all([read('/proc/net/tcp', wanted.tcp), read('/proc/net/tcp6', wanted.tcp6)]);
    for (const { keys, peer, resolve } of batch) {
      const uid = (keys[0] ? tcp.get(keys[0]) : undefined) ?? (keys[1] ? tcp6.get(keys[1]) : undefined);
      // Closed by its process already: nothing to serve. Not found (a table hidden from us): the address stands in.
      resolve(uid === 'closed' ? null : uid === undefined ? `address ${peer.address}` : `uid ${uid}`);
    }
  }
  reading = false;
}

/** The peer's key: `uid <n>` for a loopback peer, `address <ip>` for any other; null when its socket is closed already. */
export function peerKey(peer: Address, local: Address): Promise<string | null> {
  if (!isLoopback(peer.address)) return Promise.resolve(`address ${peer.address}`);
  return new Promise((resolve) => {
    waiting.push({ keys: [socketKey(peer, local, 'tcp'), socketKey(peer, local, 'tcp6')], peer, resolve });
    if (!reading) {
      reading = true;
      setImmediate(() => void flush());
    }
  });
}
