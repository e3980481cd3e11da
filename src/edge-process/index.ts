// The edge process's door: an edge that outlives the daemon (`berth edge-process`),
// and the daemon's side of it (RemoteEdge).
export { RemoteEdge, type RemoteEdgeOptions } from './remote-edge.ts';
export { stopEdgeProcess, endEdgeProcess } from './spawn.ts';
export { decideEdgeStart, type EdgeStart, type WantedEdge } from './decide.ts';
export { LineDecoder, encodeLine, MAX_LINE_BYTES, type Hello, type EdgeSettings } from './protocol.ts';
export { edgePaths, readEdgeRecord, type EdgePaths, type EdgeRecord } from './files.ts';
export { RecordBacklog, BACKLOG_RECORDS } from './backlog.ts';
export { edgeProcessMain } from './main.ts';
export type { EdgeControl } from '../edge/index.ts';
