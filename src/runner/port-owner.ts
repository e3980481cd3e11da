import { listenersFor, readTcpListeners, type TcpListener } from './proc-net.ts';
import { listProcesses, socketInodesOf } from './proc-table.ts';

// Whose is the port an instance was given? berth picks a free port and the
// app binds it a moment later; anything else on the machine can bind it in
// between (or listen on 0.0.0.0/:: with it). An instance is ready only when
// every listening socket that would take a connection to 127.0.0.1:PORT is
// the instance's own: owned by the app's uid when apps have users of their
// own, else held by a process of the instance's process group.

/** How to recognise the instance's own sockets. */
export type PortOwner =
  /** Apps run as their own users: the socket's owner uid is the app's. */
  | { readonly kind: 'uid'; readonly uid: number }
  /** Every instance runs as one uid (berth up, a non-root daemon): the socket is held by a process of this group. */
  | { readonly kind: 'group'; readonly pgid: number }
  /** The instance listens in a network namespace of its app's own (a sandbox), where nothing else can listen: nothing to check. */
  | { readonly kind: 'own-network' };

export type PortCheck =
  | { readonly kind: 'none' }
  | { readonly kind: 'own' }
  /** A listener that is not the instance's; `uid` is the socket's owner. */
  | { readonly kind: 'foreign'; readonly uid: number; readonly address: string };

/**
 * Judges the listeners on the port (already narrowed to those reaching
 * 127.0.0.1:PORT) against the owner; `groupInodes` are the socket inodes
 * the instance's process group holds (used for a 'group' owner).
 */
export function judgePortOwner(listeners: readonly TcpListener[], owner: PortOwner, groupInodes: ReadonlySet<number>): PortCheck {
  if (listeners.length === 0) return { kind: 'none' };
  for (const listener of listeners) {
    const own = owner.kind === 'own-network' || (owner.kind === 'uid' ? listener.uid === owner.uid : groupInodes.has(listener.inode));
    if (!own) return { kind: 'foreign', uid: listener.uid, address: listener.address };
  }
  return { kind: 'own' };
}

/** The line an instance's log gets when its port is someone else's. */
export function portTakenMessage(port: number, uid: number, instance: string): string {
  return `port ${port} is held by another process (uid ${uid}), not ${instance}`;
}

/** Reads the kernel's tables and judges whose `port` is. */
export async function checkPortOwner(port: number, owner: PortOwner): Promise<PortCheck> {
  const listeners = listenersFor(await readTcpListeners(), port);
  if (listeners.length === 0) return { kind: 'none' };
  let inodes = new Set<number>();
  if (owner.kind === 'group') {
    const members = (await listProcesses()).filter((p) => p.pgid === owner.pgid);
    inodes = new Set((await Promise.all(members.map((p) => socketInodesOf(p.pid)))).flat());
  }
  return judgePortOwner(listeners, owner, inodes);
}
