// Going offline and coming back (Chromium's network emulation): the person who was away ends up
// with every message, edit and deletion exactly once and in order, their own message written
// while offline is delivered once, and the chat list catches up on what it missed.

import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { http, type ServerProcess } from '../helpers/server-process.js';
import {
  byTestId,
  DESKTOP,
  eventually,
  expectClean,
  launchChromium,
  messages,
  messageWithText,
  openPerson,
  PASSWORD,
  type Person,
  PHONE,
  screenshot,
  sendText,
  shownMessages,
  signInInBrowser,
  startTestServer,
} from './support.js';

interface ApiMessage {
  message_id: string;
  content: string;
  deleted: boolean;
  seq: number;
}

let server: ServerProcess;
let browser: Browser;
let alice: Person;
let bob: Person;
let aliceToken = '';
let bobId = '';
let chatId = '';

async function createUser(username: string, displayName: string): Promise<string> {
  const user = await http<{ user_id: string }>(server.url, 'POST', '/users', {
    body: { username, password: PASSWORD, display_name: displayName },
    expect: 201,
  });
  return user.user_id;
}

async function token(username: string): Promise<string> {
  const answer = await http<{ access_token: string }>(server.url, 'POST', '/auth/token', {
    body: { username, password: PASSWORD },
    expect: 200,
  });
  return answer.access_token;
}

/** The chat's history as the server has it: the truth the screens must match. */
async function serverHistory(id: string): Promise<{ id: string; text: string | null }[]> {
  const page = await http<{ items: ApiMessage[]; has_more: boolean }>(
    server.url,
    'GET',
    `/chats/${id}/messages?limit=100`,
    { token: aliceToken },
  );
  expect(page.has_more).toBe(false);
  return page.items.map((m) => ({ id: m.message_id, text: m.deleted ? null : m.content }));
}

async function screenHistory(person: Person): Promise<{ id: string; text: string | null }[]> {
  const shown = await shownMessages(person.page);
  return shown.map(({ id, text }) => ({ id, text }));
}

async function goOffline(person: Person): Promise<void> {
  person.offlineExpected = true;
  await person.context.setOffline(true);
  const status = byTestId(person.page, 'connection-status');
  await eventually(() => status.getAttribute('data-state')).toMatch(/^(offline|reconnecting)$/);
}

async function goOnline(person: Person): Promise<void> {
  await person.context.setOffline(false);
  const status = byTestId(person.page, 'connection-status');
  await eventually(() => status.getAttribute('data-state')).toBe('online');
}

async function openChat(person: Person, id: string): Promise<void> {
  await person.page.evaluate(`location.hash = '#/chat/${id}'`);
  await person.page.locator(`[data-testid="chat-view"][data-chat-id="${id}"]`).waitFor();
  await byTestId(person.page, 'history-top').getByText('Beginning of the conversation').waitFor();
}

beforeAll(async () => {
  [server, browser] = await Promise.all([startTestServer(), launchChromium()]);
  await createUser('alice', 'Alice Martin');
  bobId = await createUser('bob', 'Bob Chen');
  aliceToken = await token('alice');
  const chat = await http<{ chat_id: string }>(server.url, 'POST', '/chats', {
    token: aliceToken,
    body: { name: 'Road trip', participants: [bobId] },
    expect: 201,
  });
  chatId = chat.chat_id;

  alice = await openPerson(browser, server.url, { viewport: DESKTOP });
  bob = await openPerson(browser, server.url, { viewport: PHONE });
  await Promise.all([alice.page.goto('/'), bob.page.goto('/')]);
  await Promise.all([signInInBrowser(alice.page, 'alice'), signInInBrowser(bob.page, 'bob')]);
});

afterEach(() => {
  expectClean(alice);
  expectClean(bob);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('offline and back', () => {
  test('the one who was offline sees every message, edit and deletion exactly once, in order', async () => {
    await Promise.all([openChat(alice, chatId), openChat(bob, chatId)]);
    await sendText(alice.page, 'Before the tunnel');
    await messageWithText(bob.page, 'Before the tunnel').waitFor();

    await goOffline(bob);
    await screenshot(bob.page, 'phone-offline');

    // Meanwhile Alice writes, fast (the sends must still land in the order she wrote them),
    // edits one message and deletes another.
    // Every third request is slow on the wire: concurrent sends would overtake it.
    const away = Array.from({ length: 8 }, (_, i) => `While you were away ${i + 1}`);
    let sends = 0;
    await alice.page.route(`**/chats/${chatId}/messages`, async (route) => {
      if (route.request().method() === 'POST' && sends++ % 3 === 0) {
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      await route.continue();
    });
    for (const text of away) await sendText(alice.page, text, false);
    await eventually(() => byTestId(alice.page, 'pending-message').count()).toBe(0);
    await alice.page.unroute(`**/chats/${chatId}/messages`);
    const third = messageWithText(alice.page, away[2]!);
    await third.hover();
    await byTestId(third, 'message-edit').click();
    await byTestId(alice.page, 'composer-input').fill('While you were away 3 (edited)');
    await byTestId(alice.page, 'composer-input').press('Enter');
    await messageWithText(alice.page, 'While you were away 3 (edited)').waitFor();
    const fifth = messageWithText(alice.page, away[4]!);
    const fifthId = (await fifth.getAttribute('data-message-id')) ?? '';
    await fifth.hover();
    await byTestId(fifth, 'message-delete').click();
    await eventually(() =>
      alice.page.locator(`[data-message-id="${fifthId}"]`).getAttribute('data-deleted'),
    ).toBe('true');

    // Bob writes too: it waits, marked as not sent yet.
    await sendText(bob.page, 'Sent from the tunnel', false);
    const pending = byTestId(bob.page, 'pending-message');
    await eventually(() => pending.getAttribute('data-status')).toBe('failed');
    expect(await pending.textContent()).toContain('will retry when online');

    // Nothing of Alice's reached Bob while he was cut off.
    expect((await screenHistory(bob)).map((m) => m.text)).toEqual(['Before the tunnel']);

    await goOnline(bob);
    // Bob's message goes out once he is back, so after everything Alice wrote.
    await eventually(async () => (await serverHistory(chatId)).length).toBe(10);
    const expected = await serverHistory(chatId);
    expect(expected.map((m) => m.text)).toEqual([
      'Before the tunnel',
      'While you were away 1',
      'While you were away 2',
      'While you were away 3 (edited)',
      'While you were away 4',
      null,
      'While you were away 6',
      'While you were away 7',
      'While you were away 8',
      'Sent from the tunnel',
    ]);
    for (const person of [bob, alice]) {
      await eventually(() => screenHistory(person)).toEqual(expected);
    }
    await byTestId(bob.page, 'pending-message').waitFor({ state: 'detached' });

    // And it stays that way: no late duplicates from the replay racing live events.
    await bob.page.waitForTimeout(1000);
    for (const person of [bob, alice]) {
      const shown = await shownMessages(person.page);
      expect(shown.map(({ id, text }) => ({ id, text }))).toEqual(expected);
      expect(new Set(shown.map((m) => m.id)).size).toBe(shown.length);
      expect(shown.map((m) => m.seq)).toEqual([...shown.map((m) => m.seq)].sort((a, b) => a - b));
    }
    expect(await messages(bob.page).locator('.edited').count()).toBe(1);
    bob.offlineExpected = false;
  });

  test('back online on the chat list: new chats, unread counts and previews catch up; receipts follow', async () => {
    await bob.page.evaluate(`location.hash = '#/'`);
    await byTestId(bob.page, 'chat-list').waitFor();
    await goOffline(bob);

    const road = ['First from the road', 'Second from the road', 'Third from the road'];
    for (const text of road) await sendText(alice.page, text);
    const dinner = await http<{ chat_id: string }>(server.url, 'POST', '/chats', {
      token: aliceToken,
      body: { name: 'Dinner plans', participants: [bobId] },
      expect: 201,
    });
    await http(server.url, 'POST', `/chats/${dinner.chat_id}/messages`, {
      token: aliceToken,
      body: { content: 'Pizza tonight?' },
      expect: 201,
    });
    const lastRoad = messageWithText(alice.page, road[2]!);
    expect(await lastRoad.getAttribute('data-status')).toBe('sent');

    await goOnline(bob);
    const item = (id: string) =>
      bob.page.locator(`[data-testid="chat-list-item"][data-chat-id="${id}"]`);
    await eventually(() => byTestId(bob.page, 'chat-name').allTextContents()).toEqual([
      'Dinner plans',
      'Road trip',
    ]);
    await eventually(() => item(chatId).getAttribute('data-unread')).toBe('3');
    await eventually(() => byTestId(item(chatId), 'chat-last-message').textContent()).toBe(road[2]);
    await eventually(() => item(dinner.chat_id).getAttribute('data-unread')).toBe('1');
    // (A chat never opened shows its last message once fetched; "…" until then.)
    await eventually(() => byTestId(item(dinner.chat_id), 'chat-last-message').textContent()).toBe(
      'Pizza tonight?',
    );
    // Bob's browser has them now, and says so; he has not read them yet.
    await eventually(() => lastRoad.getAttribute('data-status')).toBe('received');

    await item(chatId).click();
    await bob.page.locator(`[data-testid="chat-view"][data-chat-id="${chatId}"]`).waitFor();
    const expected = await serverHistory(chatId);
    expect(expected.slice(-3).map((m) => m.text)).toEqual(road);
    await eventually(() => screenHistory(bob)).toEqual(expected);
    await eventually(() => lastRoad.getAttribute('data-status')).toBe('read');
    bob.offlineExpected = false;
  });
});
