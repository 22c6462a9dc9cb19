/**
 * Server-to-client WebSocket frames (RFC 6455, section 5.2), built once per event. Frames
 * from a server are never masked, so the complete frame of an event, header included, is
 * the same bytes for every socket: each socket then costs a single write of a shared
 * Buffer, where `ws.send` allocated options objects, a header Buffer and an array per
 * socket and wrote two chunks (a corked writev).
 */

/** FIN set, opcode 1 (text): the whole message in one frame. */
const FIN_TEXT = 0x81;

/** The single, final, unmasked text frame carrying `payload` (UTF-8). */
export function textFrame(payload: string): Buffer {
  const length = Buffer.byteLength(payload, 'utf8');
  const header = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = FIN_TEXT;
  if (header === 2) {
    frame[1] = length;
  } else if (header === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    // 64-bit length; a JavaScript string never comes near 2^53 bytes.
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  frame.write(payload, header, 'utf8');
  return frame;
}

/** The payload of a frame made by textFrame (for tests and diagnostics). */
export function framePayload(frame: Buffer): Buffer {
  const code = frame[1]! & 0x7f;
  const header = code < 126 ? 2 : code === 126 ? 4 : 10;
  return frame.subarray(header);
}
