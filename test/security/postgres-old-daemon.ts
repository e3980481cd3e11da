// A stand-in for a berth daemon that runs the local PostgreSQL cluster in
// DIR and then dies or hangs: it starts the cluster, prints "READY PID" (the
// postmaster's pid) and waits. The pidfile test freezes and kills it.
import { LocalPostgres } from '../../src/addons/postgres-local.ts';

const [dir, marker] = process.argv.slice(2);
const cluster = new LocalPostgres({ dir: dir!, supervisorMarker: marker!, log: (line) => process.stderr.write(`${line}\n`) });
await cluster.start();
process.stdout.write(`READY ${cluster.pid}\n`);
setInterval(() => {}, 1 << 30);
