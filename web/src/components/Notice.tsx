import { useStore } from '../hooks';

export function Notice() {
  const store = useStore();
  const notice = store.notice;
  if (!notice) return null;
  return (
    <div
      class={`notice notice-${notice.kind}`}
      data-testid="notice"
      role={notice.kind === 'error' ? 'alert' : 'status'}
    >
      <span>{notice.text}</span>
      <button
        type="button"
        class="icon-button"
        aria-label="Dismiss"
        onClick={() => store.dismissNotice()}
      >
        ×
      </button>
    </div>
  );
}
