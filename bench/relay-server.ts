/**
 * The baseline: a bare Node `ws` room relay with no persistence, no hashing and no
 * validation beyond what routing needs. It speaks just enough of the service's contract for
 * the load generator to drive it unchanged: `POST /users`, `POST /auth/token`, `POST /chats`,
 * `POST /chats/{id}/messages` and `GET /subscriptions?token=`, with frames shaped like the
 * service's (`{"type":"message.created","chat_id","seq","data":Message}`). As an extension,
 * a subscriber may also send `{"type":"send","chat_id","content"}` over its socket: the
 * classic room relay, with no HTTP on the send path.
 *
 * Everything lives in memory and is gone when the process exits, but for the history
 * baseline: with DATABASE_URL, `GET /chats/{id}/messages?limit=&before=` answers a page
 * from the relay's own table `relay_messages` (which the harness seeds) with one prepared
 * statement that PostgreSQL encodes, the bare floor of a Node + PostgreSQL history page: no
 * framework, no membership in the database, no statuses. Env: PORT (default 8100), HOST
 * (default 127.0.0.1), DATABASE_URL.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import pg from 'pg';
import { type WebSocket, WebSocketServer } from 'ws';

interface Room {
  id: string;
  members: string[];
  seq: number;
}

const users = new Map<string, string>(); // username -> user_id
const ids = new Set<string>();
const rooms = new Map<string, Room>();
const memberships = new Map<string, Set<Room>>(); // user_id -> rooms
const connections = new Map<string, Set<WebSocket>>(); // user_id -> open sockets

const databaseUrl = process.env.DATABASE_URL;
const pool = databaseUrl ? new pg.Pool({ connectionString: databaseUrl, max: 4 }) : undefined;

// The same JSON text per message as the service's page (decision 0007), minus what the relay
// does not keep (replies, attachments, statuses, edits).
const PAGE_ITEMS = `coalesce(json_agg(json_build_object(
    'message_id', m.id, 'chat_id', m.chat_id, 'sender', m.sender, 'reply_to', null,
    'content', m.content, 'attachments', '[]'::json, 'status', 'sent',
    'created', to_char(m.created AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'updated', null, 'deleted', false, 'seq', m.seq) ORDER BY m.seq), '[]')::text AS items`;
const NEWEST_PAGE = `SELECT ${PAGE_ITEMS} FROM (
  SELECT * FROM relay_messages WHERE chat_id = $1 ORDER BY seq DESC LIMIT $2) m`;
const PAGE_BEFORE = `SELECT ${PAGE_ITEMS} FROM (
  SELECT * FROM relay_messages WHERE chat_id = $1
    AND seq < (SELECT seq FROM relay_messages WHERE id = $3) ORDER BY seq DESC LIMIT $2) m`;

async function createHistoryTable(db: pg.Pool): Promise<void> {
  await db.query(`CREATE TABLE IF NOT EXISTS relay_messages (
    chat_id uuid NOT NULL, seq bigint NOT NULL, id uuid NOT NULL UNIQUE, sender uuid NOT NULL,
    content text NOT NULL, created timestamptz NOT NULL, PRIMARY KEY (chat_id, seq))`);
}

async function historyPage(db: pg.Pool, chatId: string, url: URL): Promise<string> {
  const limit = Math.min(Math.max(Number(url.searchParams.get('limit') ?? 50) || 50, 1), 100);
  const before = url.searchParams.get('before');
  const { rows } = await db.query<{ items: string }>(
    before === null
      ? { name: 'newest_page', text: NEWEST_PAGE, values: [chatId, limit] }
      : { name: 'page_before', text: PAGE_BEFORE, values: [chatId, limit, before] },
  );
  return `{"items":${rows[0]?.items ?? '[]'}}`;
}

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 65_536 });

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function error(res: http.ServerResponse, status: number, code: string): void {
  json(res, status, { error: { code, message: code } });
}

function bearer(req: http.IncomingMessage, url: URL): string | undefined {
  const header = req.headers.authorization;
  const token = header?.startsWith('Bearer ') ? header.slice(7) : url.searchParams.get('token');
  return token && ids.has(token) ? token : undefined;
}

function readBody(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      try {
        const text = Buffer.concat(chunks).toString('utf8');
        const value: unknown = text === '' ? {} : JSON.parse(text);
        resolve(
          typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {},
        );
      } catch (cause) {
        reject(cause);
      }
    });
    req.on('error', reject);
  });
}

/** Stamps the next position, serializes the frame once and writes it to every member's sockets. */
function publish(room: Room, sender: string, content: string): Record<string, unknown> {
  room.seq += 1;
  const now = new Date().toISOString();
  const message = {
    message_id: randomUUID(),
    chat_id: room.id,
    sender,
    reply_to: null,
    content,
    attachments: [],
    status: 'sent',
    created: now,
    updated: null,
    deleted: false,
    seq: room.seq,
  };
  const frame = Buffer.from(
    JSON.stringify({ type: 'message.created', chat_id: room.id, seq: room.seq, data: message }),
  );
  for (const member of room.members) {
    const sockets = connections.get(member);
    if (!sockets) continue;
    for (const socket of sockets) socket.send(frame, { binary: false });
  }
  return message;
}

async function route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://relay');
  const path = url.pathname;
  if (req.method === 'GET' && (path === '/healthz' || path === '/readyz')) {
    return json(res, 200, { status: 'ok' });
  }
  const messages = /^\/chats\/([^/]+)\/messages$/.exec(path);
  if (req.method === 'GET' && messages && pool) {
    const caller = bearer(req, url);
    if (!caller) return error(res, 401, 'unauthorized');
    const room = rooms.get(messages[1] ?? '');
    if (!room?.members.includes(caller)) return error(res, 404, 'not_found');
    const page = await historyPage(pool, room.id, url);
    res.writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(page),
    });
    res.end(page);
    return;
  }
  if (req.method !== 'POST') return error(res, 404, 'not_found');
  const body = await readBody(req);
  if (path === '/users') {
    const username = String(body.username ?? '');
    if (username === '' || users.has(username.toLowerCase())) {
      return error(res, 409, 'username_taken');
    }
    const id = randomUUID();
    users.set(username.toLowerCase(), id);
    ids.add(id);
    memberships.set(id, new Set());
    return json(res, 201, { user_id: id, username, display_name: username, created: new Date() });
  }
  if (path === '/auth/token') {
    const id = users.get(String(body.username ?? '').toLowerCase());
    if (!id) return error(res, 401, 'invalid_credentials');
    return json(res, 200, { access_token: id, token_type: 'Bearer', expires_in: 86_400 });
  }
  const caller = bearer(req, url);
  if (!caller) return error(res, 401, 'unauthorized');
  if (path === '/chats') {
    const wanted = Array.isArray(body.participants) ? body.participants.map(String) : [];
    const members = [...new Set([caller, ...wanted])];
    if (members.some((id) => !ids.has(id))) return error(res, 422, 'unknown_user');
    const room: Room = { id: randomUUID(), members, seq: 0 };
    rooms.set(room.id, room);
    for (const member of members) memberships.get(member)?.add(room);
    return json(res, 201, { chat_id: room.id, participants: members, last_seq: 0 });
  }
  if (messages) {
    const room = rooms.get(messages[1] ?? '');
    if (!room?.members.includes(caller)) return error(res, 404, 'not_found');
    return json(res, 201, publish(room, caller, String(body.content ?? '')));
  }
  return error(res, 404, 'not_found');
}

const server = http.createServer((req, res) => {
  route(req, res).catch(() => {
    if (!res.headersSent) error(res, 400, 'bad_request');
  });
});
server.keepAliveTimeout = 60_000;

server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
  const url = new URL(req.url ?? '/', 'http://relay');
  const userId = url.pathname === '/subscriptions' ? bearer(req, url) : undefined;
  if (!userId) {
    socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    let sockets = connections.get(userId);
    if (!sockets) {
      sockets = new Set();
      connections.set(userId, sockets);
    }
    sockets.add(ws);
    ws.on('message', (data: Buffer) => {
      let frame: { type?: unknown; chat_id?: unknown; content?: unknown };
      try {
        frame = JSON.parse(data.toString('utf8')) as typeof frame;
      } catch {
        return;
      }
      if (frame.type === 'ping') {
        ws.send('{"type":"pong"}');
      } else if (frame.type === 'send' && typeof frame.chat_id === 'string') {
        const room = rooms.get(frame.chat_id);
        if (room?.members.includes(userId)) publish(room, userId, String(frame.content ?? ''));
      }
    });
    ws.on('close', () => {
      sockets.delete(ws);
    });
    ws.on('error', () => undefined);
  });
});

const port = Number(process.env.PORT ?? 8100);
const host = process.env.HOST ?? '127.0.0.1';
if (pool) await createHistoryTable(pool);
server.listen(port, host, () => {
  process.stdout.write(`relay listening on http://${host}:${port}\n`);
});

const stop = () => {
  for (const client of wss.clients) client.terminate();
  server.close(() => {
    void (pool?.end() ?? Promise.resolve()).finally(() => process.exit(0));
  });
  setTimeout(() => process.exit(0), 2_000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
