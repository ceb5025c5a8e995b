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

/** The uid owning the socket whose local end is `peer` and remote end is `local`, from a /proc/net/tcp(6) text. */
export function socketUid(text: string, peer: Address, local: Address, table: 'tcp' | 'tcp6'): number | null {
  if (table === 'tcp' && (!isIPv4(peer.address) || !isIPv4(local.address))) return null;
  const needle = ` ${procAddress(peer, table)} ${procAddress(local, table)} `;
  const at = text.indexOf(needle);
  if (at === -1) return null;
  const end = text.indexOf('\n', at);
  const columns = text.slice(at, end === -1 ? undefined : end).trim().split(/\s+/);
  // local, remote, st, queues, timer, retransmits, uid
  const uid = Number(columns[6]);
  return Number.isInteger(uid) ? uid : null;
}

interface Lookup {
  peer: Address;
  local: Address;
  resolve(key: string): void;
}

let waiting: Lookup[] = [];

async function readTables(): Promise<Record<'tcp' | 'tcp6', string>> {
  const read = (path: string): Promise<string> => readFile(path, 'latin1').catch(() => '');
  const [tcp, tcp6] = await Promise.all([read('/proc/net/tcp'), read('/proc/net/tcp6')]);
  return { tcp, tcp6 };
}

async function flush(): Promise<void> {
  const batch = waiting;
  waiting = [];
  const tables = await readTables();
  for (const { peer, local, resolve } of batch) {
    const uid = socketUid(tables.tcp, peer, local, 'tcp') ?? socketUid(tables.tcp6, peer, local, 'tcp6');
    // Not found: the connection closed meanwhile, or the table is hidden; the address stands in.
    resolve(uid === null ? `address ${peer.address}` : `uid ${uid}`);
  }
}

/** The peer's key: `uid <n>` for a loopback peer, `address <ip>` for any other. */
export function peerKey(peer: Address, local: Address): Promise<string> {
  if (!isLoopback(peer.address)) return Promise.resolve(`address ${peer.address}`);
  return new Promise((resolve) => {
    if (waiting.length === 0) setImmediate(() => void flush());
    waiting.push({ peer, local, resolve });
  });
}
