import { useEffect } from 'preact/hooks';
import { useChatRoute, useStoreUpdates } from '../hooks';
import { AuthScreen } from './AuthScreen';
import { ChatList } from './ChatList';
import { ChatView } from './ChatView';
import { ConnectionStatus } from './ConnectionStatus';
import { Notice } from './Notice';

export function App() {
  const store = useStoreUpdates();
  const chatId = useChatRoute();
  const session = store.session;

  const unread = session
    ? [...store.chats.values()].reduce((sum, chat) => sum + chat.unread_count, 0)
    : 0;
  useEffect(() => {
    document.title = unread > 0 ? `(${unread}) Messenger` : 'Messenger';
  }, [unread]);

  if (!session) {
    return (
      <>
        <AuthScreen />
        <Notice />
      </>
    );
  }

  return (
    <div class="shell" data-pane={chatId ? 'chat' : 'list'}>
      <header class="topbar">
        <span class="brand" aria-hidden="true">
          Messenger
        </span>
        <ConnectionStatus />
        <span class="me" data-testid="current-user" title={`@${session.user.username}`}>
          {session.user.display_name || session.user.username}
        </span>
        <button
          type="button"
          class="button ghost"
          data-testid="sign-out-button"
          onClick={() => store.signOut()}
        >
          Sign out
        </button>
      </header>
      <ChatList selectedId={chatId} />
      <main class="main" aria-label="Conversation">
        {chatId ? (
          <ChatView key={chatId} chatId={chatId} />
        ) : (
          <div class="empty-state">
            <p>Select a chat or start a new one.</p>
          </div>
        )}
      </main>
      <Notice />
    </div>
  );
}
