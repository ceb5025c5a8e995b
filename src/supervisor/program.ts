// What runs for a daemon: a Node script (.js, .mjs, .cjs) under the supervisor's node, any other executable file
// directly (an ELF binary, a script with a shebang), or a file under the interpreter given. A bare name is looked up
// on PATH and recorded as its absolute path.
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { DaeError } from '../errors.js';

/** `node`: the supervisor's own node; an absolute path: that interpreter; null: the program runs by itself. */
export type Interpreter = 'node' | string | null;

const NODE_SCRIPT = /\.(?:js|mjs|cjs)$/;

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** A bare command name, found on `path` (as a shell would), as an absolute path; null when it is nowhere. */
export function which(name: string, path: string | undefined): string | null {
  for (const dir of (path ?? '').split(delimiter)) {
    if (dir === '' || !isAbsolute(dir)) continue;
    const candidate = join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return null;
}

/** Resolves what to run: the program's absolute path and its interpreter. Throws ERR_BAD_ARGS naming the problem. */
export function resolveProgram(program: string, interpreter: string | undefined, cwd: string, path: string | undefined): { program: string; interpreter: Interpreter } {
  if (typeof program !== 'string' || program === '') throw new DaeError('ERR_BAD_ARGS', `the program must be a path or a command name, got ${JSON.stringify(program)}`);
  const bare = !program.includes('/');
  const found = bare ? which(program, path) : resolve(cwd, program);
  if (found === null) throw new DaeError('ERR_BAD_ARGS', `${program} is not a file here, nor a command on PATH`);
  let stats;
  try {
    stats = statSync(found);
  } catch {
    throw new DaeError('ERR_BAD_ARGS', `program ${found} does not exist`);
  }
  if (!stats.isFile()) throw new DaeError('ERR_BAD_ARGS', `program ${found} is not a file`);
  if (interpreter === 'none') {
    if (!isExecutableFile(found)) throw new DaeError('ERR_BAD_ARGS', `program ${found} is not executable (chmod +x it, or give --interpreter)`);
    return { program: found, interpreter: null };
  }
  if (interpreter !== undefined) {
    if (typeof interpreter !== 'string' || interpreter === '') throw new DaeError('ERR_BAD_ARGS', `option interpreter must be a path, a command name or none, got ${JSON.stringify(interpreter)}`);
    const runner = interpreter.includes('/') ? resolve(cwd, interpreter) : which(interpreter, path);
    if (runner === null || !isExecutableFile(runner)) throw new DaeError('ERR_BAD_ARGS', `interpreter ${interpreter} is not an executable file here, nor a command on PATH`);
    return { program: found, interpreter: runner };
  }
  if (NODE_SCRIPT.test(found)) return { program: found, interpreter: 'node' };
  if (isExecutableFile(found)) return { program: found, interpreter: null };
  throw new DaeError('ERR_BAD_ARGS', `program ${found} is neither a Node script (.js, .mjs, .cjs) nor executable: chmod +x it, or give --interpreter`);
}
