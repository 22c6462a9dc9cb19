import { useState } from 'preact/hooks';
import { ApiError } from '../api';
import { useStore } from '../hooks';

type Mode = 'signin' | 'signup';

function describe(error: unknown, mode: Mode): string {
  if (!(error instanceof ApiError)) return 'Something went wrong. Please try again.';
  if (error.isNetwork) return 'The server cannot be reached. Check your connection.';
  if (error.status === 401) return 'Wrong username or password.';
  if (error.status === 409) return 'That username is taken.';
  if (error.status === 429) {
    return `Too many attempts. Try again${error.retryAfter ? ` in ${error.retryAfter} s` : ' later'}.`;
  }
  if (error.status === 422 && mode === 'signup') return `Check the fields: ${error.message}`;
  return error.message;
}

export function AuthScreen() {
  const store = useStore();
  const [mode, setMode] = useState<Mode>('signin');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const signup = mode === 'signup';

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (signup) await store.signUp(username.trim(), password, displayName.trim());
      else await store.signIn(username.trim(), password);
    } catch (caught) {
      setError(describe(caught, mode));
      setBusy(false);
    }
  };

  return (
    <main class="auth">
      <form
        class="auth-card"
        data-testid="login-form"
        data-mode={mode}
        onSubmit={submit}
        aria-labelledby="auth-title"
      >
        <h1 id="auth-title">{signup ? 'Create an account' : 'Sign in to Messenger'}</h1>
        <label class="field">
          <span>Username</span>
          <input
            name="username"
            data-testid="login-username"
            autocomplete="username"
            autocapitalize="none"
            spellcheck={false}
            required
            minLength={signup ? 3 : undefined}
            maxLength={32}
            pattern={signup ? '[A-Za-z0-9_.\\-]{3,32}' : undefined}
            title={signup ? '3 to 32 letters, digits, _ . or -' : undefined}
            value={username}
            onInput={(e) => setUsername(e.currentTarget.value)}
          />
        </label>
        {signup && (
          <label class="field">
            <span>Display name (optional)</span>
            <input
              name="display_name"
              data-testid="login-display-name"
              autocomplete="name"
              maxLength={100}
              value={displayName}
              onInput={(e) => setDisplayName(e.currentTarget.value)}
            />
          </label>
        )}
        <label class="field">
          <span>Password</span>
          <input
            name="password"
            type="password"
            data-testid="login-password"
            autocomplete={signup ? 'new-password' : 'current-password'}
            required
            minLength={signup ? 8 : undefined}
            maxLength={128}
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        {error && (
          <p class="form-error" role="alert" data-testid="auth-error">
            {error}
          </p>
        )}
        <button type="submit" class="button primary" data-testid="login-submit" disabled={busy}>
          {busy ? 'Please wait…' : signup ? 'Sign up' : 'Sign in'}
        </button>
        <button
          type="button"
          class="button link"
          data-testid="auth-mode-toggle"
          onClick={() => {
            setMode(signup ? 'signin' : 'signup');
            setError(null);
          }}
        >
          {signup ? 'Have an account? Sign in' : 'New here? Create an account'}
        </button>
      </form>
    </main>
  );
}
