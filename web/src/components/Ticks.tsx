import type { MessageStatus } from '../api';

export type TickState = MessageStatus | 'sending' | 'failed';

const LABELS: Record<TickState, string> = {
  sending: 'Sending',
  failed: 'Not sent',
  sent: 'Sent',
  received: 'Delivered',
  read: 'Read',
};

/** Delivery state of one's own message: ✓ sent, ✓✓ received, coloured ✓✓ read. */
export function Ticks({ status }: { status: TickState }) {
  return (
    <span
      class={`ticks ticks-${status}`}
      data-testid="message-ticks"
      data-status={status}
      role="img"
      aria-label={LABELS[status]}
      title={LABELS[status]}
    >
      {status === 'sending' ? (
        <svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
          <circle cx="8" cy="8" r="6" fill="none" stroke="currentColor" stroke-width="1.5" />
          <path d="M8 4.5V8l2.5 1.5" fill="none" stroke="currentColor" stroke-width="1.5" />
        </svg>
      ) : status === 'failed' ? (
        <svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
          <circle cx="8" cy="8" r="6.5" fill="currentColor" />
          <path d="M8 4.5v4.5M8 11v.5" stroke="#fff" stroke-width="1.8" stroke-linecap="round" />
        </svg>
      ) : (
        <svg viewBox="0 0 20 16" width="18" height="14" aria-hidden="true">
          <path
            d="M1.5 8.5l3.5 3.5 7-8"
            fill="none"
            stroke="currentColor"
            stroke-width="1.8"
            stroke-linecap="round"
            stroke-linejoin="round"
          />
          {status !== 'sent' && (
            <path
              d="M8.5 11l1 1 7-8"
              fill="none"
              stroke="currentColor"
              stroke-width="1.8"
              stroke-linecap="round"
              stroke-linejoin="round"
            />
          )}
        </svg>
      )}
    </span>
  );
}
