// A long chat read in the browser: the newest page first, older pages loaded as the reader
// scrolls up, every message exactly once and in order; and the chat used from the keyboard.

import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { http, type ServerProcess } from '../helpers/server-process.js';
import {
  byTestId,
  DESKTOP,
  eventually,
  expectClean,
  inView,
  launchChromium,
  messages,
  messageWithText,
  openPerson,
  PASSWORD,
  type Person,
  shownMessages,
  signInInBrowser,
  startTestServer,
} from './support.js';

const TOTAL = 130;
const label = (n: number) => `Message ${String(n).padStart(3, '0')}`;

let server: ServerProcess;
let browser: Browser;
let bob: Person;
let aliceToken = '';
let chatId = '';

beforeAll(async () => {
  [server, browser] = await Promise.all([startTestServer(), launchChromium()]);
  const signUp = async (username: string, displayName: string) => {
    const user = await http<{ user_id: string }>(server.url, 'POST', '/users', {
      body: { username, password: PASSWORD, display_name: displayName },
      expect: 201,
    });
    return user.user_id;
  };
  await signUp('alice', 'Alice Martin');
  const bobId = await signUp('bob', 'Bob Chen');
  ({ access_token: aliceToken } = await http<{ access_token: string }>(
    server.url,
    'POST',
    '/auth/token',
    { body: { username: 'alice', password: PASSWORD }, expect: 200 },
  ));
  ({ chat_id: chatId } = await http<{ chat_id: string }>(server.url, 'POST', '/chats', {
    token: aliceToken,
    body: { name: 'Long story', participants: [bobId] },
    expect: 201,
  }));
  for (let n = 1; n <= TOTAL; n += 1) {
    await http(server.url, 'POST', `/chats/${chatId}/messages`, {
      token: aliceToken,
      body: { content: label(n) },
      expect: 201,
    });
  }

  bob = await openPerson(browser, server.url, { viewport: DESKTOP });
  await bob.page.goto('/');
  await signInInBrowser(bob.page, 'bob');
});

afterEach(() => {
  expectClean(bob);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('a long chat', () => {
  test('opens at the newest message and loads older pages while scrolling up', async () => {
    const page = bob.page;
    const item = page.locator(`[data-testid="chat-list-item"][data-chat-id="${chatId}"]`);
    await eventually(() => item.getAttribute('data-unread')).toBe(String(TOTAL));
    await item.click();

    // The newest page, scrolled to its end.
    await eventually(() => messages(page).count()).toBe(50);
    const newest = messageWithText(page, label(TOTAL));
    await expect.poll(() => inView(newest)).toBe(true);
    await eventually(() => item.getAttribute('data-unread')).toBe('0');

    // Scrolling up with the wheel brings the older pages, keeping the reader's place, also
    // when the reader scrolls on while a page loads: older pages answer slowly here.
    const olderPages = /\/messages\?.*before=/;
    await page.route(olderPages, async (route) => {
      await new Promise((resolve) => setTimeout(resolve, 400));
      await route.continue();
    });
    const list = byTestId(page, 'message-list');
    await list.hover();
    const loaded: number[] = [];
    // The count and the oldest message, read together: a page landing between two reads
    // would pair them wrongly. A page may land at any moment, also between two steps.
    const shownNow = () =>
      messages(page).evaluateAll((els) => ({
        count: els.length,
        oldestId: els[0]?.getAttribute('data-message-id'),
      }));
    let known = await shownNow();
    const noteLanding = async () => {
      const now = await shownNow();
      if (now.count !== known.count) {
        loaded.push(now.count);
        // The message that was the oldest is still on screen: the view did not jump.
        const previous = page.locator(`[data-message-id="${known.oldestId}"]`);
        await expect.poll(() => inView(previous)).toBe(true);
      }
      known = now;
    };
    for (let step = 0; step < 200; step += 1) {
      const top = await byTestId(page, 'history-top').textContent();
      if (top?.includes('Beginning of the conversation')) break;
      await noteLanding();
      await page.mouse.wheel(0, -150);
      await page.waitForTimeout(100);
      await noteLanding();
    }
    await noteLanding();
    expect(loaded).toEqual([100, TOTAL]);
    await byTestId(page, 'history-top').getByText('Beginning of the conversation').waitFor();
    await page.unroute(olderPages);

    const shown = await shownMessages(page);
    expect(shown.map((m) => m.text)).toEqual(Array.from({ length: TOTAL }, (_, i) => label(i + 1)));
    expect(new Set(shown.map((m) => m.id)).size).toBe(TOTAL);
  });

  test('a message arriving while the reader is scrolled up is received, and read only once seen', async () => {
    const page = bob.page;
    // Up at the start of the history, far from the newest message.
    await byTestId(page, 'message-list').hover();
    const first = messageWithText(page, label(1));
    for (let step = 0; step < 40 && !(await inView(first)); step += 1) {
      await page.mouse.wheel(0, -2000);
      await page.waitForTimeout(50);
    }
    expect(await inView(first)).toBe(true);
    const sent = await http<{ message_id: string }>(
      server.url,
      'POST',
      `/chats/${chatId}/messages`,
      { token: aliceToken, body: { content: 'Are you still there?' }, expect: 201 },
    );
    const status = async () =>
      (
        await http<{ status: string }>(server.url, 'GET', `/messages/${sent.message_id}`, {
          token: aliceToken,
        })
      ).status;
    const arrived = messageWithText(page, 'Are you still there?');
    await arrived.waitFor({ state: 'attached' });
    await eventually(status).toBe('received');
    await page.waitForTimeout(700);
    expect(await status()).toBe('received');
    expect(await inView(arrived)).toBe(false);

    // Scrolling down to it reads it.
    for (let step = 0; step < 40 && !(await inView(arrived)); step += 1) {
      await page.mouse.wheel(0, 2000);
      await page.waitForTimeout(50);
    }
    await eventually(status).toBe('read');
  });

  test('works from the keyboard: Enter sends, Shift+Enter breaks the line, actions take focus, Escape closes', async () => {
    const page = bob.page;
    const input = byTestId(page, 'composer-input');
    await input.focus();
    await page.keyboard.type('line one');
    await page.keyboard.press('Shift+Enter');
    await page.keyboard.type('line two');
    await page.keyboard.press('Enter');
    const sent = messageWithText(page, 'line one\nline two');
    await sent.waitFor();
    expect(await input.inputValue()).toBe('');

    // A message's actions show when they hold the focus, not only on hover.
    await page.mouse.move(0, 0);
    const target = messageWithText(page, label(TOTAL));
    const reply = byTestId(target, 'message-reply');
    await reply.focus();
    await eventually(() =>
      target
        .locator('.message-actions')
        .evaluate((el) => el.ownerDocument.defaultView?.getComputedStyle(el).opacity),
    ).toBe('1');
    await page.keyboard.press('Enter');
    await byTestId(page, 'composer-reply').waitFor();
    await eventually(() => input.evaluate((el) => el === el.ownerDocument.activeElement)).toBe(
      true,
    );
    await page.keyboard.type('Answered from the keyboard');
    await page.keyboard.press('Enter');
    const answer = messageWithText(page, 'Answered from the keyboard');
    await answer.waitFor();
    expect(await byTestId(answer, 'message-reply-quote').getAttribute('data-reply-to')).toBe(
      await target.getAttribute('data-message-id'),
    );

    // Dialogs open from the keyboard and close with Escape.
    await byTestId(page, 'new-chat-button').focus();
    await page.keyboard.press('Enter');
    await byTestId(page, 'new-chat-dialog').waitFor();
    await page.keyboard.press('Escape');
    await byTestId(page, 'new-chat-dialog').waitFor({ state: 'detached' });
  });
});
