// Two people in two browsers (Alice on a desktop-sized window, Bob on a phone-sized one) sign
// up, find each other, and chat in real time: messages both ways, receipts, replies, edits,
// deletions, attachments, the chat list, chat settings. Along the way the suite writes the
// screenshots of docs/screenshots. Each step builds on the one before.

import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { http, type ServerProcess } from '../helpers/server-process.js';
import { pdfDocument, pngPicture, wavTone } from './files.js';
import {
  byTestId,
  DESKTOP,
  eventually,
  expectClean,
  launchChromium,
  messageWithText,
  openPerson,
  PASSWORD,
  type Person,
  PHONE,
  screenshot,
  sendText,
  shownMessages,
  signUpInBrowser,
  startTestServer,
} from './support.js';

let server: ServerProcess;
let browser: Browser;
let alice: Person;
let bob: Person;
/** "Weekend trip", created by Alice with Bob. */
let tripId = '';
/** "Book club", created later by Alice with Bob. */
let clubId = '';

const FIRST = 'Hi Bob! Are you coming on Saturday?';
const ANSWER = "Yes! I'll bring the tent.";
const REPLY = 'Count me in for the hike too';
const EDITED = 'We meet at the station at 8:30';
const CAPTION = 'The lake at sunrise';

beforeAll(async () => {
  [server, browser] = await Promise.all([startTestServer(), launchChromium()]);
  alice = await openPerson(browser, server.url, { viewport: DESKTOP });
  bob = await openPerson(browser, server.url, { viewport: PHONE });
});

afterEach(() => {
  expectClean(alice);
  expectClean(bob);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

/** Installs a recorder of every status each own message of the page shows, in order. */
async function recordTicks(person: Person): Promise<void> {
  await person.page.evaluate(`(() => {
    const seen = (window.__ticks = {});
    const take = () => {
      for (const el of document.querySelectorAll('[data-testid="message-item"][data-own="true"]')) {
        const list = (seen[el.dataset.messageId] ??= []);
        if (list.at(-1) !== el.dataset.status) list.push(el.dataset.status);
      }
    };
    new MutationObserver(take).observe(document.body, {
      subtree: true, childList: true, attributes: true, attributeFilter: ['data-status'],
    });
    take();
  })()`);
}

async function tickHistory(person: Person, messageId: string): Promise<string[]> {
  return person.page.evaluate(`window.__ticks[${JSON.stringify(messageId)}] ?? []`);
}

function chatItem(person: Person, chatId: string) {
  return person.page.locator(`[data-testid="chat-list-item"][data-chat-id="${chatId}"]`);
}

async function listOrder(person: Person): Promise<string[]> {
  return byTestId(person.page, 'chat-name').allTextContents();
}

async function openChatFromList(person: Person, chatId: string): Promise<void> {
  await chatItem(person, chatId).click();
  await person.page.locator(`[data-testid="chat-view"][data-chat-id="${chatId}"]`).waitFor();
  await byTestId(person.page, 'history-top').waitFor({ state: 'attached' });
}

async function hoverAndClick(person: Person, text: string, action: string): Promise<void> {
  const item = messageWithText(person.page, text);
  await item.hover();
  await byTestId(item, action).click();
}

describe('two people chat in the browser', () => {
  test('the sign-in page loads; both sign up in their own browser', async () => {
    await Promise.all([alice.page.goto('/'), bob.page.goto('/')]);
    for (const person of [alice, bob]) {
      await expect
        .poll(() => byTestId(person.page, 'login-form').getAttribute('data-mode'))
        .toBe('signin');
    }
    await screenshot(alice.page, 'desktop-sign-in');
    await screenshot(bob.page, 'phone-sign-in');

    await Promise.all([
      signUpInBrowser(alice.page, 'alice', 'Alice Martin'),
      signUpInBrowser(bob.page, 'bob', 'Bob Chen'),
    ]);
    expect(await byTestId(alice.page, 'current-user').textContent()).toBe('Alice Martin');
    expect(await byTestId(bob.page, 'current-user').textContent()).toBe('Bob Chen');
    await byTestId(bob.page, 'chat-list-empty').waitFor();
  });

  test('Alice finds Bob by name and creates a chat; it shows up in Bob’s list at once', async () => {
    const page = alice.page;
    await byTestId(page, 'new-chat-button').click();
    const dialog = byTestId(page, 'new-chat-dialog');
    await dialog.waitFor();
    await byTestId(dialog, 'new-chat-name').fill('Weekend trip');
    await byTestId(dialog, 'user-search-input').fill('bo');
    const result = byTestId(dialog, 'user-search-result').filter({ hasText: '@bob' });
    await result.click();
    await expect
      .poll(() => byTestId(dialog, 'selected-user').allTextContents())
      .toEqual(['Bob Chen×']);
    await byTestId(dialog, 'create-chat-submit').click();

    const view = byTestId(page, 'chat-view');
    await view.waitFor();
    tripId = (await view.getAttribute('data-chat-id')) ?? '';
    expect(tripId).not.toBe('');
    expect(page.url()).toContain(`#/chat/${tripId}`);
    expect(await byTestId(page, 'chat-title').textContent()).toBe('Weekend trip');

    // Bob did nothing: the chat arrives over his socket.
    const item = chatItem(bob, tripId);
    await item.waitFor();
    expect(await byTestId(item, 'chat-name').textContent()).toBe('Weekend trip');
    expect(await byTestId(item, 'chat-last-message').textContent()).toBe('No messages yet');
  });

  test('messages go both ways live; ticks go sent → received → read', async () => {
    await recordTicks(alice);
    await sendText(alice.page, FIRST);
    const first = messageWithText(alice.page, FIRST);
    await first.waitFor();
    const firstId = (await first.getAttribute('data-message-id')) ?? '';

    // Bob's client has it (his list shows it unread) and says so: received, not read.
    const item = chatItem(bob, tripId);
    await eventually(() => item.getAttribute('data-unread')).toBe('1');
    expect(await byTestId(item, 'chat-unread-badge').textContent()).toBe('1 unread');
    expect(await byTestId(item, 'chat-last-message').textContent()).toBe(FIRST);
    await eventually(() => first.getAttribute('data-status')).toBe('received');
    await bob.page.waitForTimeout(700);
    expect(await first.getAttribute('data-status')).toBe('received');
    expect(await byTestId(first, 'message-ticks').getAttribute('aria-label')).toBe('Delivered');

    // Bob opens the chat: the message is on his screen, so it is read.
    await openChatFromList(bob, tripId);
    await messageWithText(bob.page, FIRST).waitFor();
    expect(await messageWithText(bob.page, FIRST).getAttribute('data-own')).toBe('false');
    await eventually(() => first.getAttribute('data-status')).toBe('read');
    expect(await tickHistory(alice, firstId)).toEqual(['sent', 'received', 'read']);

    // And back: Alice has the chat open, so Bob's answer is read as soon as it lands.
    await sendText(bob.page, ANSWER);
    const answerAtAlice = messageWithText(alice.page, ANSWER);
    await answerAtAlice.waitFor();
    expect(await answerAtAlice.getAttribute('data-own')).toBe('false');
    await eventually(() => messageWithText(bob.page, ANSWER).getAttribute('data-status')).toBe(
      'read',
    );
    expect(await byTestId(chatItem(alice, tripId), 'chat-last-message').textContent()).toBe(ANSWER);
    expect(await chatItem(alice, tripId).getAttribute('data-unread')).toBe('0');

    for (const person of [alice, bob]) {
      expect((await shownMessages(person.page)).map((m) => m.text)).toEqual([FIRST, ANSWER]);
    }
  });

  test('reply with a quoted preview; edit and delete own messages, seen live by both', async () => {
    // Bob replies to Alice's first message; Escape first shows the reply can be dropped.
    await hoverAndClick(bob, FIRST, 'message-reply');
    await byTestId(bob.page, 'composer-reply').waitFor();
    await byTestId(bob.page, 'composer-input').press('Escape');
    await byTestId(bob.page, 'composer-reply').waitFor({ state: 'detached' });
    await hoverAndClick(bob, FIRST, 'message-reply');
    expect(await byTestId(bob.page, 'composer-reply').textContent()).toContain(FIRST);
    await sendText(bob.page, REPLY);
    await byTestId(bob.page, 'composer-reply').waitFor({ state: 'detached' });

    const firstId = await messageWithText(alice.page, FIRST).getAttribute('data-message-id');
    for (const person of [alice, bob]) {
      const quote = byTestId(messageWithText(person.page, REPLY), 'message-reply-quote');
      await quote.waitFor();
      expect(await quote.getAttribute('data-reply-to')).toBe(firstId);
      expect(await quote.textContent()).toBe(`Alice Martin${FIRST}`);
    }

    // Alice edits a message of hers: the new text, marked edited, on both screens.
    await sendText(alice.page, 'We meet at the station at 9');
    await hoverAndClick(alice, 'We meet at the station at 9', 'message-edit');
    await byTestId(alice.page, 'composer-editing').waitFor();
    const input = byTestId(alice.page, 'composer-input');
    expect(await input.inputValue()).toBe('We meet at the station at 9');
    await input.fill(EDITED);
    await input.press('Enter');
    for (const person of [alice, bob]) {
      const edited = messageWithText(person.page, EDITED);
      await edited.waitFor();
      expect(await edited.locator('.edited').textContent()).toBe('edited');
      expect(await messageWithText(person.page, 'We meet at the station at 9').count()).toBe(0);
      // Only that one: the others were never edited.
      expect(await person.page.locator('.edited').count()).toBe(1);
    }

    // And deletes another: a tombstone stays in place on both screens.
    await sendText(alice.page, 'Oops, wrong chat');
    const oops = messageWithText(alice.page, 'Oops, wrong chat');
    await messageWithText(bob.page, 'Oops, wrong chat').waitFor();
    const oopsId = (await oops.getAttribute('data-message-id')) ?? '';
    await hoverAndClick(alice, 'Oops, wrong chat', 'message-delete');
    for (const person of [alice, bob]) {
      const tomb = person.page.locator(`[data-message-id="${oopsId}"]`);
      await eventually(() => tomb.getAttribute('data-deleted')).toBe('true');
      expect(await byTestId(tomb, 'message-deleted').textContent()).toBe('message deleted');
      expect(await byTestId(tomb, 'message-content').count()).toBe(0);
      expect((await shownMessages(person.page)).map((m) => m.text)).toEqual([
        FIRST,
        ANSWER,
        REPLY,
        EDITED,
        null,
      ]);
    }
    // Bob cannot edit or delete Alice's messages.
    const aliceAtBob = messageWithText(bob.page, EDITED);
    await aliceAtBob.hover();
    expect(await byTestId(aliceAtBob, 'message-edit').count()).toBe(0);
    expect(await byTestId(aliceAtBob, 'message-delete').count()).toBe(0);
  });

  test('attachments: a picture from the file picker with a progress bar, a PDF and a sound dropped in; shown inline and downloadable', async () => {
    const picture = pngPicture();
    const pdf = pdfDocument();
    const tone = wavTone(2);

    // Hold the upload so the progress bar can be seen, then let it go.
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    await alice.page.route('**/chats/*/attachments', async (route) => {
      if (route.request().method() === 'POST') await held;
      await route.continue();
    });
    const chooserOpened = alice.page.waitForEvent('filechooser');
    await byTestId(alice.page, 'attachment-button').click();
    const chooser = await chooserOpened;
    await chooser.setFiles({ name: 'lake.png', mimeType: 'image/png', buffer: picture });
    const upload = byTestId(alice.page, 'upload-item');
    await eventually(() => upload.getAttribute('data-state')).toBe('uploading');
    const progress = byTestId(upload, 'upload-progress');
    await progress.waitFor();
    expect(await progress.getAttribute('max')).toBe(String(picture.length));
    await byTestId(alice.page, 'composer-input').fill(CAPTION);
    expect(await byTestId(alice.page, 'send-button').isDisabled()).toBe(true);
    release();
    await eventually(() => upload.getAttribute('data-state')).toBe('done');
    await alice.page.unroute('**/chats/*/attachments');
    await byTestId(alice.page, 'composer-input').press('Enter');

    for (const person of [alice, bob]) {
      const message = messageWithText(person.page, CAPTION);
      const image = message.locator(
        '[data-testid="message-attachment"][data-content-type="image"] img',
      );
      await image.waitFor();
      await eventually(() => image.evaluate((el) => el.complete && el.naturalWidth)).toBe(480);
      expect(await image.getAttribute('alt')).toBe('lake.png');
    }

    // Bob drops a PDF and a sound on the chat (drag and drop, no picker).
    const files = await bob.page.evaluateHandle(`(() => {
      const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes(${JSON.stringify(pdf.toString('base64'))})], 'minutes.pdf', { type: 'application/pdf' }));
      dt.items.add(new File([bytes(${JSON.stringify(tone.toString('base64'))})], 'tone.wav', { type: 'audio/wav' }));
      return dt;
    })()`);
    const view = byTestId(bob.page, 'chat-view');
    await view.dispatchEvent('dragenter', { dataTransfer: files });
    await bob.page.locator('.drop-overlay').waitFor();
    await view.dispatchEvent('dragover', { dataTransfer: files });
    await view.dispatchEvent('drop', { dataTransfer: files });
    await bob.page.locator('.drop-overlay').waitFor({ state: 'detached' });
    const uploads = byTestId(bob.page, 'upload-item');
    await eventually(() => uploads.evaluateAll((els) => els.map((el) => el.dataset.state))).toEqual(
      ['done', 'done'],
    );
    await byTestId(bob.page, 'send-button').click();

    for (const person of [alice, bob]) {
      const file = person.page.locator(
        '[data-testid="message-attachment"][data-content-type="file"]',
      );
      await file.waitFor();
      expect(await file.textContent()).toContain('minutes.pdf');
      const audio = person.page.locator(
        '[data-testid="message-attachment"][data-content-type="audio"] audio',
      );
      await audio.waitFor();
      await eventually(() => audio.evaluate((el) => el.readyState >= 1 && el.duration)).toBe(2);
    }
    // The file-only message is summed up by its names in Alice's list.
    await eventually(() =>
      byTestId(chatItem(alice, tripId), 'chat-last-message').textContent(),
    ).toMatch(/^Attachment: (minutes\.pdf, tone\.wav|tone\.wav, minutes\.pdf)$/);

    // Alice downloads the PDF: the very bytes Bob dropped.
    const downloading = alice.page.waitForEvent('download');
    await alice.page
      .locator('[data-testid="message-attachment"][data-content-type="file"]')
      .click();
    const download = await downloading;
    expect(download.suggestedFilename()).toBe('minutes.pdf');
    const saved = await download.path();
    const { readFile } = await import('node:fs/promises');
    expect((await readFile(saved)).equals(pdf)).toBe(true);
  });

  test('the chat list: newest activity first, unread badges, last-message previews', async () => {
    // A second chat, created by Alice: it is the newest, so first in both lists.
    await byTestId(alice.page, 'new-chat-button').click();
    const dialog = byTestId(alice.page, 'new-chat-dialog');
    await byTestId(dialog, 'new-chat-name').fill('Book club');
    await byTestId(dialog, 'user-search-input').fill('Bob C');
    await byTestId(dialog, 'user-search-result').filter({ hasText: '@bob' }).click();
    await byTestId(dialog, 'create-chat-submit').click();
    await eventually(() => alice.page.url()).not.toContain(tripId);
    clubId = (await byTestId(alice.page, 'chat-view').getAttribute('data-chat-id')) ?? '';
    await sendText(alice.page, 'Next book: Dune');
    await sendText(alice.page, 'Meeting on Thursday?');

    await byTestId(bob.page, 'back-to-list').click();
    await byTestId(bob.page, 'chat-list').waitFor();
    await eventually(() => listOrder(bob)).toEqual(['Book club', 'Weekend trip']);
    const club = chatItem(bob, clubId);
    await eventually(() => club.getAttribute('data-unread')).toBe('2');
    expect(await byTestId(club, 'chat-last-message').textContent()).toBe('Meeting on Thursday?');

    // New activity in the older chat moves it back to the top, with its own badge.
    await chatItem(alice, tripId).click();
    await alice.page.locator(`[data-testid="chat-view"][data-chat-id="${tripId}"]`).waitFor();
    await sendText(alice.page, 'The forecast says sunshine ☀');
    await eventually(() => listOrder(bob)).toEqual(['Weekend trip', 'Book club']);
    await eventually(() => listOrder(alice)).toEqual(['Weekend trip', 'Book club']);
    const trip = chatItem(bob, tripId);
    await eventually(() => trip.getAttribute('data-unread')).toBe('1');
    expect(await byTestId(trip, 'chat-last-message').textContent()).toBe(
      'The forecast says sunshine ☀',
    );
    expect(await club.getAttribute('data-unread')).toBe('2');
    await eventually(() => bob.page.title()).toBe('(3) Messenger');
    await screenshot(bob.page, 'phone-chat-list');

    // Bob answers in the book club; Alice, in the other chat, gets a badge there.
    await openChatFromList(bob, clubId);
    await eventually(() => chatItem(bob, clubId).getAttribute('data-unread')).toBe('0');
    await sendText(bob.page, 'Dune is great, count me in');
    await eventually(() => chatItem(alice, clubId).getAttribute('data-unread')).toBe('1');
    await eventually(() => listOrder(alice)).toEqual(['Book club', 'Weekend trip']);
    await alice.page.evaluate(`location.hash = '#/'`);
    await byTestId(alice.page, 'chat-list').waitFor();
    await eventually(() => chatItem(alice, clubId).getAttribute('data-unread')).toBe('1');
    await screenshot(alice.page, 'desktop-chat-list');
  });

  test('screenshots of the chat and its settings, desktop and phone, light and dark', async () => {
    await byTestId(bob.page, 'back-to-list').click();
    await openChatFromList(bob, tripId);
    await messageWithText(bob.page, 'The forecast says sunshine ☀').waitFor();
    await openChatFromList(alice, tripId);
    await messageWithText(alice.page, CAPTION).waitFor();
    await eventually(() =>
      alice.page
        .locator('[data-testid="message-item"][data-own="true"]')
        .last()
        .getAttribute('data-status'),
    ).toBe('read');
    await screenshot(alice.page, 'desktop-chat');
    await screenshot(bob.page, 'phone-chat');

    await alice.page.emulateMedia({ colorScheme: 'dark' });
    await bob.page.emulateMedia({ colorScheme: 'dark' });
    await screenshot(alice.page, 'desktop-chat-dark');
    await screenshot(bob.page, 'phone-chat-dark');
    await alice.page.emulateMedia({ colorScheme: 'light' });
    await bob.page.emulateMedia({ colorScheme: 'light' });

    await byTestId(alice.page, 'chat-settings-button').click();
    await byTestId(alice.page, 'chat-settings').waitFor();
    await eventually(() =>
      byTestId(alice.page, 'participant-item').evaluateAll((items) =>
        items.map((item) => item.firstElementChild?.textContent),
      ),
    ).toEqual(['Alice Martin (you) · creator', 'Bob Chen']);
    await screenshot(alice.page, 'desktop-chat-settings');
    await alice.page.keyboard.press('Escape');
    await byTestId(alice.page, 'chat-settings').waitFor({ state: 'detached' });

    await byTestId(bob.page, 'chat-settings-button').click();
    await byTestId(bob.page, 'chat-settings').waitFor();
    await screenshot(bob.page, 'phone-chat-settings');
    await bob.page.keyboard.press('Escape');
    await byTestId(bob.page, 'chat-settings').waitFor({ state: 'detached' });
  });

  test('chat settings: rename, add and remove someone, leave, delete', async () => {
    const carol = await http<{ user_id: string }>(server.url, 'POST', '/users', {
      body: { username: 'carol', password: PASSWORD, display_name: 'Carol Diaz' },
      expect: 201,
    });
    const { access_token: carolToken } = await http<{ access_token: string }>(
      server.url,
      'POST',
      '/auth/token',
      { body: { username: 'carol', password: PASSWORD }, expect: 200 },
    );
    const carolChats = async () =>
      (
        await http<{ items: { chat_id: string }[] }>(server.url, 'GET', '/chats', {
          token: carolToken,
        })
      ).items.map((c) => c.chat_id);

    const page = alice.page;
    await byTestId(page, 'chat-settings-button').click();
    const settings = byTestId(page, 'chat-settings');
    await byTestId(settings, 'chat-rename-input').fill('Saturday hike');
    await byTestId(settings, 'chat-rename-submit').click();
    for (const person of [alice, bob]) {
      await eventually(() => byTestId(person.page, 'chat-title').textContent()).toBe(
        'Saturday hike',
      );
    }

    // Add Carol, found by her name.
    await byTestId(settings, 'user-search-input').fill('car');
    await byTestId(settings, 'user-search-result').filter({ hasText: '@carol' }).click();
    await byTestId(settings, 'add-participants-submit').click();
    await eventually(() => byTestId(settings, 'participant-item').count()).toBe(3);
    await eventually(() => bob.page.locator('.chat-head-title .muted').textContent()).toBe(
      '3 participants',
    );
    expect(await carolChats()).toContain(tripId);

    // And remove her again.
    await byTestId(
      settings.locator(`[data-testid="participant-item"][data-user-id="${carol.user_id}"]`),
      'participant-remove',
    ).click();
    await eventually(() => byTestId(settings, 'participant-item').count()).toBe(2);
    await eventually(() => bob.page.locator('.chat-head-title .muted').textContent()).toBe(
      '2 participants',
    );
    expect(await carolChats()).not.toContain(tripId);
    await page.keyboard.press('Escape');

    // Bob leaves the book club: it is gone from his list; Alice sees him go.
    await byTestId(bob.page, 'back-to-list').click();
    await openChatFromList(bob, clubId);
    await byTestId(bob.page, 'chat-settings-button').click();
    await byTestId(bob.page, 'leave-chat-button').click();
    await byTestId(bob.page, 'chat-list').waitFor();
    await chatItem(bob, clubId).waitFor({ state: 'detached' });
    expect(await listOrder(bob)).toEqual(['Saturday hike']);
    await openChatFromList(alice, clubId);
    await eventually(() => alice.page.locator('.chat-head-title .muted').textContent()).toBe(
      '1 participant',
    );

    // Alice deletes the trip chat: both keep reading it, nobody can write.
    await openChatFromList(alice, tripId);
    await openChatFromList(bob, tripId);
    await byTestId(page, 'chat-settings-button').click();
    await byTestId(page, 'delete-chat-button').click();
    await byTestId(page, 'chat-settings').waitFor({ state: 'detached' });
    for (const person of [alice, bob]) {
      await byTestId(person.page, 'chat-deleted-banner').waitFor();
      expect(await byTestId(person.page, 'composer-input').isDisabled()).toBe(true);
      expect((await shownMessages(person.page)).length).toBeGreaterThan(5);
    }
  });
});
