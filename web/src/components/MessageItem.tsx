import type { Message, MessageStatus } from '../api';
import type { PendingMessage } from '../store';
import { formatFull, formatTime, messageSummary, wasEdited } from '../util';
import { AttachmentView } from './AttachmentView';
import { Icon } from './Icon';
import { Ticks } from './Ticks';

const URL_PATTERN = /(https?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]])/g;

/** Message text with web links clickable; the rest stays text (never HTML). */
function Linkified({ text }: { text: string }) {
  const parts = text.split(URL_PATTERN);
  return (
    <>
      {parts.map((part, index) =>
        index % 2 === 1 ? (
          <a key={index} href={part} target="_blank" rel="noopener noreferrer nofollow">
            {part}
          </a>
        ) : (
          part
        ),
      )}
    </>
  );
}

export interface ReplyInfo {
  messageId: string;
  target: Message | undefined;
  senderName: string;
}

function ReplyQuote({ reply, onJump }: { reply: ReplyInfo; onJump: (id: string) => void }) {
  const target = reply.target;
  const text = !target ? 'Loading…' : target.deleted ? 'message deleted' : messageSummary(target);
  return (
    <button
      type="button"
      class="reply-quote"
      data-testid="message-reply-quote"
      data-reply-to={reply.messageId}
      onClick={() => onJump(reply.messageId)}
      aria-label={`Reply to ${reply.senderName}: ${text}`}
    >
      <span class="reply-quote-name">{target ? reply.senderName : ''}</span>
      <span class="reply-quote-text">{text}</span>
    </button>
  );
}

export function MessageItem({
  message,
  status,
  own,
  senderName,
  reply,
  canEdit,
  canDelete,
  onReply,
  onEdit,
  onDelete,
  onJump,
}: {
  message: Message;
  status: MessageStatus;
  own: boolean;
  senderName: string | null;
  reply: ReplyInfo | null;
  canEdit: boolean;
  canDelete: boolean;
  onReply: (m: Message) => void;
  onEdit: (m: Message) => void;
  onDelete: (m: Message) => void;
  onJump: (id: string) => void;
}) {
  const deleted = message.deleted;
  return (
    <li
      class={`message${own ? ' own' : ''}${deleted ? ' deleted' : ''}`}
      data-testid="message-item"
      data-message-id={message.message_id}
      data-seq={message.seq}
      data-status={status}
      data-own={own ? 'true' : 'false'}
      data-deleted={deleted ? 'true' : 'false'}
    >
      <div class="bubble">
        {senderName && <div class="sender">{senderName}</div>}
        {deleted ? (
          <p class="content tombstone" data-testid="message-deleted">
            message deleted
          </p>
        ) : (
          <>
            {reply && <ReplyQuote reply={reply} onJump={onJump} />}
            {message.attachments.length > 0 && (
              <div class="attachments">
                {message.attachments.map((a) => (
                  <AttachmentView key={a.attachment_id} attachment={a} />
                ))}
              </div>
            )}
            {message.content && (
              <p class="content" data-testid="message-content">
                <Linkified text={message.content} />
              </p>
            )}
          </>
        )}
        <div class="meta">
          {message.updated && wasEdited(message) && !deleted && (
            <span class="edited" title={formatFull(message.updated)}>
              edited
            </span>
          )}
          <time dateTime={message.created} title={formatFull(message.created)}>
            {formatTime(message.created)}
          </time>
          {own && !deleted && <Ticks status={status} />}
        </div>
      </div>
      {!deleted && (
        <div class="message-actions">
          <button
            type="button"
            class="icon-button"
            data-testid="message-reply"
            aria-label="Reply"
            title="Reply"
            onClick={() => onReply(message)}
          >
            <Icon name="reply" />
          </button>
          {canEdit && (
            <button
              type="button"
              class="icon-button"
              data-testid="message-edit"
              aria-label="Edit"
              title="Edit"
              onClick={() => onEdit(message)}
            >
              <Icon name="edit" />
            </button>
          )}
          {canDelete && (
            <button
              type="button"
              class="icon-button"
              data-testid="message-delete"
              aria-label="Delete"
              title="Delete"
              onClick={() => onDelete(message)}
            >
              <Icon name="trash" />
            </button>
          )}
        </div>
      )}
    </li>
  );
}

export function PendingItem({
  pending,
  onRetry,
  onDiscard,
}: {
  pending: PendingMessage;
  onRetry: (p: PendingMessage) => void;
  onDiscard: (p: PendingMessage) => void;
}) {
  return (
    <li
      class="message own pending"
      data-testid="pending-message"
      data-client-message-id={pending.client_message_id}
      data-status={pending.state}
    >
      <div class="bubble">
        {pending.attachments.length > 0 && (
          <div class="attachments">
            {pending.attachments.map((a) => (
              <AttachmentView key={a.attachment_id} attachment={a} />
            ))}
          </div>
        )}
        {pending.content && (
          <p class="content">
            <Linkified text={pending.content} />
          </p>
        )}
        <div class="meta">
          <time dateTime={pending.created}>{formatTime(pending.created)}</time>
          <Ticks status={pending.state} />
        </div>
      </div>
      {pending.state === 'failed' && (
        <div class="pending-error" role="alert">
          <span>
            {pending.retryable ? 'Not sent yet — will retry when online.' : pending.error}
          </span>
          <button
            type="button"
            class="button small"
            data-testid="pending-retry"
            onClick={() => onRetry(pending)}
          >
            Retry
          </button>
          <button type="button" class="button ghost small" onClick={() => onDiscard(pending)}>
            Discard
          </button>
        </div>
      )}
    </li>
  );
}
