export {
  type ContainerEngine,
  type ContainerInfo,
  type ContainerScan,
  detectContainers,
  execInContainer,
  findContainerForService,
  locateService,
  runForService,
  type ServiceLocation,
} from './containers.js';
export { HostAccessError, HostCommandError, HostKeyError, HostUnreachableError } from './errors.js';
export { type FanOutOptions, forEachHost, type HostOutcome } from './fanout.js';
export {
  type FileStat,
  type Host,
  type HostSpec,
  type ProcessInfo,
  type RunOptions,
  type RunResult,
  runChecked,
  type WriteResult,
} from './host.js';
export {
  type Inventory,
  loadInventory,
  parseIniInventory,
  parseYamlInventory,
  selectInventoryHosts,
} from './inventory.js';
export { LocalHost, type LocalHostOptions } from './local.js';
export { type HostSelection, parseHostArgument, resolveHosts } from './resolve.js';
export { createSshPool, type HostKeyAcceptance, type SshHost, type SshOptions, type SshPool } from './ssh.js';
