// Which machine may serve a need: pure checks of the pin, the allowed script directories and the wanted ports.
import { isIPv4 } from 'node:net';
import { isAbsolute, relative, resolve, sep } from 'node:path';

export interface MachineFacts {
  id: string;
  /** The advertised address daemons for the LAN bind. */
  address: string;
  /** Directories whose scripts this machine runs; nothing else. */
  allowedscripts: readonly string[];
}

export interface NeedFacts {
  instancename: string;
  script: string;
  env?: Readonly<Record<string, string>>;
  /** A machine address or an IPv4 CIDR (`10.0.0.0/24`); null = anywhere. */
  pin: string | null;
}

function ipv4ToNumber(ip: string): number {
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

/** True when `address` is `pin`, or inside the IPv4 CIDR `pin`. */
export function matchesPin(pin: string, address: string): boolean {
  const slash = pin.indexOf('/');
  if (slash === -1) return pin === address;
  const base = pin.slice(0, slash);
  const prefix = pin.slice(slash + 1);
  const bits = Number(prefix);
  if (!isIPv4(base) || !isIPv4(address) || !/^\d{1,2}$/.test(prefix) || bits > 32) return false;
  if (bits === 0) return true;
  const mask = bits === 32 ? 0xffffffff : (~((1 << (32 - bits)) - 1)) >>> 0;
  return ((ipv4ToNumber(base) & mask) >>> 0) === ((ipv4ToNumber(address) & mask) >>> 0);
}

/** True when `script` (absolute, normalised) lies inside one of `dirs`. */
export function isAllowedScript(script: string, dirs: readonly string[]): boolean {
  if (!isAbsolute(script)) return false;
  const target = resolve(script);
  return dirs.some((dir) => {
    const rel = relative(resolve(dir), target);
    return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
  });
}

// Variables that make node or the loader run code other than the script: they would step around allowedscripts.
const CODE_LOADING_ENV = /^(?:NODE_OPTIONS|NODE_PATH|NODE_REPL_EXTERNAL_MODULE|NODE_EXTRA_CA_CERTS|LD_\w*|DYLD_\w*)$/;

/** The first variable of `env` that would load other code than the script, or null. */
export function codeLoadingVariable(env: Readonly<Record<string, string>>): string | null {
  return Object.keys(env).find((key) => CODE_LOADING_ENV.test(key)) ?? null;
}

/** Whether `machine` may take `need`; the reason is shown on the need when it may not. */
export function canServe(need: NeedFacts, machine: MachineFacts): { ok: true } | { ok: false; reason: string } {
  if (need.pin !== null && !matchesPin(need.pin, machine.address)) {
    return { ok: false, reason: `pinned to ${need.pin}, not ${machine.address}` };
  }
  const unsafe = codeLoadingVariable(need.env ?? {});
  if (unsafe !== null) return { ok: false, reason: `env ${unsafe} would load code from outside allowedscripts` };
  if (!isAllowedScript(need.script, machine.allowedscripts)) {
    return { ok: false, reason: `${need.script} is outside allowedscripts of machine ${machine.id} (${machine.allowedscripts.join(', ') || 'none'})` };
  }
  return { ok: true };
}
