import { Readable } from 'node:stream';

export interface PeekedStream {
  /** At least `bytes` bytes from the start (fewer only when the stream is shorter). */
  head: Buffer;
  /**
   * The whole content again, head included: the source itself with the head pushed back
   * (`unshift`), so that backpressure, errors and `destroy` act on the source directly. Only a
   * stream that ended within the head is replaced by a new stream of the head.
   */
  body: Readable;
}

/**
 * Reads the first `bytes` bytes of `source` (to decide the type before storing) without
 * reading further: the rest stays in the source, unread, until `body` is consumed.
 */
export async function peekStream(source: Readable, bytes: number): Promise<PeekedStream> {
  const chunks: Buffer[] = [];
  let total = 0;
  const ended = await new Promise<boolean>((resolve, reject) => {
    const cleanup = (): void => {
      source.off('readable', onReadable);
      source.off('end', onEnd);
      source.off('error', onError);
      source.off('close', onClose);
    };
    const onReadable = (): void => {
      while (total < bytes) {
        const chunk = source.read() as Buffer | null;
        if (chunk === null) return;
        chunks.push(chunk);
        total += chunk.length;
      }
      cleanup();
      resolve(false);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(true);
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const onClose = (): void => {
      // Destroyed without an error (a client that went away) and without an end.
      cleanup();
      reject(new Error('the stream closed before its end'));
    };
    if (source.readableEnded) {
      resolve(true);
      return;
    }
    if (source.destroyed) {
      reject(source.errored ?? new Error('the stream was destroyed'));
      return;
    }
    source.on('readable', onReadable);
    source.on('end', onEnd);
    source.on('error', onError);
    source.on('close', onClose);
    onReadable();
  });
  const head = Buffer.concat(chunks, total);
  if (ended) return { head, body: Readable.from(head.length > 0 ? [head] : []) };
  // Synchronously after the last read, so no 'end' can have been emitted in between.
  source.unshift(head);
  return { head, body: source };
}
