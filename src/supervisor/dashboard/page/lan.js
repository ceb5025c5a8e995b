// The LAN: needs (status, reason), services (machine, address) and machines (heartbeats), from the LAN manager this
// supervisor follows or the one in its home. The LAN manager pushes nothing to the supervisor: read every 5 s while shown.
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';
import { formatDuration, formatPorts, statusClass } from './view.js';

const EVERY_MS = 5000;

function Table({ head, rows }) {
  return html`<table class="plain"><thead><tr>${head.map((cell) => html`<th>${cell}</th>`)}</tr></thead>
    <tbody>${rows.map((row) => html`<tr>${row.map((cell) => html`<td>${cell}</td>`)}</tr>`)}</tbody></table>`;
}

export function LanView({ store }) {
  const [lan, setLan] = useState(undefined);
  const [error, setError] = useState(null);
  useEffect(() => {
    if (!store.connected) return undefined;
    const read = () => store.wire.call('lan').then((view) => (setLan(view), setError(null)), (e) => setError(`${e.code}: ${e.message}`));
    read();
    const timer = setInterval(read, EVERY_MS);
    return () => clearInterval(timer);
  }, [store.connected, store.signedIn]);
  if (error) return html`<p class="notice">${error}</p>`;
  if (lan === undefined) return html`<p class="muted">Reading the LAN…</p>`;
  if (lan === null) return html`<p class="muted">No LAN here: this supervisor follows no LAN manager (lanmanageraddress) and none runs in its home (dae lan start).</p>`;
  const now = Date.now();
  return html`<section class="lan">
    <p class="muted">${lan.from === 'machine' ? 'From the LAN manager this machine follows.' : 'From the LAN manager running in this home.'}</p>
    <h2>Needs</h2>
    ${lan.needs === null ? html`<p class="muted locked">Needs and machines are protected: sign in to see them.</p>` : html`<${Table}
      head=${['instancename', 'status', 'machine', 'epoch', 'script', 'reason']}
      rows=${lan.needs.map((need) => [need.instancename, html`<span class=${`status ${statusClass(need.status)}`}>${need.status}</span>`, need.claim?.machine ?? '-', need.claim?.epoch ?? '-', need.script, need.reason ?? ''])} />`}
    <h2>Services</h2>
    ${lan.services.length === 0 ? html`<p class="muted">No services: a need becomes one when a machine runs it and it answers.</p>` : html`<${Table}
      head=${['instancename', 'machine', 'address', 'pid', 'ports', 'since']}
      rows=${lan.services.map((s) => [s.instancename, s.machine.id, s.machine.address, s.pid, formatPorts(s), s.since])} />`}
    ${lan.machines === null ? null : html`<h2>Machines</h2><${Table}
      head=${['id', 'address', 'last heartbeat', 'warning']}
      rows=${lan.machines.map((m) => [m.id, m.address, m.heartbeat ? `${formatDuration(now - Date.parse(m.heartbeat))} ago` : 'on another LAN manager', m.clone ? `a clone was refused at ${m.clone.address}` : ''])} />`}
  </section>`;
}
