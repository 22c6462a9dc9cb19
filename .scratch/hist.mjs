import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import pg from 'pg';
const name = 'hist_' + Date.now();
const admin = new pg.Client('postgres://postgres@127.0.0.1:5432/postgres'); await admin.connect();
await admin.query(`create database ${name}`);
const port = 18000 + Math.floor(Math.random() * 1000);
const pin = process.env.PIN === '1';
const child = spawn(pin ? 'taskset' : process.execPath, [...(pin ? ['-c', '0', process.execPath] : []), 'dist/server.js'], { env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${name}`, JWT_SECRET: randomBytes(36).toString('base64url'), DATA_DIR: mkdtempSync('/tmp/hist-'), LOG_LEVEL: 'warn', RATE_LIMITS: 'off', NODE_ENV: 'production' }, stdio: 'inherit' });
const base = `http://127.0.0.1:${port}`;
for (let i = 0; i < 100; i++) { try { if ((await fetch(base + '/readyz')).ok) break; } catch {} await new Promise(r => setTimeout(r, 200)); }
const j = async (m, p, body, token) => { const r = await fetch(base + p, { method: m, headers: { 'content-type': 'application/json', ...(token ? { authorization: 'Bearer ' + token } : {}) }, body: body && JSON.stringify(body) }); return r.json(); };
const users = [];
for (const u of ['ha', 'hb']) { const x = await j('POST', '/users', { username: u + name, password: 'password-123456', display_name: u }); const t = await j('POST', '/auth/token', { username: u + name, password: 'password-123456' }); users.push({ id: x.user_id, token: t.access_token }); }
const chat = await j('POST', '/chats', { name: 'h', participants: [users[1].id] }, users[0].token);
const db = new pg.Client(`postgres://postgres@127.0.0.1:5432/${name}`); await db.connect();
const N = Number(process.env.N ?? 1000000);
await db.query(`insert into messages (id, chat_id, seq, change_seq, sender, reply_to, content, client_message_id, created, updated, deleted) select gen_random_uuid(), $1, g, g, case when g % 2 = 0 then $2::uuid else $3::uuid end, null, 'history ' || g || ' ' || repeat('x', 80), null, now(), now(), false from generate_series(1, ${N}) g`, [chat.chat_id, users[0].id, users[1].id]);
await db.query(`update chats set last_seq = $2 where id = $1`, [chat.chat_id, N]);
await db.query('analyze messages');
if (pin) { const pids = (await db.query(`select pid from pg_stat_activity where datname = $1`, [name])).rows.map(r => r.pid); for (const p of pids) spawn('taskset', ['-p', '-c', '0', String(p)]); }
const deep = (await db.query('select id from messages where chat_id = $1 and seq = 1001', [chat.chat_id])).rows[0].id;
const paths = [`/chats/${chat.chat_id}/messages?limit=50`, `/chats/${chat.chat_id}/messages?limit=50&before=${deep}`];
const h = { authorization: 'Bearer ' + users[0].token };
for (let i = 0; i < 200; i++) await (await fetch(base + paths[i % 2], { headers: h })).arrayBuffer();
const lat = [[], []];
for (let i = 0; i < 1000; i++) { const t0 = performance.now(); const r = await fetch(base + paths[i % 2], { headers: h }); await r.arrayBuffer(); lat[i % 2].push(performance.now() - t0); }
for (const [k, l] of lat.entries()) { l.sort((a, b) => a - b); console.log(k ? 'deep  ' : 'newest', 'p50', l[l.length / 2 | 0].toFixed(2), 'p90', l[l.length * 0.9 | 0].toFixed(2), 'p99', l[l.length * 0.99 | 0].toFixed(2), 'ms'); }
child.kill('SIGTERM'); await db.end(); await new Promise(r => setTimeout(r, 1000)); await admin.query(`drop database ${name} with (force)`); await admin.end();
