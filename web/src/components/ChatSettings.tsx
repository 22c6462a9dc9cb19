import { useState } from 'preact/hooks';
import type { Chat, User } from '../api';
import { goToList, useStore } from '../hooks';
import { Dialog } from './Dialog';
import { UserPicker } from './UserPicker';

function message(error: unknown): string {
  return error instanceof Error ? error.message : 'Something went wrong';
}

export function ChatSettings({ chat, onClose }: { chat: Chat; onClose: () => void }) {
  const store = useStore();
  const me = store.me;
  const isInitiator = chat.initiator === me;
  const editable = isInitiator && !chat.deleted;
  const [name, setName] = useState(chat.name);
  const [adding, setAdding] = useState<User[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const run = async (action: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (caught) {
      setError(message(caught));
    } finally {
      setBusy(false);
    }
  };

  const rename = (event: Event) => {
    event.preventDefault();
    const next = name.trim();
    if (!next || next === chat.name) return;
    void run(() => store.renameChat(chat.chat_id, next));
  };

  const addPeople = () =>
    run(async () => {
      await store.addParticipants(
        chat.chat_id,
        adding.map((u) => u.user_id),
      );
      setAdding([]);
    });

  const leave = () => {
    if (!window.confirm(`Leave “${chat.name}”?`)) return;
    void run(async () => {
      await store.removeParticipant(chat.chat_id, me);
      onClose();
      goToList();
    });
  };

  const remove = () => {
    if (!window.confirm(`Delete “${chat.name}” for everyone? History stays readable.`)) return;
    void run(async () => {
      await store.deleteChat(chat.chat_id);
      onClose();
    });
  };

  return (
    <Dialog title="Chat info" testId="chat-settings" onClose={onClose}>
      <div class="stack">
        {editable ? (
          <form class="inline-form" onSubmit={rename}>
            <label class="field grow">
              <span>Chat name</span>
              <input
                data-testid="chat-rename-input"
                required
                maxLength={100}
                value={name}
                onInput={(e) => setName(e.currentTarget.value)}
              />
            </label>
            <button
              type="submit"
              class="button"
              data-testid="chat-rename-submit"
              disabled={busy || !name.trim() || name.trim() === chat.name}
            >
              Rename
            </button>
          </form>
        ) : (
          <p>
            <strong>{chat.name}</strong>
            {chat.deleted && <span class="muted"> (deleted)</span>}
          </p>
        )}

        <section aria-labelledby="participants-title">
          <h3 id="participants-title">Participants ({chat.participants.length})</h3>
          <ul class="participants">
            {chat.participants.map((id) => (
              <li key={id} data-testid="participant-item" data-user-id={id}>
                <span>
                  {store.userName(id)}
                  {id === me && <span class="muted"> (you)</span>}
                  {id === chat.initiator && <span class="muted"> · creator</span>}
                </span>
                {editable && id !== me && (
                  <button
                    type="button"
                    class="button ghost small"
                    data-testid="participant-remove"
                    disabled={busy}
                    onClick={() => run(() => store.removeParticipant(chat.chat_id, id))}
                  >
                    Remove
                  </button>
                )}
              </li>
            ))}
          </ul>
        </section>

        {editable && (
          <section class="stack" aria-label="Add participants">
            <UserPicker
              selected={adding}
              exclude={chat.participants}
              label="Add participants"
              onToggle={(user) =>
                setAdding((list) =>
                  list.some((u) => u.user_id === user.user_id)
                    ? list.filter((u) => u.user_id !== user.user_id)
                    : [...list, user],
                )
              }
            />
            <button
              type="button"
              class="button"
              data-testid="add-participants-submit"
              disabled={busy || adding.length === 0}
              onClick={addPeople}
            >
              Add {adding.length || ''} to chat
            </button>
          </section>
        )}

        {error && (
          <p class="form-error" role="alert">
            {error}
          </p>
        )}

        <div class="dialog-actions">
          <button
            type="button"
            class="button danger ghost"
            data-testid="leave-chat-button"
            disabled={busy}
            onClick={leave}
          >
            Leave chat
          </button>
          {editable && (
            <button
              type="button"
              class="button danger"
              data-testid="delete-chat-button"
              disabled={busy}
              onClick={remove}
            >
              Delete chat
            </button>
          )}
        </div>
      </div>
    </Dialog>
  );
}
