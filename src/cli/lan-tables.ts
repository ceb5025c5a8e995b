// `dae needs` and `dae services` as readable tables: pure formatting.
import type { Need, Service } from '../lan/records.js';
import { formatColumns } from './table.js';

/** Needs as aligned columns; `colour` paints the status. */
export function formatNeeds(needs: readonly Need[], colour: boolean): string {
  if (needs.length === 0) return 'no needs (dae need add <instancename> <script>)\n';
  const header = ['instancename', 'status', 'machine', 'epoch', 'script', 'reason'];
  const rows = needs.map((need) => [
    need.instancename, need.status, need.claim?.machine ?? '-', need.claim ? String(need.claim.epoch) : '-', need.script, need.reason ?? '',
  ]);
  return formatColumns(header, rows, colour);
}

/** A registered machine as `machines` answers it; `clone` is a second live process refused for its id. */
export interface MachineView {
  id: string;
  address: string;
  clone?: { address: string; remote: string; at: string };
}

/** One warning line per machine whose id another live process presented (a cloned home); nothing when none did. */
export function formatClones(machines: readonly MachineView[]): string {
  return machines
    .filter((machine) => machine.clone !== undefined)
    .map(({ id, address, clone }) => `warning: machine ${id} (${address}): a second live process with its id and key was refused at ${clone!.address} (connection from ${clone!.remote}, last ${clone!.at}): a cloned home? give it a fresh machine-id and machine-key\n`)
    .join('');
}

/** Services as aligned columns, by instancename. */
export function formatServices(services: readonly Service[]): string {
  if (services.length === 0) return 'no services (a need becomes one when a machine manager runs it and it answers)\n';
  const header = ['instancename', 'machine', 'address', 'pid', 'tcp', 'http', 'ws', 'since'];
  const rows = [...services].sort((a, b) => a.instancename.localeCompare(b.instancename)).map((service) => [
    service.instancename, service.machine.id, service.machine.address, String(service.pid),
    String(service.ports.tcp ?? '-'), String(service.ports.http ?? '-'), String(service.ports.ws ?? '-'), service.since,
  ]);
  // Column 1 is the machine, not a status: never painted.
  return formatColumns(header, rows, false);
}
