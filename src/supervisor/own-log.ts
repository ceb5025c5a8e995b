// The supervisor's own log, `dae.log`: stamped lines like a daemon's, rotated the same way, and written at once (a
// supervisor's last words before a crash count most); echoed to stdout in the foreground.
import { createDebug } from '../debug.js';
import { formatRecord, type Stream } from '../logs/lines.js';
import { appendRotatingSync, type RotationLimits } from '../logs/rotating-file.js';

const debug = createDebug('dae');

export type OwnLog = (message: string, stream?: Stream) => void;

export function ownLog(path: string, limits: RotationLimits, echo: boolean): OwnLog {
  return (message, stream = 'out') => {
    const line = formatRecord({ time: Date.now(), stream, line: message });
    debug('%s', message);
    try {
      appendRotatingSync(path, line, limits);
    } catch {
      // a full disk: nothing better to do than keep running
    }
    if (echo) process.stdout.write(line);
  };
}
