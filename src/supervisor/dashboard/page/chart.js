// A daemon's CPU and memory over the sampler's last minutes (uPlot: a canvas, two axes), redrawn as samples come.
// uPlot loads with the first chart: the daemons' table does not wait for it.
import { useEffect, useRef } from 'preact/hooks';
import { html } from './html.js';
import { formatBytes } from './view.js';

function data(ring) {
  return [ring.map((s) => s[0] / 1000), ring.map((s) => s[1]), ring.map((s) => s[2])];
}

const OPTIONS = {
  height: 220,
  series: [
    {},
    { label: 'CPU %', stroke: '#2f7de1', width: 2, scale: '%', value: (_u, v) => (v == null ? '-' : `${v.toFixed(1)}%`) },
    { label: 'memory', stroke: '#c2410c', width: 2, scale: 'bytes', value: (_u, v) => (v == null ? '-' : formatBytes(v)) },
  ],
  axes: [{}, { scale: '%', values: (_u, ticks) => ticks.map((t) => `${t}%`) }, { scale: 'bytes', side: 1, size: 80, grid: { show: false }, values: (_u, ticks) => ticks.map((t) => (t === 0 ? '0' : formatBytes(t))) }],
  scales: { '%': { range: (_u, _min, max) => [0, Math.max(1, max * 1.2)] }, bytes: { range: (_u, _min, max) => [0, Math.max(1024 * 1024, max * 1.2)] } },
};

export function UsageChart({ ring }) {
  const box = useRef(null);
  const plot = useRef(null);
  const latest = useRef(ring);
  latest.current = ring;
  useEffect(() => {
    let shown = true;
    void import('uplot').then(({ default: uPlot }) => {
      if (!shown) return;
      const width = Math.max(320, Math.min(900, box.current.clientWidth || 640));
      plot.current = new uPlot({ ...OPTIONS, width }, data(latest.current), box.current);
    });
    return () => {
      shown = false;
      plot.current?.destroy();
    };
  }, []);
  useEffect(() => plot.current?.setData(data(ring)), [ring]);
  return html`<div class="chart" ref=${box}>${ring.length < 2 ? html`<p class="muted">Samples come every few seconds (sampleInterval): the chart fills as they do.</p>` : null}</div>`;
}
