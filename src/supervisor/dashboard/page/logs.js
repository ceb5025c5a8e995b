// A daemon's live log tail (both streams, stamped), over a WebSocket of its own that signs in and asks `tail`; search
// within the shown lines. Logs are protected: without the token it says so.
import { useEffect, useRef, useState } from 'preact/hooks';
import { html } from './html.js';
import { formatStamp, parseRecord, searchRecords } from './view.js';
import { Wire, wireUrl } from './wire.js';

/** Lines the tail keeps shown. */
export const TAIL_KEPT = 2000;

function Highlight({ text, at, length }) {
  if (at < 0) return text;
  return html`${text.slice(0, at)}<mark>${text.slice(at, at + length)}</mark>${text.slice(at + length)}`;
}

export function LogTail({ store, name }) {
  const [records, setRecords] = useState([]);
  const [state, setState] = useState('connecting');
  const [query, setQuery] = useState('');
  const [follow, setFollow] = useState(true);
  const box = useRef(null);
  useEffect(() => {
    if (!store.signedIn) return undefined;
    let kept = [];
    let live = false;
    const add = (lines, skipped) => {
      const more = lines.map(parseRecord);
      if (skipped > 0) more.unshift({ time: '', stream: 'err', instance: 0, text: `… ${skipped} lines skipped: the daemon writes faster than the page is sent them (dae logs has them all)`, note: true });
      kept = [...kept, ...more].slice(-TAIL_KEPT);
      setRecords(kept);
    };
    const wire = new Wire(wireUrl(location), {
      open: async () => {
        try {
          await wire.call('auth', store.token);
          kept = [];
          add(await wire.call('tail', name, 200), 0);
          live = true;
          setState('live');
        } catch (error) {
          setState(`${error.code}: ${error.message}`);
        }
      },
      closed: () => {
        live = false;
        setState('reconnecting');
      },
      push: (push, args) => {
        if (push === 'lines' && args[0] === name) add(args[1], args[2]);
        // The log process restarted (or the daemon went): follow again, a second later.
        if (push === 'tailend' && live) {
          live = false;
          setState('ended: following again');
          setTimeout(() => wire.reconnect(), 1000);
        }
      },
    });
    wire.connect();
    return () => wire.close();
  }, [name, store.signedIn]);
  useEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [records, follow, query]);
  if (!store.signedIn) return html`<p class="muted locked">Logs are protected: sign in with the home's token to see them.</p>`;
  const found = searchRecords(records, query);
  return html`<div class="logs">
    <div class="bar">
      <input type="search" placeholder="search the shown lines" value=${query} onInput=${(e) => setQuery(e.currentTarget.value)} aria-label="search the log" />
      <label><input type="checkbox" checked=${follow} onChange=${(e) => setFollow(e.currentTarget.checked)} /> follow</label>
      <span class="muted">${query ? `${found.length} of ${records.length} lines` : `${records.length} lines`} · ${state}</span>
    </div>
    <pre class="tail" ref=${box} aria-live="off">${found.map(({ record, at }) => html`<div class=${`line ${record.stream}${record.note ? ' note' : ''}`}><time>${formatStamp(record.time)}</time> <b>${record.stream}${record.instance ? `@${record.instance}` : ''}</b> <${Highlight} text=${record.text} at=${at} length=${query.length} /></div>`)}</pre>
  </div>`;
}
