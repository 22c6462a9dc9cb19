import net from 'node:net';

/**
 * A TCP proxy a test can cut and restore, to make a backing service (PostgreSQL) vanish and
 * come back for the app while the real server keeps running for everyone else. It can also
 * freeze: connections stay open but nothing passes, like a hung server or a network that
 * silently drops packets.
 */
export class TcpProxy {
  #server: net.Server | undefined;
  readonly #sockets = new Set<net.Socket>();
  readonly #pairs = new Set<[net.Socket, net.Socket]>();
  #frozen = false;
  #waiting: net.Socket[] = [];
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(): Promise<void> {
    const server = net.createServer((client) => {
      this.#track(client);
      client.on('error', () => client.destroy());
      if (this.#frozen) this.#waiting.push(client);
      else this.#connect(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.#server = server;
  }

  /** Refuses new connections and resets the open ones, like a server that went down. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    this.#waiting = [];
    for (const socket of this.#sockets) socket.resetAndDestroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Open connections stop passing bytes and new ones are accepted but not answered. */
  freeze(): void {
    this.#frozen = true;
    for (const [client, upstream] of this.#pairs) {
      client.pause();
      upstream.pause();
    }
  }

  /** Everything held passes again, and held connections reach the server. */
  thaw(): void {
    this.#frozen = false;
    for (const [client, upstream] of this.#pairs) {
      client.resume();
      upstream.resume();
    }
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const client of waiting) if (!client.destroyed) this.#connect(client);
  }

  #track(socket: net.Socket): void {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
  }

  #connect(client: net.Socket): void {
    const upstream = net.connect(this.targetPort, this.targetHost);
    this.#track(upstream);
    const pair: [net.Socket, net.Socket] = [client, upstream];
    this.#pairs.add(pair);
    for (const socket of pair) {
      socket.on('close', () => {
        this.#pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      });
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  }
}
