import { useEffect, useRef, useState } from 'preact/hooks';
import type { Message } from '../api';
import { useStore } from '../hooks';
import { ChatSettings } from './ChatSettings';
import { Composer } from './Composer';
import { MessageList } from './MessageList';

export function ChatView({ chatId }: { chatId: string }) {
  const store = useStore();
  const [replyId, setReplyId] = useState<string | null>(null);
  const [editId, setEditId] = useState<string | null>(null);
  const [settingsOpen, setSettingsOpen] = useState(false);
  const [dragging, setDragging] = useState(false);
  const dragDepth = useRef(0);

  useEffect(() => {
    store.ensureChat(chatId);
    void store.openChat(chatId);
  }, [chatId, store]);

  const chat = store.chats.get(chatId);
  const history = store.history(chatId);
  const deleted = chat?.deleted ?? false;
  const live = (id: string | null): Message | null => {
    const message = id ? store.messages.get(id) : undefined;
    return message && !message.deleted ? message : null;
  };
  const replyTo = live(replyId);
  const editing = live(editId);

  if (!chat && !history) {
    return (
      <section class="chat-view">
        <div class="empty-state">
          <p>This chat is not available.</p>
          <a class="button" href="#/">
            Back to chats
          </a>
        </div>
      </section>
    );
  }

  const hasFiles = (event: DragEvent) => event.dataTransfer?.types.includes('Files') ?? false;
  const dropEnabled = !deleted && !editing;

  return (
    <section
      class={`chat-view${dragging ? ' dragging' : ''}`}
      data-testid="chat-view"
      data-chat-id={chatId}
      aria-labelledby="chat-title"
      onDragEnter={(e) => {
        if (!dropEnabled || !hasFiles(e)) return;
        e.preventDefault();
        dragDepth.current += 1;
        setDragging(true);
      }}
      onDragOver={(e) => {
        if (!dropEnabled || !hasFiles(e)) return;
        e.preventDefault();
        if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
      }}
      onDragLeave={() => {
        dragDepth.current = Math.max(0, dragDepth.current - 1);
        if (dragDepth.current === 0) setDragging(false);
      }}
      onDrop={(e) => {
        dragDepth.current = 0;
        setDragging(false);
        if (!dropEnabled || !e.dataTransfer?.files.length) return;
        e.preventDefault();
        store.addFiles(chatId, e.dataTransfer.files);
      }}
    >
      <header class="chat-head">
        <a class="icon-button back" href="#/" data-testid="back-to-list" aria-label="Back to chats">
          ←
        </a>
        <div class="chat-head-title">
          <h2 id="chat-title" data-testid="chat-title">
            {chat?.name ?? 'Chat'}
          </h2>
          {chat && (
            <span class="muted">
              {chat.participants.length} participant{chat.participants.length === 1 ? '' : 's'}
            </span>
          )}
        </div>
        {chat && (
          <button
            type="button"
            class="button ghost small"
            data-testid="chat-settings-button"
            aria-haspopup="dialog"
            onClick={() => setSettingsOpen(true)}
          >
            Chat info
          </button>
        )}
      </header>
      {deleted && (
        <p class="banner" data-testid="chat-deleted-banner">
          This chat was deleted. Its history stays readable.
        </p>
      )}
      {history && (
        <MessageList
          chatId={chatId}
          chat={chat}
          history={history}
          messages={store.windowMessages(chatId)}
          pending={store.pendingOf(chatId)}
          onReply={(m) => {
            setEditId(null);
            setReplyId(m.message_id);
          }}
          onEdit={(m) => {
            setReplyId(null);
            setEditId(m.message_id);
          }}
        />
      )}
      {chat && (
        <Composer
          chatId={chatId}
          disabled={deleted}
          replyTo={replyTo}
          editing={editing}
          onCancel={() => {
            setReplyId(null);
            setEditId(null);
          }}
          onDone={() => {
            setReplyId(null);
            setEditId(null);
          }}
        />
      )}
      {dragging && (
        <div class="drop-overlay" aria-hidden="true">
          Drop files to attach
        </div>
      )}
      {settingsOpen && chat && <ChatSettings chat={chat} onClose={() => setSettingsOpen(false)} />}
    </section>
  );
}
