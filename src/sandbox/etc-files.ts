// The /etc files berth writes for an app's sandbox instead of showing the
// host's: passwd and group name only root, the app's user and nobody (the
// host's accounts are nobody's business inside), hosts knows localhost and
// the sandbox's own name, resolv.conf names the app network's resolver.
// Pure: content from plain data.

export interface EtcIdentity {
  /** The app's Unix user name, uid, gid and HOME (as the sandbox sees it). */
  readonly userName: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
  readonly hostname: string;
  /** null: no network (resolv.conf names nothing). */
  readonly nameserver: string | null;
}

const NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
const HOST = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

function checked(identity: EtcIdentity): EtcIdentity {
  if (!NAME.test(identity.userName)) throw new RangeError(`${JSON.stringify(identity.userName)} is not a user name`);
  if (!HOST.test(identity.hostname)) throw new RangeError(`${JSON.stringify(identity.hostname)} is not a host name`);
  // passwd is colon- and line-separated: a home with either would forge entries.
  if (/[:\n\r\0]/.test(identity.home)) throw new RangeError('a home folder with ":" or a line break cannot go into passwd');
  if (identity.nameserver !== null && !/^[0-9.]+$|^[0-9a-f:]+$/i.test(identity.nameserver)) throw new RangeError(`${JSON.stringify(identity.nameserver)} is not an address`);
  return identity;
}

export function etcFiles(input: EtcIdentity): Record<string, string> {
  const id = checked(input);
  return {
    passwd: [
      'root:x:0:0:root:/root:/usr/sbin/nologin',
      `${id.userName}:x:${id.uid}:${id.gid}:berth app:${id.home}:/usr/sbin/nologin`,
      'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
      '',
    ].join('\n'),
    group: ['root:x:0:', `${id.userName}:x:${id.gid}:`, 'nogroup:x:65534:', ''].join('\n'),
    hosts: ['127.0.0.1\tlocalhost', `127.0.1.1\t${id.hostname}`, '::1\tlocalhost ip6-localhost ip6-loopback', ''].join('\n'),
    hostname: `${id.hostname}\n`,
    'resolv.conf': id.nameserver === null ? '# no network\n' : `nameserver ${id.nameserver}\noptions timeout:2 attempts:2\n`,
  };
}
