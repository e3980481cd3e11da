import type { AddressInfo } from 'node:net';
import type { RouteSpec } from './route-spec.ts';
import type { TlsConfig } from './engine/tls-state.ts';
import type { UpstreamAddress } from './upstream-group.ts';

/**
 * What the control plane asks of the edge: the in-process `Edge` (`berth
 * up`) and the edge process's `RemoteEdge` (`berth server`) both answer it.
 */
export interface EdgeControl {
  readonly address: AddressInfo | null;
  readonly httpsAddress: AddressInfo | null;
  setRoutes(spec: RouteSpec): Promise<void>;
  drain(upstream: UpstreamAddress, deadline: number): Promise<void>;
  purge(hosts: readonly string[], path: string | null): Promise<number>;
  setTls(config: TlsConfig): void;
  setChallenges(tokens: ReadonlyMap<string, string>): void;
}
