import { useState } from 'preact/hooks';
import type { User } from '../api';
import { chatHref, useStore } from '../hooks';
import { Dialog } from './Dialog';
import { UserPicker } from './UserPicker';

export function NewChatDialog({ onClose }: { onClose: () => void }) {
  const store = useStore();
  const [name, setName] = useState('');
  const [people, setPeople] = useState<User[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const toggle = (user: User) =>
    setPeople((list) =>
      list.some((u) => u.user_id === user.user_id)
        ? list.filter((u) => u.user_id !== user.user_id)
        : [...list, user],
    );

  const fallbackName = people.map((u) => u.display_name || u.username).join(', ');
  const submit = async (event: Event) => {
    event.preventDefault();
    const chatName = (name.trim() || fallbackName).slice(0, 100);
    if (!chatName) {
      setError('Give the chat a name or add someone.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const chat = await store.createChat(
        chatName,
        people.map((u) => u.user_id),
      );
      onClose();
      window.location.hash = chatHref(chat.chat_id);
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : 'Could not create the chat');
      setBusy(false);
    }
  };

  return (
    <Dialog title="New chat" testId="new-chat-dialog" onClose={onClose}>
      <form class="stack" onSubmit={submit}>
        <label class="field">
          <span>Chat name</span>
          <input
            data-testid="new-chat-name"
            maxLength={100}
            placeholder={fallbackName || 'Name'}
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </label>
        <UserPicker selected={people} exclude={[store.me]} onToggle={toggle} label="Add people" />
        {error && (
          <p class="form-error" role="alert">
            {error}
          </p>
        )}
        <div class="dialog-actions">
          <button type="button" class="button ghost" onClick={onClose}>
            Cancel
          </button>
          <button
            type="submit"
            class="button primary"
            data-testid="create-chat-submit"
            disabled={busy}
          >
            Create chat
          </button>
        </div>
      </form>
    </Dialog>
  );
}
