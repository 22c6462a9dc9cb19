import { Readable } from 'node:stream';

export interface PeekedStream {
  /** At least `bytes` bytes from the start (fewer only when the stream is shorter). */
  head: Buffer;
  /** The whole stream again, head included; destroying it destroys the source. */
  body: Readable;
  /** Up to `captureBytes` bytes from the start, as far as `body` has been read. */
  captured(): Buffer;
}

/**
 * Reads the first `bytes` bytes of `source` (to detect the type before storing) and gives back
 * a stream of the whole content that continues from the source without buffering the rest.
 * Backpressure and errors pass through: an error of the source fails `body`, and destroying
 * `body` (over the size limit, say) destroys the source.
 */
export async function peekStream(
  source: Readable,
  bytes: number,
  captureBytes = 0,
): Promise<PeekedStream> {
  const iterator = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const chunks: Buffer[] = [];
  let total = 0;
  let ended = false;
  try {
    while (total < bytes) {
      const next = await iterator.next();
      if (next.done) {
        ended = true;
        break;
      }
      chunks.push(next.value);
      total += next.value.length;
    }
  } catch (error) {
    source.destroy();
    throw error;
  }
  const head = Buffer.concat(chunks, total);
  const capture: Buffer[] = [];
  let captured = 0;
  const keep = (chunk: Buffer): void => {
    if (captured >= captureBytes) return;
    const part = chunk.subarray(0, captureBytes - captured);
    capture.push(Buffer.from(part));
    captured += part.length;
  };

  async function* replay(): AsyncGenerator<Buffer> {
    try {
      if (head.length > 0) {
        keep(head);
        yield head;
      }
      if (ended) return;
      while (true) {
        const next = await iterator.next();
        if (next.done) return;
        keep(next.value);
        yield next.value;
      }
    } finally {
      // Early exit (the consumer stopped) must stop the source too; a no-op after its end.
      if (!source.readableEnded) source.destroy();
    }
  }

  return {
    head,
    body: Readable.from(replay(), { objectMode: false }),
    captured: () => Buffer.concat(capture, captured),
  };
}
