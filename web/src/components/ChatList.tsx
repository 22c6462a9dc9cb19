import { useState } from 'preact/hooks';
import type { Chat } from '../api';
import { chatHref, useStore } from '../hooks';
import type { Store } from '../store';
import { formatShort, messageSummary } from '../util';
import { NewChatDialog } from './NewChatDialog';

function previewOf(store: Store, chat: Chat): string {
  if (!chat.last_message) return 'No messages yet';
  const message = store.message(chat.last_message);
  if (!message) return '…';
  if (message.deleted) return 'message deleted';
  const who =
    message.sender === store.me
      ? 'You: '
      : chat.participants.length > 2
        ? `${store.userName(message.sender)}: `
        : '';
  return who + messageSummary(message);
}

export function ChatList({ selectedId }: { selectedId: string | null }) {
  const store = useStore();
  const [creating, setCreating] = useState(false);
  const chats = store.chatList();

  return (
    <nav class="sidebar" aria-label="Chats">
      <div class="sidebar-head">
        <h2>Chats</h2>
        <button
          type="button"
          class="button primary small"
          data-testid="new-chat-button"
          onClick={() => setCreating(true)}
        >
          New chat
        </button>
      </div>
      {!store.chatsLoaded && chats.length === 0 ? (
        <p class="muted pad">Loading chats…</p>
      ) : chats.length === 0 ? (
        <p class="muted pad" data-testid="chat-list-empty">
          No chats yet. Start one with “New chat”.
        </p>
      ) : null}
      <ul class="chat-list" data-testid="chat-list">
        {chats.map((chat) => {
          const selected = chat.chat_id === selectedId;
          return (
            <li key={chat.chat_id}>
              <a
                class={`chat-item${selected ? ' selected' : ''}${chat.deleted ? ' deleted' : ''}`}
                href={chatHref(chat.chat_id)}
                data-testid="chat-list-item"
                data-chat-id={chat.chat_id}
                data-unread={chat.unread_count}
                aria-current={selected ? 'page' : undefined}
              >
                <span class="chat-item-top">
                  <span class="chat-name" data-testid="chat-name">
                    {chat.name}
                  </span>
                  <time class="chat-time" dateTime={chat.last_activity_timestamp}>
                    {formatShort(chat.last_activity_timestamp)}
                  </time>
                </span>
                <span class="chat-item-bottom">
                  <span class="chat-preview" data-testid="chat-last-message">
                    {chat.deleted ? 'Chat deleted' : previewOf(store, chat)}
                  </span>
                  {chat.unread_count > 0 && (
                    <span class="badge" data-testid="chat-unread-badge">
                      {chat.unread_count > 99 ? '99+' : chat.unread_count}
                      <span class="visually-hidden"> unread</span>
                    </span>
                  )}
                </span>
              </a>
            </li>
          );
        })}
      </ul>
      {store.chatsHasMore && (
        <button type="button" class="button ghost wide" onClick={() => store.loadChats(true)}>
          Load more chats
        </button>
      )}
      {creating && <NewChatDialog onClose={() => setCreating(false)} />}
    </nav>
  );
}
