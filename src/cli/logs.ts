// `dae logs`: a daemon's log (or the supervisor's own) as people or tools read it, and following it as it grows.
import { parseRecord } from '../logs/lines.js';
import { followLog } from '../logs/read.js';

export type LogView = 'text' | 'raw' | 'json';

/** One stored line as shown: as stored (`<time> <out|err> <text>`), its text alone, or a JSON object. Pure. */
export function showLine(stored: string, view: LogView, name: string, instances: boolean): string {
  if (view === 'text') return stored;
  const record = parseRecord(stored);
  if (view === 'raw') return record?.line ?? stored;
  // A line written before stamps has no time or stream.
  const shown: Record<string, unknown> = record === null
    ? { time: null, stream: null, line: stored, name }
    : { time: new Date(record.time).toISOString(), stream: record.stream, line: record.line, name };
  if (instances || record?.instance !== undefined) shown.instance = record?.instance ?? 0;
  return JSON.stringify(shown);
}

/**
 * Prints the newest lines (`history`, read once following has begun), then what is appended, until SIGINT or SIGTERM:
 * a line appended while the history was read is printed once.
 */
export async function showAndFollow(path: string, history: () => Promise<string[]>, print: (line: string) => void): Promise<void> {
  let waiting: string[] | null = [];
  const following = followLog(path, (line) => (waiting === null ? print(line) : waiting.push(line)));
  await following.ready;
  const shown = await history();
  shown.forEach(print);
  // What came while the history was read, from just after the newest line shown (when it is among them).
  const after = shown.length === 0 ? -1 : waiting.lastIndexOf(shown.at(-1)!);
  for (const line of waiting.slice(after + 1)) print(line);
  waiting = null;
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  following.stop();
}
