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
  /** An interpreter's absolute path, or `none`: it must lie in allowedscripts too. */
  interpreter?: string;
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

// Variables a token holder may not set for a need: they make the program, its interpreter, its libraries or the dynamic
// loader read code or configuration from outside allowedscripts (glibc's list of variables it drops for setuid
// programs, node, OpenSSL, ICU, shells, Python, Perl, Ruby, Java, git, npm), or redirect where programs look for other
// programs and their config (PATH, HOME, TMPDIR, XDG_*). Whole families by prefix, with the harmless names of a family
// allowed by name; compared without regard to case.
const REFUSED_FAMILIES = [
  'NODE_', 'NPM_', 'LD_', 'DYLD_', 'GLIBC_', 'MALLOC_', 'GCONV_', 'OPENSSL_', 'SSL_', 'ICU_', 'BASH_', 'PYTHON', 'PERL',
  'RUBY', 'GEM_', 'BUNDLE_', 'JAVA_', '_JAVA_', 'JDK_', 'GIT_', 'XDG_', 'LUA_', 'TCL', 'PHP_',
];
const REFUSED_NAMES = new Set([
  'ENV', 'SHELLOPTS', 'BASHOPTS', 'PS4', 'PROMPT_COMMAND', 'IFS', 'CDPATH', 'ZDOTDIR', 'PATH', 'HOME', 'TMPDIR', 'TZDIR',
  'GETCONF_DIR', 'HOSTALIASES', 'LOCALDOMAIN', 'LOCPATH', 'NIS_PATH', 'NLSPATH', 'RESOLV_HOST_CONF', 'RES_OPTIONS',
  'CLASSPATH', 'CURL_CA_BUNDLE', 'REQUESTS_CA_BUNDLE', 'AWS_CA_BUNDLE', 'EDITOR', 'VISUAL', 'PAGER', 'BROWSER', 'SHELL',
]);
// Proxies redirect what the program fetches (code included) through someone else's host.
const REFUSED_SUFFIXES = ['_PROXY'];
const ALLOWED_IN_FAMILY = new Set(['NODE_ENV']);

/** True when a need may not set `name` (it could make the program load code from outside allowedscripts). */
export function isRefusedVariable(name: string): boolean {
  const upper = name.toUpperCase();
  if (ALLOWED_IN_FAMILY.has(upper)) return false;
  return REFUSED_NAMES.has(upper) || REFUSED_FAMILIES.some((prefix) => upper.startsWith(prefix)) || REFUSED_SUFFIXES.some((suffix) => upper.endsWith(suffix));
}

/** The first variable of `env` that would load other code than the script, or null. */
export function codeLoadingVariable(env: Readonly<Record<string, string>>): string | null {
  return Object.keys(env).find(isRefusedVariable) ?? null;
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
  if (need.interpreter !== undefined && need.interpreter !== 'none' && !isAllowedScript(need.interpreter, machine.allowedscripts)) {
    return { ok: false, reason: `interpreter ${need.interpreter} is outside allowedscripts of machine ${machine.id} (${machine.allowedscripts.join(', ') || 'none'})` };
  }
  return { ok: true };
}
