import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { Message } from '../api';
import { useStore } from '../hooks';
import { MAX_ATTACHMENTS } from '../store';
import { formatSize, messageSummary } from '../util';
import { Icon } from './Icon';

const MAX_CONTENT = 4096;

export function Composer({
  chatId,
  disabled,
  replyTo,
  editing,
  onCancel,
  onDone,
}: {
  chatId: string;
  disabled: boolean;
  replyTo: Message | null;
  editing: Message | null;
  /** Leave reply or edit mode. */
  onCancel: () => void;
  /** A message was sent or edited. */
  onDone: () => void;
}) {
  const store = useStore();
  const [text, setText] = useState('');
  const [draft, setDraft] = useState('');
  const textarea = useRef<HTMLTextAreaElement>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const uploads = store.uploadsOf(chatId);
  const uploading = uploads.some((u) => u.state === 'uploading');
  const ready = uploads.filter((u) => u.state === 'done').length;

  // Editing swaps the draft for the message's text, and back on cancel.
  const editingId = editing?.message_id;
  const wasEditing = useRef<string | undefined>(undefined);
  useLayoutEffect(() => {
    const before = wasEditing.current;
    wasEditing.current = editingId;
    if (before === editingId) return;
    // Keep the unsent draft aside while editing; bring it back after.
    if (!before) setDraft(text);
    setText(editing ? editing.content : draft);
    textarea.current?.focus();
  }, [editingId]);

  useEffect(() => {
    if (replyTo) textarea.current?.focus();
  }, [replyTo]);

  // Grow with the text up to a few lines.
  useLayoutEffect(() => {
    const el = textarea.current;
    if (!el) return;
    el.style.height = 'auto';
    el.style.height = `${Math.min(el.scrollHeight, 160)}px`;
  }, [text]);

  const canSend = !disabled && !uploading && (editing ? true : text.trim().length > 0 || ready > 0);

  const submit = (event?: Event) => {
    event?.preventDefault();
    if (!canSend) return;
    const content = text.trim();
    if (editing) {
      if (content !== editing.content) void store.edit(editing, content);
    } else {
      store.send(chatId, content, replyTo?.message_id ?? null, store.takeUploads(chatId));
    }
    setText('');
    setDraft('');
    onDone();
    textarea.current?.focus();
  };

  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    } else if (event.key === 'Escape' && (editing || replyTo)) {
      event.preventDefault();
      onCancel();
    }
  };

  const onPaste = (event: ClipboardEvent) => {
    const files = event.clipboardData?.files;
    if (!editing && files && files.length > 0) {
      event.preventDefault();
      store.addFiles(chatId, files);
    }
  };

  return (
    <form class="composer" data-testid="composer" onSubmit={submit} aria-label="Write a message">
      {(replyTo || editing) && (
        <div class="composer-context" data-testid={editing ? 'composer-editing' : 'composer-reply'}>
          <div class="composer-context-text">
            <strong>
              {editing ? 'Editing message' : `Reply to ${store.userName(replyTo?.sender ?? '')}`}
            </strong>
            <span>{messageSummary((editing ?? replyTo) as Message)}</span>
          </div>
          <button
            type="button"
            class="icon-button"
            data-testid="composer-cancel"
            aria-label={editing ? 'Cancel editing' : 'Cancel reply'}
            onClick={onCancel}
          >
            ×
          </button>
        </div>
      )}
      {!editing && uploads.length > 0 && (
        <ul class="uploads" aria-label="Attachments to send">
          {uploads.map((upload) => (
            <li
              key={upload.id}
              class={`upload upload-${upload.state}`}
              data-testid="upload-item"
              data-state={upload.state}
            >
              <span class="upload-name" title={upload.name}>
                {upload.name}
              </span>
              <span class="muted">{formatSize(upload.size)}</span>
              {upload.state === 'uploading' && (
                <progress
                  data-testid="upload-progress"
                  max={upload.size || 1}
                  value={upload.loaded}
                  aria-label={`Uploading ${upload.name}`}
                />
              )}
              {upload.state === 'failed' && (
                <span class="form-error" role="alert">
                  {upload.error}
                </span>
              )}
              <button
                type="button"
                class="icon-button"
                data-testid="upload-remove"
                aria-label={`Remove ${upload.name}`}
                onClick={() => store.removeUpload(chatId, upload.id)}
              >
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
      <div class="composer-row">
        {!editing && (
          <>
            <input
              ref={fileInput}
              type="file"
              multiple
              hidden
              data-testid="attachment-input"
              aria-label="Attach files"
              onChange={(e) => {
                const input = e.currentTarget;
                if (input.files?.length) store.addFiles(chatId, input.files);
                input.value = '';
              }}
            />
            <button
              type="button"
              class="icon-button attach"
              data-testid="attachment-button"
              aria-label="Attach files"
              title={`Attach files (up to ${MAX_ATTACHMENTS})`}
              disabled={disabled || uploads.length >= MAX_ATTACHMENTS}
              onClick={() => fileInput.current?.click()}
            >
              <Icon name="attach" size={20} />
            </button>
          </>
        )}
        <label class="visually-hidden" for={`composer-input-${chatId}`}>
          Message
        </label>
        <textarea
          id={`composer-input-${chatId}`}
          ref={textarea}
          data-testid="composer-input"
          rows={1}
          maxLength={MAX_CONTENT}
          placeholder={disabled ? 'This chat was deleted' : 'Message'}
          disabled={disabled}
          value={text}
          onInput={(e) => setText(e.currentTarget.value)}
          onKeyDown={onKeyDown}
          onPaste={onPaste}
        />
        <button
          type="submit"
          class="button primary send"
          data-testid="send-button"
          disabled={!canSend}
          title={uploading ? 'Waiting for uploads to finish' : undefined}
        >
          {editing ? 'Save' : 'Send'}
        </button>
      </div>
    </form>
  );
}
