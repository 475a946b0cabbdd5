/**
 * A TCP proxy between Encodery processes and a server they depend on (PostgreSQL), that a test
 * takes down (every live connection reset, new ones refused), brings back on the same port, or
 * uses to cut connections while queries are in flight.
 */
import net from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /** Connections currently passing through. */
  readonly live: number;
  /** Resets every live connection and stops listening: new connections are refused. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  /**
   * Holds every live connection for `holdMs` (nothing passes either way, so queries sent
   * meanwhile are in flight), then resets them all; the proxy keeps accepting new ones.
   * Resolves with how many connections were reset.
   */
  holdThenReset(holdMs: number): Promise<number>;
  close(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let server: net.Server | null = null;
  let port = 0;

  const reset = (pair: Pair) => {
    pairs.delete(pair);
    pair.client.resetAndDestroy();
    pair.upstream.resetAndDestroy();
  };

  const listen = async (): Promise<void> => {
    const s = net.createServer((client) => {
      const upstream = net.connect(targetPort, targetHost);
      const pair = { client, upstream };
      pairs.add(pair);
      client.pipe(upstream);
      upstream.pipe(client);
      const end = () => {
        if (!pairs.delete(pair)) return;
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve());
    });
    port = (s.address() as net.AddressInfo).port;
    server = s;
  };

  const stopListening = async (): Promise<void> => {
    const s = server;
    server = null;
    for (const pair of [...pairs]) reset(pair);
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };

  await listen();
  return {
    get port() {
      return port;
    },
    get live() {
      return pairs.size;
    },
    down: stopListening,
    async up() {
      if (!server) await listen();
    },
    async holdThenReset(holdMs) {
      const held = [...pairs];
      for (const { client, upstream } of held) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
      await new Promise((r) => setTimeout(r, holdMs));
      for (const pair of held) reset(pair);
      return held.length;
    },
    close: stopListening,
  };
}
