import { useStore } from '../hooks';

const LABELS = {
  connecting: 'Connecting…',
  online: 'Online',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
} as const;

/** Live connection state: announced politely to screen readers when it changes. */
export function ConnectionStatus() {
  const store = useStore();
  const state = store.connection;
  return (
    <span
      class={`connection connection-${state}`}
      data-testid="connection-status"
      data-state={state}
      role="status"
      aria-live="polite"
    >
      <span class="connection-dot" aria-hidden="true" />
      {LABELS[state]}
    </span>
  );
}
