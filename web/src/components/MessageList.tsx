import type { JSX } from 'preact';
import { useEffect, useLayoutEffect, useRef } from 'preact/hooks';
import type { Chat, Message } from '../api';
import { useStore } from '../hooks';
import type { ChatHistory, PendingMessage } from '../store';
import { dayKey, formatDay } from '../util';
import { MessageItem, PendingItem } from './MessageItem';

const NEAR_BOTTOM_PX = 48;
/** How far above the view the top of the history starts loading the older page. */
const OLDER_MARGIN_PX = 300;

/**
 * The scrolling history of one chat: loads older pages when its top comes into view, keeps
 * to the bottom while the reader is there, and reports the newest message actually visible
 * (on screen, page visible) so the store can mark it read.
 */
export function MessageList({
  chatId,
  chat,
  history,
  messages,
  pending,
  onReply,
  onEdit,
}: {
  chatId: string;
  chat: Chat | undefined;
  history: ChatHistory;
  messages: Message[];
  pending: PendingMessage[];
  onReply: (m: Message) => void;
  onEdit: (m: Message) => void;
}) {
  const store = useStore();
  const scroller = useRef<HTMLDivElement>(null);
  const content = useRef<HTMLOListElement>(null);
  const sentinel = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const olderRequested = useRef(false);
  /** The first message on the list and how far below the scroller's top it was, last seen. */
  const firstShown = useRef<{ id: string; offset: number } | null>(null);
  const visible = useRef(new Set<string>());
  const observed = useRef(new Set<Element>());
  const readObserver = useRef<IntersectionObserver | null>(null);
  const olderObserver = useRef<IntersectionObserver | null>(null);
  const latest = useRef({ messages, history });
  latest.current = { messages, history };
  const me = store.me;

  const offsetOf = (el: HTMLElement, root: HTMLElement) =>
    el.getBoundingClientRect().top - root.getBoundingClientRect().top;

  const messageElement = (messageId: string) =>
    scroller.current?.querySelector<HTMLElement>(`[data-message-id="${CSS.escape(messageId)}"]`);

  /** Only while an older page is on its way: nothing reads it otherwise. */
  const recordFirstShown = () => {
    if (!olderRequested.current) return;
    const root = scroller.current;
    const first = content.current?.querySelector<HTMLElement>('[data-message-id]');
    const id = first?.dataset.messageId;
    firstShown.current = root && first && id ? { id, offset: offsetOf(first, root) } : null;
  };

  const scrollToBottom = () => {
    const el = scroller.current;
    if (el) el.scrollTop = el.scrollHeight;
  };

  // The newest visible message of someone else, while the page is visible, gets read.
  const reportVisible = () => {
    if (document.visibilityState !== 'visible') return;
    let newest: Message | undefined;
    for (const message of latest.current.messages) {
      if (!visible.current.has(message.message_id)) continue;
      if (message.sender === me || message.deleted) continue;
      if (!newest || message.seq > newest.seq) newest = message;
    }
    if (newest) store.markVisible(newest);
  };

  /**
   * Whether the top of the history is within the observer's margin now. An observer's entry
   * can be older than the layout: the one taken before the first page scrolled to its end
   * arrives after, and must not load a page the reader never scrolled to.
   */
  const topNear = (root: HTMLElement) => {
    const top = sentinel.current;
    return (
      !!top &&
      top.getBoundingClientRect().bottom >= root.getBoundingClientRect().top - OLDER_MARGIN_PX
    );
  };

  const loadOlder = () => {
    const el = scroller.current;
    const h = latest.current.history;
    if (!el || !h.loaded || !h.hasMore || h.loadingOlder || !topNear(el)) return;
    olderRequested.current = true;
    recordFirstShown();
    void store.loadOlder(chatId).then(recheckTop);
  };

  /** Observing the top again reports whether it still shows: then load on. */
  const recheckTop = () => {
    const target = sentinel.current;
    if (target && olderObserver.current) {
      olderObserver.current.unobserve(target);
      olderObserver.current.observe(target);
    }
  };

  useEffect(() => {
    const root = scroller.current;
    if (!root) return;
    readObserver.current = new IntersectionObserver(
      (entries) => {
        const rootHeight = root.clientHeight;
        for (const entry of entries) {
          const id = (entry.target as HTMLElement).dataset.messageId;
          if (!id) continue;
          const seen =
            entry.isIntersecting &&
            (entry.intersectionRatio >= 0.5 || entry.intersectionRect.height >= rootHeight / 2);
          if (seen) visible.current.add(id);
          else visible.current.delete(id);
        }
        reportVisible();
      },
      { root, threshold: [0, 0.5, 1] },
    );
    olderObserver.current = new IntersectionObserver(
      (entries) => {
        if (entries.some((e) => e.isIntersecting)) loadOlder();
      },
      { root, rootMargin: `${OLDER_MARGIN_PX}px 0px 0px 0px` },
    );
    if (sentinel.current) olderObserver.current.observe(sentinel.current);
    const resize = new ResizeObserver(() => {
      if (atBottom.current) scrollToBottom();
    });
    if (content.current) resize.observe(content.current);
    resize.observe(root);
    const onVisibility = () => reportVisible();
    document.addEventListener('visibilitychange', onVisibility);
    window.addEventListener('focus', onVisibility);
    return () => {
      readObserver.current?.disconnect();
      olderObserver.current?.disconnect();
      resize.disconnect();
      document.removeEventListener('visibilitychange', onVisibility);
      window.removeEventListener('focus', onVisibility);
    };
  }, []);

  // Observe exactly the message elements on screen now.
  useEffect(() => {
    const observer = readObserver.current;
    const list = content.current;
    if (!observer || !list) return;
    const now = new Set<Element>(list.querySelectorAll('[data-message-id]'));
    for (const el of observed.current) {
      if (!now.has(el)) {
        observer.unobserve(el);
        const id = (el as HTMLElement).dataset.messageId;
        if (id) visible.current.delete(id);
      }
    }
    for (const el of now) if (!observed.current.has(el)) observer.observe(el);
    observed.current = now;
    // Unread may have risen while the newest message already showed.
    reportVisible();
  });

  // Once the first page is in, check the top again: a short page may leave it in view.
  useEffect(() => {
    if (history.loaded) recheckTop();
  }, [history.loaded]);

  const firstId = messages[0]?.message_id;
  const lastId = messages.at(-1)?.message_id;
  const lastOwn = messages.at(-1)?.sender === me;

  // Older page prepended: keep the same messages under the reader's eyes. The message that
  // was first goes back to where the reader last saw it, which is not where it was when the
  // page was asked for: they may have scrolled on while it loaded. Measured, not computed
  // from heights, so it holds whether or not the browser's own scroll anchoring moved it.
  useLayoutEffect(() => {
    const el = scroller.current;
    const seen = firstShown.current;
    if (!el || !olderRequested.current || !seen) return;
    olderRequested.current = false;
    const same = messageElement(seen.id);
    if (same) el.scrollTop += offsetOf(same, el) - seen.offset;
  }, [firstId]);

  // New messages at the end: follow them if the reader was at the bottom or just sent one.
  useLayoutEffect(() => {
    if (atBottom.current || lastOwn) scrollToBottom();
  }, [lastId, pending.length, history.loaded]);

  // After the effects above, and at every scroll while an older page loads: where the reader
  // sees the first message.
  useLayoutEffect(recordFirstShown);

  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < NEAR_BOTTOM_PX;
    recordFirstShown();
  };

  const jumpTo = (messageId: string) => {
    const el = messageElement(messageId);
    if (!el) return;
    el.scrollIntoView({ block: 'center', behavior: 'smooth' });
    el.classList.add('flash');
    window.setTimeout(() => el.classList.remove('flash'), 1200);
  };

  const group = (chat?.participants.length ?? 0) > 2;
  const isInitiator = chat?.initiator === me;
  const deletedChat = chat?.deleted ?? false;
  const items: JSX.Element[] = [];
  let previous: Message | undefined;
  for (const message of messages) {
    const day = dayKey(message.created);
    const newDay = !previous || dayKey(previous.created) !== day;
    if (newDay) {
      items.push(
        <li key={`day-${day}`} class="day-separator" aria-hidden="true">
          <span>{formatDay(message.created)}</span>
        </li>,
      );
    }
    const own = message.sender === me;
    const showSender = group && !own && (newDay || previous?.sender !== message.sender);
    const replyId = message.reply_to;
    const target = replyId ? store.message(replyId) : undefined;
    items.push(
      <MessageItem
        key={message.message_id}
        message={message}
        status={store.statusOf(message)}
        own={own}
        senderName={showSender ? store.userName(message.sender) : null}
        reply={
          replyId
            ? {
                messageId: replyId,
                target,
                senderName: target ? store.userName(target.sender) : '',
              }
            : null
        }
        canEdit={own && !deletedChat}
        canDelete={(own || isInitiator) && !deletedChat}
        onReply={onReply}
        onEdit={onEdit}
        onDelete={(m) => {
          if (window.confirm('Delete this message for everyone?')) void store.remove(m);
        }}
        onJump={jumpTo}
      />,
    );
    previous = message;
  }

  return (
    <div
      class="message-scroller"
      ref={scroller}
      onScroll={onScroll}
      data-testid="message-list"
      role="log"
      aria-label="Messages"
    >
      <div ref={sentinel} class="history-top" data-testid="history-top">
        {history.loadingOlder ? (
          <p class="muted">Loading older messages…</p>
        ) : history.loaded && !history.hasMore ? (
          <p class="muted">Beginning of the conversation</p>
        ) : null}
      </div>
      {!history.loaded && !history.error && <p class="muted center">Loading messages…</p>}
      {history.error && (
        <p class="form-error center" role="alert">
          {history.error}{' '}
          <button type="button" class="button small" onClick={() => store.openChat(chatId)}>
            Try again
          </button>
        </p>
      )}
      <ol class="messages" ref={content}>
        {items}
        {pending.map((p) => (
          <PendingItem
            key={p.client_message_id}
            pending={p}
            onRetry={(x) => store.retry(x)}
            onDiscard={(x) => store.discard(x)}
          />
        ))}
      </ol>
    </div>
  );
}
