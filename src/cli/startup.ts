// `dae startup`: a systemd unit that starts the supervisor at boot.
import { userInfo } from 'node:os';
import { fileURLToPath } from 'node:url';

/** The unit text. KillMode=process: systemd stops only the supervisor, which stops its daemons itself. */
export function systemdUnit(options: { home: string; configPath: string; cwd: string }): string {
  const cli = fileURLToPath(new URL('./main.js', import.meta.url));
  const user = userInfo().username;
  return `[Unit]
Description=dae supervisor (${options.home})
After=network.target

[Service]
Type=simple
User=${user}
Environment=DAE_HOME=${options.home}
WorkingDirectory=${options.cwd}
ExecStart=${process.execPath} ${cli} start --foreground --config ${options.configPath}
KillMode=process
TimeoutStopSec=60
Restart=on-failure

[Install]
WantedBy=multi-user.target
`;
}
