import { useEffect, useId, useState } from 'preact/hooks';
import type { User } from '../api';
import { useStore } from '../hooks';

/** Search users by name prefix and toggle them into a selection. */
export function UserPicker({
  selected,
  exclude,
  onToggle,
  label = 'Find people',
}: {
  selected: User[];
  exclude: string[];
  onToggle: (user: User) => void;
  label?: string;
}) {
  const store = useStore();
  const inputId = useId();
  const [query, setQuery] = useState('');
  const [results, setResults] = useState<User[]>([]);
  const [searching, setSearching] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const text = query.trim();
    if (!text) {
      setResults([]);
      setError(null);
      return;
    }
    let live = true;
    const timer = window.setTimeout(async () => {
      setSearching(true);
      try {
        const page = await store.api.searchUsers(text);
        store.rememberUsers(page.items);
        if (live) {
          setResults(page.items);
          setError(null);
        }
      } catch {
        if (live) setError('Search failed');
      } finally {
        if (live) setSearching(false);
      }
    }, 250);
    return () => {
      live = false;
      window.clearTimeout(timer);
    };
  }, [query, store]);

  const selectedIds = new Set(selected.map((u) => u.user_id));
  const shown = results.filter((u) => !exclude.includes(u.user_id));

  return (
    <div class="user-picker">
      <label class="field" for={inputId}>
        <span>{label}</span>
      </label>
      <input
        id={inputId}
        type="search"
        data-testid="user-search-input"
        placeholder="Username or name"
        autocomplete="off"
        value={query}
        onInput={(e) => setQuery(e.currentTarget.value)}
      />
      {selected.length > 0 && (
        <ul class="chips" aria-label="Selected people">
          {selected.map((user) => (
            <li key={user.user_id} class="chip" data-testid="selected-user">
              {user.display_name || user.username}
              <button
                type="button"
                class="icon-button"
                aria-label={`Remove ${user.display_name || user.username}`}
                onClick={() => onToggle(user)}
              >
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
      <div class="search-results" aria-live="polite">
        {searching && <p class="muted">Searching…</p>}
        {error && <p class="form-error">{error}</p>}
        {!searching && query.trim() && shown.length === 0 && !error && (
          <p class="muted">Nobody found.</p>
        )}
        <ul>
          {shown.map((user) => {
            const picked = selectedIds.has(user.user_id);
            return (
              <li key={user.user_id}>
                <button
                  type="button"
                  class={`user-result${picked ? ' picked' : ''}`}
                  data-testid="user-search-result"
                  data-user-id={user.user_id}
                  aria-pressed={picked}
                  onClick={() => onToggle(user)}
                >
                  <span>{user.display_name || user.username}</span>
                  <span class="muted">@{user.username}</span>
                </button>
              </li>
            );
          })}
        </ul>
      </div>
    </div>
  );
}
