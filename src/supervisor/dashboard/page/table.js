// The daemons' table: one row per daemon copy, live from the feed, with CPU and memory sparklines; only the rows in
// view are drawn (a fixed row height), so 500 daemons cost as little as 20.
import { useEffect, useRef, useState } from 'preact/hooks';
import { html } from './html.js';
import { Actions } from './actions.js';
import { formatBytes, formatCpu, formatDuration, formatPorts, rowKey, shownRows, sparkPoints, statusClass, uptimeAt, visibleWindow } from './view.js';

export const ROW_HEIGHT = 44;

export function Spark({ values, label }) {
  const points = sparkPoints(values, 60, 18);
  return html`<svg class="spark" width="60" height="18" viewBox="0 0 60 18" aria-label=${label}>${points ? html`<polyline points=${points} />` : null}</svg>`;
}

export function Status({ entry }) {
  return html`<span class=${`status ${statusClass(entry.status)}`}>${entry.status}</span>`;
}

function Row({ store, row, now, top, say }) {
  const { entry } = row;
  const ring = store.rings.get(rowKey(entry.name, entry.instance)) ?? [];
  const name = entry.instance > 0 ? `${entry.name}[${entry.instance}]` : entry.name;
  return html`<div class="row" role="row" data-name=${entry.name} data-instance=${entry.instance} style=${`top:${top}px`}>
    <span role="cell" class="name"><a href=${`#/d/${encodeURIComponent(entry.name)}`}>${name}</a></span>
    <span role="cell" class="state"><${Status} entry=${entry} />${entry.reason ? html`<small title=${entry.reason}>${entry.reason}</small>` : null}</span>
    <span role="cell" class="pid">${entry.pid ?? '-'}</span>
    <span role="cell" class="ports" title=${formatPorts(entry)}>${formatPorts(entry)}</span>
    <span role="cell" class="num restarts">${entry.restarts}</span>
    <span role="cell" class="num">${formatDuration(uptimeAt(row, now) ?? NaN)}</span>
    <span role="cell" class="num cpu">${formatCpu(entry.cpu)} <${Spark} values=${ring.map((s) => s[1])} label="CPU, last minutes" /></span>
    <span role="cell" class="num mem">${formatBytes(entry.memory)} <${Spark} values=${ring.map((s) => s[2])} label="memory, last minutes" /></span>
    <span role="cell" class="act">${entry.instance === 0 ? html`<${Actions} store=${store} entry=${entry} onDone=${say} />` : null}</span>
  </div>`;
}

export function DaemonTable({ store }) {
  const [filter, setFilter] = useState('');
  const [scroll, setScroll] = useState({ top: 0, height: 800 });
  const [now, setNow] = useState(Date.now());
  const [message, setMessage] = useState(null);
  const body = useRef(null);
  useEffect(() => {
    const tick = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(tick);
  }, []);
  useEffect(() => {
    const element = body.current;
    if (!element) return;
    const measure = () => setScroll({ top: element.scrollTop, height: element.clientHeight });
    measure();
    addEventListener('resize', measure);
    return () => removeEventListener('resize', measure);
  }, [store.loaded]);
  // The first render with the list: a mark the benchmark reads.
  useEffect(() => {
    if (store.loaded && !performance.getEntriesByName('dae-table').length) performance.mark('dae-table');
  }, [store.loaded]);
  if (!store.loaded) return html`<p class="muted">Loading the daemons…</p>`;
  const rows = shownRows(store.rows, filter);
  const { start, end } = visibleWindow(scroll.top, scroll.height, ROW_HEIGHT, rows.length);
  const say = (text, bad) => setMessage({ text, bad });
  const counts = {};
  for (const { entry } of store.rows.values()) counts[entry.status] = (counts[entry.status] ?? 0) + 1;
  return html`<section class="daemons">
    <div class="bar">
      <input type="search" placeholder="filter by name, status or reason" value=${filter} onInput=${(e) => setFilter(e.currentTarget.value)} aria-label="filter" />
      <span class="counts">${store.rows.size} copies · ${Object.entries(counts).map(([status, n]) => `${n} ${status}`).join(' · ')}</span>
      ${message ? html`<span class=${message.bad ? 'toast bad' : 'toast'} role="status">${message.text}</span>` : null}
    </div>
    <div class="table" role="table" aria-rowcount=${rows.length}>
      <div class="row head" role="row">
        <span role="columnheader">name</span><span role="columnheader">status</span><span role="columnheader">pid</span>
        <span role="columnheader">ports</span><span role="columnheader" class="num">restarts</span><span role="columnheader" class="num">uptime</span>
        <span role="columnheader" class="num">cpu</span><span role="columnheader" class="num">memory</span><span role="columnheader">actions</span>
      </div>
      <div class="body" ref=${body} onScroll=${(e) => setScroll({ top: e.currentTarget.scrollTop, height: e.currentTarget.clientHeight })}>
        <div class="spacer" style=${`height:${rows.length * ROW_HEIGHT}px`}>
          ${rows.slice(start, end).map((row, i) => html`<${Row} key=${rowKey(row.entry.name, row.entry.instance)} store=${store} row=${row} now=${now} top=${(start + i) * ROW_HEIGHT} say=${say} />`)}
        </div>
        ${rows.length === 0 ? html`<p class="muted empty">${store.rows.size === 0 ? 'No daemons installed: dae install <name> <script>' : 'No daemon matches the filter.'}</p>` : null}
      </div>
    </div>
  </section>`;
}
