// A daemon's page: its state and actions, what it is (info), its CPU and memory chart, its status-event timeline and
// its live log tail.
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';
import { Actions } from './actions.js';
import { UsageChart } from './chart.js';
import { LogTail } from './logs.js';
import { Status } from './table.js';
import { formatBytes, formatCpu, formatPorts, formatStamp, rowKey } from './view.js';

const EVENTS_SHOWN = 100;

function Info({ info }) {
  const shown = Object.entries(info).filter(([key]) => !['name', 'status', 'reason', 'cpu', 'memory', 'instance'].includes(key));
  return html`<dl class="info">${shown.map(([key, value]) => html`<dt>${key}</dt><dd>${typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value)}</dd>`)}</dl>`;
}

function Timeline({ events }) {
  if (events.length === 0) return html`<p class="muted">No status changes since the supervisor started.</p>`;
  return html`<ol class="timeline">${[...events].reverse().map((event) => html`<li>
    <time>${formatStamp(event.at)}</time>
    <span>${event.instance > 0 ? `[${event.instance}] ` : ''}${event.from} → <b class=${`status-text ${event.to}`}>${event.to}</b></span>
    ${event.reason ? html`<small>${event.reason}</small>` : null}
  </li>`)}</ol>`;
}

export function DaemonPage({ store, name }) {
  const [info, setInfo] = useState(null);
  const [events, setEvents] = useState([]);
  const [error, setError] = useState(null);
  const [message, setMessage] = useState(null);
  const row = store.rows.get(rowKey(name, 0));
  const version = row ? `${row.entry.status}/${row.entry.pid}/${row.entry.restarts}` : '';
  useEffect(() => {
    if (!store.connected) return;
    store.wire.call('info', name).then(setInfo, (e) => setError(`${e.code}: ${e.message}`));
  }, [name, store.connected, store.signedIn, version]);
  useEffect(() => {
    if (!store.connected) return undefined;
    store.wire.call('timeline', name).then((kept) => setEvents(kept.slice(-EVENTS_SHOWN)), () => undefined);
    const listener = (event) => event.name === name && setEvents((now) => [...now, event].slice(-EVENTS_SHOWN));
    store.onEvent.add(listener);
    return () => store.onEvent.delete(listener);
  }, [name, store.connected]);
  if (error && !row) return html`<p class="notice">${error} <a href="#/">back to the daemons</a></p>`;
  if (!row) return html`<p class="muted">Loading ${name}…</p>`;
  const { entry } = row;
  return html`<section class="daemon">
    <div class="title">
      <h1>${name}</h1> <${Status} entry=${entry} />
      ${entry.reason ? html`<span class="reason">${entry.reason}</span>` : null}
      <span class="muted">pid ${entry.pid ?? '-'} · ${formatPorts(entry)} · ${entry.restarts} restarts · ${formatCpu(entry.cpu)} · ${formatBytes(entry.memory)}</span>
      <${Actions} store=${store} entry=${entry} verbs=${['start', 'stop', 'restart', 'reload']} onDone=${(text, bad) => setMessage({ text, bad })} />
      ${message ? html`<span class=${message.bad ? 'toast bad' : 'toast'} role="status">${message.text}</span>` : null}
    </div>
    <div class="panes">
      <div class="pane"><h2>CPU and memory</h2><${UsageChart} ring=${store.rings.get(rowKey(name, 0)) ?? []} /></div>
      <div class="pane"><h2>Status changes</h2><${Timeline} events=${events} /></div>
    </div>
    <div class="pane"><h2>Log</h2><${LogTail} store=${store} name=${name} /></div>
    <details class="pane"><summary>Everything about it (info)</summary>${info ? html`<${Info} info=${info} />` : null}</details>
  </section>`;
}
