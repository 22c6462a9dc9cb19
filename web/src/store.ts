// Client state and everything that changes it: the session, chats, message windows, pending
// sends, uploads, receipts and the real-time feed. UI components read it and call its
// actions; they never talk to the API or the socket themselves.

import {
  ApiClient,
  ApiError,
  type Attachment,
  type Chat,
  type Message,
  type MessageStatus,
  type User,
} from './api';
import { type ConnectionState, RealtimeConnection, type ServerEvent } from './realtime';
import { randomId } from './util';

export interface Session {
  token: string;
  /** Epoch milliseconds when the token stops working. */
  expiresAt: number;
  user: User;
}

export interface PendingMessage {
  client_message_id: string;
  chat_id: string;
  content: string;
  reply_to: string | null;
  attachments: Attachment[];
  created: string;
  state: 'sending' | 'failed';
  error?: string;
  /** Failed for want of a connection: sent again by itself once the server answers. */
  retryable: boolean;
}

/** The loaded part of a chat's history: a contiguous run of messages up to the newest. */
export interface ChatHistory {
  /** Message ids ordered by `seq`, oldest first. */
  ids: string[];
  /** Older messages exist before ids[0]. */
  hasMore: boolean;
  loaded: boolean;
  loadingOlder: boolean;
  error: string | null;
  /** The newest change position this window holds: what `resume` is sent with. */
  position: number;
}

export interface Upload {
  id: string;
  chat_id: string;
  name: string;
  size: number;
  loaded: number;
  state: 'uploading' | 'done' | 'failed';
  attachment?: Attachment;
  error?: string;
  abort(): void;
}

export const MAX_ATTACHMENTS = 10;
type ReceiptKind = 'received' | 'read';
interface Receipt {
  sentSeq: number;
  sentId: string | null;
  target: { messageId: string; seq: number | null } | null;
  timer?: number;
}

const SESSION_KEY = 'messenger.session';
const PAGE_SIZE = 50;
const SEND_QUEUE_WAIT_MS = 15_000;
const STATUS_RANK: Record<MessageStatus, number> = { sent: 0, received: 1, read: 2 };

export function maxStatus(a: MessageStatus, b: MessageStatus): MessageStatus {
  return STATUS_RANK[a] >= STATUS_RANK[b] ? a : b;
}

/**
 * Merges two states of one message so that the result never goes back, whichever arrives
 * first: a deletion is final, a later edit wins over an earlier one, status only rises.
 */
export function mergeMessage(old: Message | undefined, incoming: Message): Message {
  if (!old) return incoming;
  const status = maxStatus(old.status, incoming.status);
  let winner: Message;
  if (old.deleted !== incoming.deleted) winner = old.deleted ? old : incoming;
  else winner = (incoming.updated ?? '') >= (old.updated ?? '') ? incoming : old;
  return winner.status === status ? winner : { ...winner, status };
}

function errorText(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  return error instanceof Error ? error.message : String(error);
}

function loadSession(): Session | null {
  try {
    const raw = localStorage.getItem(SESSION_KEY);
    if (!raw) return null;
    const session = JSON.parse(raw) as Session;
    if (!session.token || !session.user || session.expiresAt <= Date.now()) return null;
    return session;
  } catch {
    return null;
  }
}

export class Store {
  /** @param onSignedOut called once when the session ends, to start over with a new store. */
  constructor(private readonly onSignedOut: (reason?: string) => void = () => undefined) {}

  // State, read by the UI. Replace nothing from outside: call the actions.
  session: Session | null = loadSession();
  connection: ConnectionState = 'connecting';
  chats = new Map<string, Chat>();
  chatsLoaded = false;
  chatsHasMore = false;
  notice: { text: string; kind: 'error' | 'info' } | null = null;
  /** Every message the client knows, by id: windows, previews and quoted replies. */
  readonly messages = new Map<string, Message>();
  readonly histories = new Map<string, ChatHistory>();
  readonly pending = new Map<string, PendingMessage[]>();
  readonly uploads = new Map<string, Upload[]>();
  /** Known users by id; null when the lookup failed. */
  readonly users = new Map<string, User | null>();

  readonly api = new ApiClient({
    getToken: () => this.session?.token ?? this.signingInToken,
    onUnauthorized: () => this.signOut('Your session has expired. Please sign in again.'),
  });

  private readonly realtime = new RealtimeConnection({
    token: () => this.session?.token ?? null,
    positions: () => this.resumePositions(),
    onEvent: (event) => this.applyEvent(event),
    onOpen: () => this.handleConnected(),
    onState: (state) => {
      this.connection = state;
      this.emit();
    },
    onConnectFailed: () => this.checkToken(),
  });

  /** Per `kind:chat_id`: what was sent last and what waits to be sent. */
  private readonly receipts = new Map<string, Receipt>();
  /** Per chat: status watermarks from `message.status` (every message up to seq has it). */
  private readonly statusMarks = new Map<string, { received: number; read: number }>();
  /** `message.status` about messages not known yet, applied when they arrive. */
  private readonly orphanStatus = new Map<string, MessageStatus>();
  private readonly chatRefreshTimers = new Map<string, number>();
  /** Per chat: the tail of the queue of sends, so they reach the server in order. */
  private readonly deliveries = new Map<string, Promise<void>>();
  private readonly requestedMessages = new Set<string>();
  private chatsCursor: string | null = null;
  private listeners = new Set<() => void>();
  private emitQueued = false;
  private expiryTimer: number | undefined;
  private noticeTimer: number | undefined;
  private tokenCheckedAt = 0;
  /** The token between POST /auth/token and GET /users/me, before a session exists. */
  private signingInToken: string | null = null;
  private chatsFallbackTimer: number | undefined;
  /** GET /users/{id} is an extension; when the server lacks the route, stop asking. */
  private userLookup = true;

  // Subscription

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Changes are announced once per microtask, however many happened. */
  private emit(): void {
    if (this.emitQueued) return;
    this.emitQueued = true;
    queueMicrotask(() => {
      this.emitQueued = false;
      for (const listener of this.listeners) listener();
    });
  }

  // Session

  /**
   * Starts the feed for the session. The chat list is fetched once the socket is open, so that
   * every change after that snapshot arrives live; if the socket is slow, it is fetched anyway.
   */
  start(restored = true): void {
    const session = this.session;
    if (!session) return;
    this.users.set(session.user.user_id, session.user);
    this.scheduleExpiry(session.expiresAt);
    this.realtime.start();
    window.clearTimeout(this.chatsFallbackTimer);
    this.chatsFallbackTimer = window.setTimeout(() => {
      if (!this.chatsLoaded) void this.loadChats();
    }, 1500);
    if (!restored) return;
    this.api.me().then(
      (user) => {
        if (!this.session) return;
        this.session = { ...this.session, user };
        this.users.set(user.user_id, user);
        this.persistSession();
        this.emit();
      },
      () => undefined,
    );
  }

  async signIn(username: string, password: string): Promise<void> {
    const token = await this.api.createToken(username, password);
    const expiresAt = Date.now() + token.expires_in * 1000;
    this.signingInToken = token.access_token;
    try {
      const user = await this.api.me();
      this.session = { token: token.access_token, expiresAt, user };
    } finally {
      this.signingInToken = null;
    }
    this.persistSession();
    this.start(false);
    this.emit();
  }

  async signUp(username: string, password: string, displayName: string): Promise<void> {
    await this.api.createUser(username, password, displayName || undefined);
    await this.signIn(username, password);
  }

  /**
   * Ends the session: the socket closes, uploads stop, the token is forgotten, and the owner
   * replaces this store with a fresh one. Requests still in flight land in this dead store.
   */
  signOut(reason?: string): void {
    if (!this.session) return;
    this.session = null;
    this.realtime.stop();
    for (const uploads of this.uploads.values()) for (const upload of uploads) upload.abort();
    for (const receipt of this.receipts.values()) window.clearTimeout(receipt.timer);
    for (const timer of this.chatRefreshTimers.values()) window.clearTimeout(timer);
    window.clearTimeout(this.expiryTimer);
    window.clearTimeout(this.chatsFallbackTimer);
    window.clearTimeout(this.noticeTimer);
    localStorage.removeItem(SESSION_KEY);
    this.onSignedOut(reason);
  }

  private persistSession(): void {
    if (this.session) localStorage.setItem(SESSION_KEY, JSON.stringify(this.session));
  }

  private scheduleExpiry(expiresAt: number): void {
    window.clearTimeout(this.expiryTimer);
    // setTimeout holds at most ~24.8 days; a longer token is checked again when that fires.
    const delay = Math.min(expiresAt - Date.now(), 2 ** 31 - 1);
    this.expiryTimer = window.setTimeout(() => {
      if (!this.session) return;
      if (this.session.expiresAt <= Date.now()) {
        this.signOut('Your session has expired. Please sign in again.');
      } else this.scheduleExpiry(this.session.expiresAt);
    }, delay);
  }

  /** A socket that never opened may mean a dead token: a cheap request tells (401 signs out). */
  private checkToken(): void {
    if (Date.now() - this.tokenCheckedAt < 30_000) return;
    this.tokenCheckedAt = Date.now();
    this.api.me().catch(() => undefined);
  }

  get me(): string {
    return this.session?.user.user_id ?? '';
  }

  showNotice(text: string, kind: 'error' | 'info' = 'error'): void {
    this.notice = { text, kind };
    window.clearTimeout(this.noticeTimer);
    this.noticeTimer = window.setTimeout(() => {
      this.notice = null;
      this.emit();
    }, 6000);
    this.emit();
  }

  dismissNotice(): void {
    this.notice = null;
    this.emit();
  }

  // Users

  userName(userId: string): string {
    const user = this.users.get(userId);
    if (user) return user.display_name || user.username;
    if (user === undefined && this.userLookup) this.requestUser(userId);
    return `User ${userId.slice(-6)}`;
  }

  rememberUsers(users: User[]): void {
    for (const user of users) this.users.set(user.user_id, user);
  }

  private requestUser(userId: string): void {
    this.users.set(userId, null);
    this.api.getUser(userId).then(
      (user) => {
        this.users.set(user.user_id, user);
        this.emit();
      },
      (error) => {
        // A 404 without the contract's error body is the router's: the route does not exist.
        if (error instanceof ApiError && error.code === 'http_404') this.userLookup = false;
      },
    );
  }

  // Chats

  /** Chats newest activity first. */
  chatList(): Chat[] {
    return [...this.chats.values()].sort((a, b) =>
      a.last_activity_timestamp < b.last_activity_timestamp ? 1 : -1,
    );
  }

  /** The first page of chats (fresh, reconciled with what we knew), or with `more` the next. */
  async loadChats(more = false): Promise<void> {
    if (more && !this.chatsCursor) return;
    try {
      const page = await this.api.listChats(more ? this.chatsCursor : null);
      if (more) for (const chat of page.items) this.applyChat(chat);
      else this.reconcileChats(page.items, page.has_more);
      this.chatsCursor = page.next_cursor ?? null;
      this.chatsHasMore = page.has_more && !!this.chatsCursor;
      this.chatsLoaded = true;
      this.emit();
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return;
      this.showNotice(`Could not load chats: ${errorText(error)}`);
    }
  }

  /**
   * Takes a fresh first page of the chat list. Chats we knew inside the span it covers but it
   * no longer lists may have been left or deleted while we were away: each is asked about.
   */
  private reconcileChats(items: Chat[], hasMore: boolean): void {
    const listed = new Set(items.map((chat) => chat.chat_id));
    const oldest = items.at(-1)?.last_activity_timestamp ?? '';
    for (const chat of [...this.chats.values()]) {
      if (listed.has(chat.chat_id) || chat.deleted) continue;
      if (hasMore && chat.last_activity_timestamp < oldest) continue;
      this.refreshChat(chat.chat_id);
    }
    for (const chat of items) this.applyChat(chat);
  }

  /**
   * Takes a Chat from the server. Name, participants and deletion come from it; the fields
   * that follow the message stream (last message, activity, unread count) only when it is at
   * least as new as what the events already told us.
   */
  private applyChat(chat: Chat): void {
    const old = this.chats.get(chat.chat_id);
    let merged = chat;
    if (old && old.last_seq > chat.last_seq) {
      merged = {
        ...chat,
        last_seq: old.last_seq,
        last_message: old.last_message,
        last_activity_timestamp: old.last_activity_timestamp,
        unread_count: old.unread_count,
      };
    }
    this.chats.set(chat.chat_id, merged);
    if (merged.last_message && merged.unread_count > 0) {
      this.queueReceipt(merged.chat_id, 'received', merged.last_message, null);
    }
    this.emit();
  }

  /** Fetches one chat again (soon, once however often asked); 404 means we are out of it. */
  refreshChat(chatId: string): void {
    if (this.chatRefreshTimers.has(chatId)) return;
    const timer = window.setTimeout(() => {
      this.chatRefreshTimers.delete(chatId);
      this.api.getChat(chatId).then(
        (chat) => {
          if (!chat.participants.includes(this.me)) this.forgetChat(chatId);
          else this.applyChat(chat);
        },
        (error) => {
          if (error instanceof ApiError && error.status === 404) this.forgetChat(chatId);
        },
      );
    }, 150);
    this.chatRefreshTimers.set(chatId, timer);
  }

  private forgetChat(chatId: string): void {
    const history = this.histories.get(chatId);
    for (const id of history?.ids ?? []) this.messages.delete(id);
    this.chats.delete(chatId);
    this.histories.delete(chatId);
    this.pending.delete(chatId);
    for (const upload of this.uploads.get(chatId) ?? []) upload.abort();
    this.uploads.delete(chatId);
    this.emit();
  }

  async createChat(name: string, participants: string[]): Promise<Chat> {
    const chat = await this.api.createChat(name, participants);
    this.applyChat(chat);
    return chat;
  }

  async renameChat(chatId: string, name: string): Promise<void> {
    this.applyChat(await this.api.renameChat(chatId, name));
  }

  async addParticipants(chatId: string, userIds: string[]): Promise<void> {
    this.applyChat(await this.api.addParticipants(chatId, userIds));
  }

  async removeParticipant(chatId: string, userId: string): Promise<void> {
    await this.api.removeParticipant(chatId, userId);
    if (userId === this.me) this.forgetChat(chatId);
    else {
      const chat = this.chats.get(chatId);
      if (chat) {
        this.chats.set(chatId, {
          ...chat,
          participants: chat.participants.filter((id) => id !== userId),
        });
        this.emit();
      }
    }
  }

  async deleteChat(chatId: string): Promise<void> {
    await this.api.deleteChat(chatId);
    const chat = this.chats.get(chatId);
    if (chat) {
      this.chats.set(chatId, { ...chat, deleted: true });
      this.emit();
    }
  }

  /** Opening a chat nobody listed yet (a link, a chat beyond the first page). */
  ensureChat(chatId: string): void {
    if (!this.chats.has(chatId)) this.refreshChat(chatId);
  }

  // Messages

  history(chatId: string): ChatHistory | undefined {
    return this.histories.get(chatId);
  }

  windowMessages(chatId: string): Message[] {
    const history = this.histories.get(chatId);
    if (!history) return [];
    const result: Message[] = [];
    for (const id of history.ids) {
      const message = this.messages.get(id);
      if (message) result.push(message);
    }
    return result;
  }

  pendingOf(chatId: string): PendingMessage[] {
    return this.pending.get(chatId) ?? [];
  }

  /** A message by id, fetched in the background when unknown (previews, quoted replies). */
  message(messageId: string): Message | undefined {
    const message = this.messages.get(messageId);
    if (!message && !this.requestedMessages.has(messageId)) {
      this.requestedMessages.add(messageId);
      this.api.getMessage(messageId).then(
        (fetched) => this.upsertMessage(fetched),
        () => undefined,
      );
    }
    return message;
  }

  /** The status to show: the message's own, raised by the chat's `message.status` marks. */
  statusOf(message: Message): MessageStatus {
    const marks = this.statusMarks.get(message.chat_id);
    if (!marks) return message.status;
    if (marks.read >= message.seq) return 'read';
    if (marks.received >= message.seq) return maxStatus(message.status, 'received');
    return message.status;
  }

  /** Loads the newest page of a chat the first time it is opened. */
  async openChat(chatId: string): Promise<void> {
    const existing = this.histories.get(chatId);
    if (existing && (existing.loaded || !existing.error)) return;
    const history: ChatHistory = existing ?? {
      ids: [],
      hasMore: false,
      loaded: false,
      loadingOlder: false,
      error: null,
      position: this.chats.get(chatId)?.last_seq ?? 0,
    };
    history.error = null;
    this.histories.set(chatId, history);
    this.emit();
    try {
      const page = await this.api.listMessages(chatId, { limit: PAGE_SIZE });
      if (this.histories.get(chatId) !== history) return;
      for (const message of page.items) this.upsertMessage(message);
      const ids = new Set([...history.ids, ...page.items.map((m) => m.message_id)]);
      const oldestSeq = page.items[0]?.seq ?? 0;
      // Events that came in while loading belong in only if they are not older than the page.
      history.ids = this.sortIds(
        [...ids].filter((id) => !page.has_more || (this.messages.get(id)?.seq ?? 0) >= oldestSeq),
      );
      history.hasMore = page.has_more;
      history.loaded = true;
      const newest = page.items.at(-1);
      // The page holds the current state of its messages: a change after the newest one's
      // creation is either in it or comes later, live or by `resume`.
      history.position = Math.max(history.position, newest?.seq ?? 0);
      if (newest && newest.sender !== this.me) {
        this.queueReceipt(chatId, 'received', newest.message_id, newest.seq);
      }
    } catch (error) {
      history.error = errorText(error);
    }
    this.emit();
  }

  async loadOlder(chatId: string): Promise<void> {
    const history = this.histories.get(chatId);
    const oldest = history?.ids[0];
    if (!history?.loaded || !history.hasMore || history.loadingOlder || !oldest) return;
    history.loadingOlder = true;
    this.emit();
    try {
      const page = await this.api.listMessages(chatId, { limit: PAGE_SIZE, before: oldest });
      if (this.histories.get(chatId) !== history) return;
      for (const message of page.items) this.upsertMessage(message);
      const known = new Set(history.ids);
      const older = page.items.map((m) => m.message_id).filter((id) => !known.has(id));
      history.ids = this.sortIds([...older, ...history.ids]);
      history.hasMore = page.has_more;
    } catch (error) {
      this.showNotice(`Could not load older messages: ${errorText(error)}`);
    } finally {
      history.loadingOlder = false;
      this.emit();
    }
  }

  private sortIds(ids: string[]): string[] {
    const seq = (id: string) => this.messages.get(id)?.seq ?? 0;
    return ids.sort((a, b) => seq(a) - seq(b));
  }

  /** Puts a message into the window of its chat if the window reaches that far. */
  private placeInWindow(message: Message): void {
    const history = this.histories.get(message.chat_id);
    if (!history || history.ids.includes(message.message_id)) return;
    const oldest = history.ids[0] ? this.messages.get(history.ids[0]) : undefined;
    const inside = !history.loaded || !history.hasMore || !oldest || message.seq >= oldest.seq;
    if (!inside) return;
    history.ids.push(message.message_id);
    if (history.ids.length > 1) {
      const before = this.messages.get(history.ids[history.ids.length - 2] ?? '');
      if (before && before.seq > message.seq) this.sortIds(history.ids);
    }
  }

  /** Takes a message state from the server; `settle` looks for a pending twin to retire. */
  private upsertMessage(incoming: Message, settle = true): Message {
    const merged = mergeMessage(this.messages.get(incoming.message_id), incoming);
    this.messages.set(merged.message_id, merged);
    const orphan = this.orphanStatus.get(merged.message_id);
    if (orphan) {
      this.orphanStatus.delete(merged.message_id);
      this.raiseStatusMark(merged, orphan);
    }
    if (settle && merged.sender === this.me) this.settlePending(merged, incoming);
    this.emit();
    return merged;
  }

  /** A message of ours reached the server: its pending twin leaves the screen. */
  private settlePending(message: Message, incoming: Message): void {
    const list = this.pending.get(message.chat_id);
    if (!list?.length) return;
    const echoed = (incoming as Message & { client_message_id?: unknown }).client_message_id;
    const ids = message.attachments.map((a) => a.attachment_id).join(',');
    const index =
      typeof echoed === 'string'
        ? list.findIndex((p) => p.client_message_id === echoed)
        : list.findIndex(
            (p) =>
              p.content === message.content &&
              p.reply_to === message.reply_to &&
              p.attachments.map((a) => a.attachment_id).join(',') === ids,
          );
    if (index < 0) return;
    this.pending.set(
      message.chat_id,
      list.filter((_, i) => i !== index),
    );
  }

  private raiseStatusMark(message: Message, status: MessageStatus): void {
    const marks = this.statusMarks.get(message.chat_id) ?? { received: 0, read: 0 };
    if (status === 'read') marks.read = Math.max(marks.read, message.seq);
    if (status !== 'sent') marks.received = Math.max(marks.received, message.seq);
    this.statusMarks.set(message.chat_id, marks);
  }

  /** Sends a message; it shows as pending until the server has it, and can be sent again. */
  send(chatId: string, content: string, replyTo: string | null, attachments: Attachment[]): void {
    const pending: PendingMessage = {
      client_message_id: randomId(),
      chat_id: chatId,
      content,
      reply_to: replyTo,
      attachments,
      created: new Date().toISOString(),
      state: 'sending',
      retryable: false,
    };
    this.pending.set(chatId, [...this.pendingOf(chatId), pending]);
    this.emit();
    this.enqueueDelivery(pending);
  }

  retry(pending: PendingMessage): void {
    this.updatePending(pending.chat_id, pending.client_message_id, {
      state: 'sending',
      error: undefined,
      retryable: false,
    });
    const current = this.pendingOf(pending.chat_id).find(
      (p) => p.client_message_id === pending.client_message_id,
    );
    if (current) this.enqueueDelivery(current);
  }

  discard(pending: PendingMessage): void {
    this.pending.set(
      pending.chat_id,
      this.pendingOf(pending.chat_id).filter(
        (p) => p.client_message_id !== pending.client_message_id,
      ),
    );
    this.emit();
  }

  private updatePending(chatId: string, clientId: string, patch: Partial<PendingMessage>): void {
    this.pending.set(
      chatId,
      this.pendingOf(chatId).map((p) =>
        p.client_message_id === clientId ? { ...p, ...patch } : p,
      ),
    );
    this.emit();
  }

  /**
   * Sends go out one at a time per chat, in the order they were written: concurrent requests
   * could be accepted in any order, and the chat would show quick messages shuffled. A send
   * that hangs holds the next ones back for at most SEND_QUEUE_WAIT_MS.
   */
  private enqueueDelivery(pending: PendingMessage): void {
    const chatId = pending.chat_id;
    const previous = this.deliveries.get(chatId);
    const turn = previous
      ? Promise.race([
          previous,
          new Promise<void>((resolve) => window.setTimeout(resolve, SEND_QUEUE_WAIT_MS)),
        ])
      : Promise.resolve();
    const next = turn.then(() => this.deliver(pending.client_message_id, chatId));
    this.deliveries.set(chatId, next);
    void next.then(() => {
      if (this.deliveries.get(chatId) === next) this.deliveries.delete(chatId);
    });
  }

  /** Sends a pending message if it still waits to be sent (not discarded meanwhile). */
  private async deliver(clientId: string, chatId: string): Promise<void> {
    const pending = this.pendingOf(chatId).find((p) => p.client_message_id === clientId);
    if (!this.session || pending?.state !== 'sending') return;
    try {
      const message = await this.api.sendMessage(pending.chat_id, {
        content: pending.content,
        reply_to: pending.reply_to ?? undefined,
        attachments: pending.attachments.map((a) => a.attachment_id),
        client_message_id: pending.client_message_id,
      });
      this.discard(pending);
      this.takeOwnMessage(message);
    } catch (error) {
      if (!this.session) return;
      const retryable =
        error instanceof ApiError &&
        (error.isNetwork || error.status >= 500 || error.status === 429);
      if (error instanceof ApiError && error.status === 410) this.markChatDeleted(pending.chat_id);
      this.updatePending(pending.chat_id, pending.client_message_id, {
        state: 'failed',
        error: errorText(error),
        retryable,
      });
    }
  }

  /** The server's answer to our own send or edit: a message we know is current. */
  private takeOwnMessage(message: Message): void {
    // Its pending entry is already gone, by client id: guessing could retire a twin's.
    const merged = this.upsertMessage(message, false);
    this.placeInWindow(merged);
    const chat = this.chats.get(message.chat_id);
    if (chat && message.seq > chat.last_seq) {
      this.chats.set(chat.chat_id, {
        ...chat,
        last_seq: message.seq,
        last_message: message.message_id,
        last_activity_timestamp: message.created,
        unread_count: 0,
      });
    }
    this.emit();
  }

  async edit(message: Message, content: string): Promise<void> {
    try {
      this.upsertMessage(await this.api.editMessage(message.message_id, content));
    } catch (error) {
      if (error instanceof ApiError && error.status === 410) this.markChatDeleted(message.chat_id);
      this.showNotice(`Could not edit the message: ${errorText(error)}`);
    }
  }

  async remove(message: Message): Promise<void> {
    try {
      await this.api.deleteMessage(message.message_id);
      this.upsertMessage({ ...message, deleted: true, content: '', attachments: [] });
    } catch (error) {
      if (error instanceof ApiError && error.status === 410) this.markChatDeleted(message.chat_id);
      this.showNotice(`Could not delete the message: ${errorText(error)}`);
    }
  }

  private markChatDeleted(chatId: string): void {
    const chat = this.chats.get(chatId);
    if (chat && !chat.deleted) this.chats.set(chatId, { ...chat, deleted: true });
    this.emit();
  }

  // Receipts

  /** Called by the view with the newest message actually on screen. */
  markVisible(message: Message): void {
    // Nothing unread means the read mark is already past every message of the others.
    if (!this.chats.get(message.chat_id)?.unread_count) return;
    this.queueReceipt(message.chat_id, 'read', message.message_id, message.seq);
  }

  /**
   * Sends `receive` or `read` for a chat, collapsing a burst into one request for the newest
   * message (marks are watermarks: it covers every earlier one). `seq` is null when unknown.
   */
  private queueReceipt(
    chatId: string,
    kind: ReceiptKind,
    messageId: string,
    seq: number | null,
  ): void {
    const key = `${kind}:${chatId}`;
    const receipt = this.receipts.get(key) ?? { sentSeq: 0, sentId: null, target: null };
    this.receipts.set(key, receipt);
    if (messageId === receipt.sentId || (seq !== null && seq <= receipt.sentSeq)) return;
    const target = receipt.target;
    if (target && target.seq !== null && (seq === null || seq <= target.seq)) return;
    receipt.target = { messageId, seq };
    if (receipt.timer !== undefined) return;
    receipt.timer = window.setTimeout(() => {
      receipt.timer = undefined;
      const next = receipt.target;
      receipt.target = null;
      if (next) void this.sendReceipt(chatId, kind, receipt, next.messageId);
    }, 250);
  }

  private async sendReceipt(
    chatId: string,
    kind: ReceiptKind,
    receipt: Receipt,
    messageId: string,
  ): Promise<void> {
    try {
      const message =
        kind === 'read'
          ? await this.api.markRead(messageId)
          : await this.api.markReceived(messageId);
      if (this.receipts.get(`${kind}:${chatId}`) !== receipt) return;
      receipt.sentId = messageId;
      receipt.sentSeq = Math.max(receipt.sentSeq, message.seq);
      this.upsertMessage(message);
      if (kind === 'read') this.recountUnread(chatId, message.seq);
    } catch {
      // Receipts are watermarks: the next one covers this one.
    }
  }

  /** After reading up to `readSeq`, what is still unread is in the window (it reaches the newest). */
  private recountUnread(chatId: string, readSeq: number): void {
    const chat = this.chats.get(chatId);
    if (!chat) return;
    const unread = this.windowMessages(chatId).filter(
      (m) => m.seq > readSeq && m.sender !== this.me && !m.deleted,
    ).length;
    if (unread !== chat.unread_count) {
      this.chats.set(chatId, { ...chat, unread_count: unread });
      this.emit();
    }
  }

  // Uploads

  uploadsOf(chatId: string): Upload[] {
    return this.uploads.get(chatId) ?? [];
  }

  addFiles(chatId: string, files: Iterable<File>): void {
    const list = [...this.uploadsOf(chatId)];
    for (const file of files) {
      if (list.length >= MAX_ATTACHMENTS) {
        this.showNotice(`At most ${MAX_ATTACHMENTS} attachments per message.`);
        break;
      }
      const id = randomId();
      const handle = this.api.uploadAttachment(chatId, file, (loaded) =>
        this.patchUpload(chatId, id, { loaded }),
      );
      list.push({
        id,
        chat_id: chatId,
        name: file.name,
        size: file.size,
        loaded: 0,
        state: 'uploading',
        abort: handle.abort,
      });
      handle.promise.then(
        (attachment) =>
          this.patchUpload(chatId, id, { state: 'done', attachment, loaded: file.size }),
        (error) => {
          if (error instanceof ApiError && error.code === 'aborted') return;
          if (error instanceof ApiError && error.status === 410) this.markChatDeleted(chatId);
          this.patchUpload(chatId, id, { state: 'failed', error: errorText(error) });
        },
      );
    }
    this.uploads.set(chatId, list);
    this.emit();
  }

  removeUpload(chatId: string, id: string): void {
    const list = this.uploadsOf(chatId);
    list.find((u) => u.id === id)?.abort();
    this.uploads.set(
      chatId,
      list.filter((u) => u.id !== id),
    );
    this.emit();
  }

  /** Hands the finished uploads to a message being sent and clears the tray. */
  takeUploads(chatId: string): Attachment[] {
    const done = this.uploadsOf(chatId).flatMap((u) => (u.attachment ? [u.attachment] : []));
    this.uploads.set(
      chatId,
      this.uploadsOf(chatId).filter((u) => !u.attachment),
    );
    this.emit();
    return done;
  }

  private patchUpload(chatId: string, id: string, patch: Partial<Upload>): void {
    const list = this.uploads.get(chatId);
    if (!list?.some((u) => u.id === id)) return;
    this.uploads.set(
      chatId,
      list.map((u) => (u.id === id ? { ...u, ...patch } : u)),
    );
    this.emit();
  }

  /** A fresh signed link for an attachment whose link expired. */
  async refreshAttachment(attachment: Attachment): Promise<Attachment> {
    return this.api.getAttachment(attachment.attachment_id);
  }

  // Real time

  /** Every loaded window resumes from its position; the chat list covers the other chats. */
  private resumePositions(): Record<string, number> {
    const positions: Record<string, number> = {};
    for (const [chatId, history] of this.histories) positions[chatId] = history.position;
    return positions;
  }

  private handleConnected(): void {
    void this.loadChats();
    for (const list of this.pending.values()) {
      for (const pending of list)
        if (pending.state === 'failed' && pending.retryable) this.retry(pending);
    }
  }

  private applyEvent(event: ServerEvent): void {
    switch (event.type) {
      case 'message.created':
      case 'message.updated':
      case 'message.deleted': {
        const message = this.upsertMessage(event.data);
        const history = this.histories.get(event.chat_id);
        if (history) {
          this.placeInWindow(message);
          history.position = Math.max(history.position, event.seq);
        }
        this.advanceChat(event.type, event.seq, message);
        if (event.type === 'message.created' && message.sender !== this.me && !message.deleted) {
          this.queueReceipt(event.chat_id, 'received', message.message_id, message.seq);
        }
        break;
      }
      case 'message.status': {
        const message = this.messages.get(event.data.message_id);
        if (message) this.raiseStatusMark(message, event.data.status);
        else if (this.histories.has(event.chat_id)) {
          const known = this.orphanStatus.get(event.data.message_id) ?? 'sent';
          this.orphanStatus.set(event.data.message_id, maxStatus(known, event.data.status));
        }
        break;
      }
      case 'chat.created':
      case 'chat.updated':
      case 'chat.deleted':
        if (event.data.participants.includes(this.me)) this.applyChat(event.data);
        else this.forgetChat(event.chat_id);
        break;
      case 'chat.removed':
        this.forgetChat(event.data.chat_id ?? event.chat_id);
        break;
    }
    this.emit();
  }

  /** Moves a chat's list fields (preview, activity, unread) forward by one change. */
  private advanceChat(type: ServerEvent['type'], seq: number, message: Message): void {
    const chat = this.chats.get(message.chat_id);
    if (!chat) {
      this.refreshChat(message.chat_id);
      return;
    }
    if (seq <= chat.last_seq) return;
    const next: Chat = { ...chat, last_seq: seq };
    if (type === 'message.created') {
      next.last_message = message.message_id;
      if (message.created > next.last_activity_timestamp) {
        next.last_activity_timestamp = message.created;
      }
      if (message.sender === this.me) next.unread_count = 0;
      else if (!message.deleted) next.unread_count += 1;
    } else if (type === 'message.deleted' && message.sender !== this.me && chat.unread_count > 0) {
      // Whether it was among the unread ones only the server knows.
      this.refreshChat(chat.chat_id);
    }
    this.chats.set(chat.chat_id, next);
  }
}
