// The public surface of dae.
export { Daemon, type DaemonOptions, type Identity, type DaemonStatus } from './daemon/daemon.js';
export { runDaemon } from './daemon/main.js';
export type { Guest } from './daemon/session.js';
export type { CommandDeclarations, CommandSpec, Handler } from './daemon/commands.js';
export { Client, type ClientOptions, type CallOptions } from './client/client.js';
export { connectWithDae, connectWith } from './client/connect.js';
export { DaeError, ERRORS, type ErrorCode, type WireError } from './errors.js';
export { DEFAULT_LIMITS, type Limits } from './protocol/limits.js';
export { Dae, type DaeOptions } from './supervisor/dae.js';
export type { DaemonInfo } from './supervisor/info.js';
export type { ListEntry, StatusEvent } from './supervisor/managed.js';
export type { DaeConfig } from './supervisor/config.js';
export type { InstallOptions, Status } from './supervisor/spec.js';
export { LanManager, type LanManagerOptions } from './lan/manager.js';
export { LAN_DEFAULTS } from './lan/defaults.js';
export { EmbeddedRegistry } from './lan/embedded.js';
export type { Registry, MachineRecord, MachineLease, RegistryChange, Versioned } from './lan/registry.js';
export type { Need, NeedStatus, Service } from './lan/records.js';
