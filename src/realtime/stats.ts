/** Counters of the real-time layer of one node (a snapshot is cheap: copy the object). */
export interface RealtimeStats {
  /** Open WebSocket connections. */
  connections: number;
  /** Connections accepted since start. */
  accepted: number;
  /** Frames written to sockets (events, replays, control frames). */
  framesSent: number;
  /** Event frames (live and replayed `message.*`/`chat.*`) written to sockets. */
  eventsSent: number;
  /** Frames written while catching up from the database (resume, gaps, resync). */
  replayedFrames: number;
  /** Live events not sent because the connection had already delivered their position. */
  duplicatesDropped: number;
  /** Times a connection saw missing positions and read them from the database. */
  gapFills: number;
  /** Times the node held a chat's overtaking event for the positions before it (order.ts). */
  reorderHolds: number;
  /** Holds whose window ended before the missing positions came (the connections fill them). */
  reorderExpired: number;
  resumes: number;
  /** Connection resyncs after the broker reported possible loss. */
  resyncs: number;
  clientFrames: number;
  errorFrames: number;
  slowConsumersClosed: number;
  deadConnectionsDropped: number;
  tokensExpired: number;
  internalErrors: number;
  /** Broker payloads that could not be decoded. */
  badPayloads: number;
  /** The largest send queue (bytes) any connection had right after a write. */
  peakBufferedBytes: number;
}

export function emptyStats(): RealtimeStats {
  return {
    connections: 0,
    accepted: 0,
    framesSent: 0,
    eventsSent: 0,
    replayedFrames: 0,
    duplicatesDropped: 0,
    gapFills: 0,
    reorderHolds: 0,
    reorderExpired: 0,
    resumes: 0,
    resyncs: 0,
    clientFrames: 0,
    errorFrames: 0,
    slowConsumersClosed: 0,
    deadConnectionsDropped: 0,
    tokensExpired: 0,
    internalErrors: 0,
    badPayloads: 0,
    peakBufferedBytes: 0,
  };
}
