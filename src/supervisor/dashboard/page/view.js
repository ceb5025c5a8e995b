// What the dashboard shows, worked out without a DOM (unit-tested in Node): formats, rows from the feed, the window of a
// long table, sparklines, log records and their search.

/** Samples kept per copy in the page, as in the supervisor's ring. */
export const SAMPLES_KEPT = 120;

export function rowKey(name, instance) {
  return `${name}\u0000${instance}`;
}

function keyParts(key) {
  const at = key.lastIndexOf('\u0000');
  return [key.slice(0, at), Number(key.slice(at + 1))];
}

export function formatBytes(bytes) {
  if (!Number.isFinite(bytes) || bytes <= 0) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 100 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

export function formatDuration(ms) {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** An ISO 8601 UTC time as shown: `2026-12-07 10:00:00.123`. */
export function formatStamp(iso) {
  return iso.replace('T', ' ').replace('Z', '');
}

export function formatCpu(percent) {
  return Number.isFinite(percent) ? `${percent < 10 ? percent.toFixed(1) : Math.round(percent)}%` : '-';
}

export function formatPorts(entry) {
  const parts = Object.entries(entry.ports ?? {}).map(([kind, port]) => `${kind} ${port}`);
  return parts.length === 0 ? '-' : parts.join(', ');
}

/** How long a copy has been online, in ms at `now`: its uptime (s) when the entry came, plus the time since. */
export function uptimeAt(row, now) {
  return row.entry.status === 'online' ? row.entry.uptime * 1000 + (now - row.at) : null;
}

/** The rows of a `list` answer, by copy. */
export function rowsFromList(entries, at) {
  return new Map(entries.map((entry) => [rowKey(entry.name, entry.instance), { entry, at }]));
}

/** A status event: its copy's entry replaces the row (a new daemon's first event adds it). */
export function applyEvent(rows, event, entry, at) {
  const next = new Map(rows);
  const key = rowKey(event.name, event.instance);
  if (entry) next.set(key, { entry, at });
  else if (next.has(key)) {
    const row = next.get(key);
    next.set(key, { entry: { ...row.entry, status: event.to, reason: event.reason }, at: row.at });
  }
  return next;
}

/** `gone {name, from}`: copies `from` and up of a daemon are no more, nor their samples. */
export function applyGone(rows, rings, gone) {
  const stays = (name, instance) => name !== gone.name || instance < gone.from;
  const nextRows = new Map([...rows].filter(([, row]) => stays(row.entry.name, row.entry.instance)));
  const nextRings = new Map([...rings].filter(([key]) => stays(...keyParts(key))));
  return { rows: nextRows, rings: nextRings };
}

/** A sampler tick into the rings (each bounded), and the rows' cpu and memory from it. */
export function applySamples(rings, rows, taken) {
  const nextRings = new Map(rings);
  const nextRows = new Map(rows);
  for (const { name, instance, samples } of taken) {
    const key = rowKey(name, instance);
    const ring = [...(nextRings.get(key) ?? []), ...samples].slice(-SAMPLES_KEPT);
    nextRings.set(key, ring);
    const row = nextRows.get(key);
    const last = samples[samples.length - 1];
    if (row && last) nextRows.set(key, { ...row, entry: { ...row.entry, cpu: last[1], memory: last[2] } });
  }
  return { rings: nextRings, rows: nextRows };
}

/** Rows in name order (instances in order), those whose name, status or reason has `filter`. */
export function shownRows(rows, filter) {
  const needle = filter.trim().toLowerCase();
  return [...rows.values()]
    .filter(({ entry }) => needle === '' || entry.name.toLowerCase().includes(needle) || entry.status.includes(needle) || (entry.reason ?? '').toLowerCase().includes(needle))
    .sort((a, b) => (a.entry.name < b.entry.name ? -1 : a.entry.name > b.entry.name ? 1 : a.entry.instance - b.entry.instance));
}

/** Which rows of a long table to draw: those in view and `overscan` either side. */
export function visibleWindow(scrollTop, viewHeight, rowHeight, count, overscan = 8) {
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(count, Math.ceil((scrollTop + viewHeight) / rowHeight) + overscan);
  return { start: first, end: Math.max(first, last) };
}

/** An SVG polyline's points for values scaled into width × height (the highest at the top); '' with fewer than 2. */
export function sparkPoints(values, width, height) {
  if (values.length < 2) return '';
  const max = Math.max(...values, 1e-9);
  const step = width / (values.length - 1);
  return values.map((value, i) => `${(i * step).toFixed(1)},${(height - (value / max) * (height - 2) - 1).toFixed(1)}`).join(' ');
}

const RECORD = /^(\S+) (out|err)(?:@(\d+))? (.*)$/s;

/** A stored log line `<time> <out|err>[@n] <text>`; one that is not is shown whole as out. */
export function parseRecord(line) {
  const match = RECORD.exec(line);
  if (match === null) return { time: '', stream: 'out', instance: 0, text: line };
  return { time: match[1], stream: match[2], instance: Number(match[3] ?? 0), text: match[4] };
}

/** The records whose text has `query` (case-insensitive), each with where it matched (-1: found, but not where to
 * mark it in the text as written, when lower case changed its length). */
export function searchRecords(records, query) {
  const needle = query.toLowerCase();
  if (needle === '') return records.map((record) => ({ record, at: -1 }));
  const found = [];
  for (const record of records) {
    const lower = record.text.toLowerCase();
    const at = lower.indexOf(needle);
    if (at !== -1) found.push({ record, at: lower.length === record.text.length ? at : -1 });
  }
  return found;
}

/** The class a status (of a daemon copy, or of a LAN need) is painted with. */
export function statusClass(status) {
  return { online: 'ok', satisfied: 'ok', starting: 'busy', waiting: 'busy', claimed: 'busy', stopping: 'busy', backoff: 'warn', unsatisfied: 'warn', stopped: 'off', errored: 'bad' }[status] ?? 'busy';
}
