import { describe, expect, it } from 'vitest';
import { createTestApp } from './helpers/app.js';
import { signUp } from './helpers/factories.js';
import { refusedUpgrade, Subscriber, sleep, subscriptionsUrl } from './helpers/ws-client.js';

describe('WebSocket upgrades while the node shuts down', () => {
  it('are refused with 503 and do not hold up the exit', async () => {
    const t = await createTestApp();
    try {
      const base = await t.app.listen({ port: 0, host: '127.0.0.1' });
      const alice = await signUp(t.app);
      // A client that does not answer the closing handshake keeps shutdown in its grace
      // period (3 s), while the listener still accepts connections.
      const stuck = await Subscriber.connect(base, alice.token);
      (stuck.ws as unknown as { _socket: { pause(): void } })._socket.pause();
      const started = Date.now();
      const closed = t.app.close();
      await sleep(200);
      const refused = await refusedUpgrade(subscriptionsUrl(base), {
        authorization: `Bearer ${alice.token}`,
      });
      expect(refused.status).toBe(503);
      expect(refused.headers.connection).toBe('close');
      await closed;
      // The grace period, not forever (the refused upgrade's socket used to stay open).
      expect(Date.now() - started).toBeLessThan(5000);
      stuck.ws.terminate();
    } finally {
      await t.close().catch(() => undefined);
    }
  });
});
