// Shared pieces of the browser end-to-end suites: Debian's Chromium driven by playwright-core,
// one browser context per person, and guards that fail a test on any console error, uncaught
// page error or request to a host other than the server under test.

import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type Browser,
  type BrowserContext,
  chromium,
  type Locator,
  type Page,
} from 'playwright-core';
import { expect } from 'vitest';
import { PASSWORD } from '../helpers/factories.js';
import { type ServerProcess, startServer } from '../helpers/server-process.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SCREENSHOT_DIR = path.join(root, 'docs/screenshots');

export const DESKTOP = { width: 1280, height: 800 } as const;
export const PHONE = { width: 390, height: 844 } as const;
export { PASSWORD };

/**
 * A real server process (as in production) on a fresh embedded database in a temporary
 * DATA_DIR, serving the built web client; `stop` also removes the directory.
 */
export async function startTestServer(): Promise<ServerProcess> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'messenger-e2e-'));
  const server = await startServer({ DATA_DIR: dataDir });
  return {
    ...server,
    stop: async (signal) => {
      try {
        return await server.stop(signal);
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    },
  };
}

/** Headless Debian Chromium, as the machine notes prescribe (no background traffic at all). */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export interface Person {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Everything that went wrong in this browser: console errors, page errors, foreign hosts. */
  readonly problems: string[];
  /** Every URL the page asked for (HTTP and WebSocket). */
  readonly requests: string[];
  /**
   * While true, the network errors a page logs when it is cut off (failed WebSocket
   * handshakes, `net::ERR_INTERNET_DISCONNECTED`) are expected rather than problems.
   */
  offlineExpected: boolean;
}

const OFFLINE_NOISE = [
  /^WebSocket connection to '.*' failed/,
  /net::ERR_INTERNET_DISCONNECTED/,
  /net::ERR_NETWORK_CHANGED/,
];

/**
 * A fresh browser context (its own storage, like another person's browser) with one page.
 * Requests to any host but the server's are aborted and recorded as problems.
 */
export async function openPerson(
  browser: Browser,
  serverUrl: string,
  options: { viewport: { width: number; height: number }; colorScheme?: 'light' | 'dark' },
): Promise<Person> {
  const server = new URL(serverUrl);
  const context = await browser.newContext({
    baseURL: serverUrl,
    viewport: options.viewport,
    colorScheme: options.colorScheme ?? 'light',
    deviceScaleFactor: 1,
    acceptDownloads: true,
    locale: 'en-GB',
    timezoneId: 'UTC',
  });
  const page = await context.newPage();
  const person: Person = { context, page, problems: [], requests: [], offlineExpected: false };

  const local = (url: string): boolean => {
    const parsed = new URL(url);
    if (parsed.protocol === 'data:' || parsed.protocol === 'blob:') return true;
    return parsed.host === server.host;
  };
  await context.route(
    (url) => !local(url.href),
    async (route) => {
      person.problems.push(`request to another host: ${route.request().url()}`);
      await route.abort('blockedbyclient');
    },
  );
  context.on('request', (request) => {
    person.requests.push(request.url());
    if (!local(request.url())) person.problems.push(`request to another host: ${request.url()}`);
  });
  page.on('websocket', (socket) => {
    person.requests.push(socket.url());
    if (new URL(socket.url()).host !== server.host) {
      person.problems.push(`WebSocket to another host: ${socket.url()}`);
    }
  });
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const text = message.text();
    if (person.offlineExpected && OFFLINE_NOISE.some((pattern) => pattern.test(text))) return;
    person.problems.push(`console error: ${text} (${message.location().url})`);
  });
  page.on('pageerror', (error) => {
    person.problems.push(`page error: ${error.stack ?? error.message}`);
  });
  // Confirmation prompts (delete, leave) are answered yes, as the person would.
  page.on('dialog', (dialog) => {
    void dialog.accept();
  });
  return person;
}

/** The page loaded, ran and talked to nobody else: the guards found nothing. */
export function expectClean(person: Person): void {
  expect(person.problems).toEqual([]);
  expect(person.requests.length).toBeGreaterThan(0);
}

export function byTestId(scope: Page | Locator, id: string): Locator {
  return scope.locator(`[data-testid="${id}"]`);
}

/** Signs up through the form (sign-up mode), which signs in and opens the chat list. */
export async function signUpInBrowser(
  page: Page,
  username: string,
  displayName: string,
): Promise<void> {
  const form = byTestId(page, 'login-form');
  if ((await form.getAttribute('data-mode')) !== 'signup') {
    await byTestId(page, 'auth-mode-toggle').click();
  }
  await expect.poll(() => form.getAttribute('data-mode')).toBe('signup');
  await byTestId(page, 'login-username').fill(username);
  await byTestId(page, 'login-display-name').fill(displayName);
  await byTestId(page, 'login-password').fill(PASSWORD);
  await byTestId(page, 'login-submit').click();
  await byTestId(page, 'current-user').waitFor();
  await waitOnline(page);
}

export async function signInInBrowser(page: Page, username: string): Promise<void> {
  await byTestId(page, 'login-username').fill(username);
  await byTestId(page, 'login-password').fill(PASSWORD);
  await byTestId(page, 'login-submit').click();
  await byTestId(page, 'current-user').waitFor();
  await waitOnline(page);
}

export async function waitOnline(page: Page): Promise<void> {
  await page.locator('[data-testid="connection-status"][data-state="online"]').waitFor();
}

/** Waits for something that may take a moment (a socket event, a receipt) to become true. */
export function eventually<T>(read: () => Promise<T> | T, timeout = 10_000) {
  return expect.poll(read, { timeout, interval: 50 });
}

export function messages(page: Page): Locator {
  return byTestId(page, 'message-item');
}

/** The message whose text is exactly `text` (a tombstone has none, so find those by id). */
export function messageWithText(page: Page, text: string): Locator {
  return messages(page).filter({
    has: page.locator('[data-testid="message-content"]', {
      hasText: new RegExp(`^${escapeRegExp(text)}$`),
    }),
  });
}

export function messageById(page: Page, messageId: string): Locator {
  return page.locator(`[data-testid="message-item"][data-message-id="${messageId}"]`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Whether the element shows inside the visible part of its message list (not scrolled away). */
export async function inView(locator: Locator): Promise<boolean> {
  return locator.evaluate((el) => {
    const box = el.getBoundingClientRect();
    const list = el.closest('[data-testid="message-list"]')?.getBoundingClientRect();
    return !!list && box.height > 0 && box.bottom > list.top && box.top < list.bottom;
  });
}

/**
 * Writes the text into the composer and presses Enter, as a person sends a message; unless
 * `confirmed` is false, waits until the server has it (no pending bubble left).
 */
export async function sendText(page: Page, text: string, confirmed = true): Promise<void> {
  const input = byTestId(page, 'composer-input');
  await input.fill(text);
  await input.press('Enter');
  await expect.poll(() => input.inputValue()).toBe('');
  if (confirmed) {
    await messageWithText(page, text).waitFor();
    await eventually(() => byTestId(page, 'pending-message').count()).toBe(0);
  }
}

/** The chat's messages as shown: id, content (or null for a tombstone), in screen order. */
export async function shownMessages(
  page: Page,
): Promise<{ id: string; seq: number; text: string | null }[]> {
  return messages(page).evaluateAll((items) =>
    items.map((item) => {
      const el = item as unknown as {
        dataset: Record<string, string | undefined>;
        querySelector(selector: string): { textContent: string | null } | null;
      };
      const content = el.querySelector('[data-testid="message-content"]');
      return {
        id: el.dataset.messageId ?? '',
        seq: Number(el.dataset.seq),
        text: el.dataset.deleted === 'true' ? null : (content?.textContent ?? ''),
      };
    }),
  );
}

/** A PNG of the whole page, for docs/screenshots (linked from the README). */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  // No hover effects left over from the steps before (message actions show on hover).
  await page.mouse.move(0, 0);
  await page.screenshot({
    path: path.join(SCREENSHOT_DIR, `${name}.png`),
    animations: 'disabled',
    caret: 'hide',
  });
}
