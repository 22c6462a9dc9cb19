import { useRef, useState } from 'preact/hooks';
import type { Attachment } from '../api';
import { useStore } from '../hooks';
import { formatSize } from '../util';
import { Icon } from './Icon';

const STALE_AFTER_MS = 30 * 60 * 1000;

/**
 * One attachment: inline image, audio or video player, or a download link. Signed links
 * expire; the first load error fetches a fresh one.
 */
export function AttachmentView({ attachment }: { attachment: Attachment }) {
  const store = useStore();
  const [current, setCurrent] = useState(attachment);
  const [refreshed, setRefreshed] = useState(false);
  const shownAt = useRef(Date.now());

  const onError = () => {
    if (refreshed) return;
    setRefreshed(true);
    store.refreshAttachment(current).then(setCurrent, () => undefined);
  };
  // A download link shown long ago may have expired: get a fresh one before following it.
  const onDownload = (event: MouseEvent) => {
    if (Date.now() - shownAt.current < STALE_AFTER_MS) return;
    event.preventDefault();
    const link = event.currentTarget as HTMLAnchorElement;
    store.refreshAttachment(current).then(
      (fresh) => {
        shownAt.current = Date.now();
        setCurrent(fresh);
        link.href = fresh.url;
        link.click();
      },
      () => {
        shownAt.current = Date.now();
        link.click();
      },
    );
  };
  const common = {
    'data-testid': 'message-attachment',
    'data-attachment-id': current.attachment_id,
    'data-content-type': current.content_type,
  };

  switch (current.content_type) {
    case 'image':
      return (
        <a
          {...common}
          class="attachment attachment-image"
          href={current.url}
          target="_blank"
          rel="noopener noreferrer"
        >
          <img src={current.url} alt={current.filename} loading="lazy" onError={onError} />
        </a>
      );
    case 'audio':
      return (
        <figure {...common} class="attachment attachment-audio">
          {/* biome-ignore lint/a11y/useMediaCaption: user uploads come without captions */}
          <audio controls preload="metadata" src={current.url} onError={onError} />
          <figcaption>{current.filename}</figcaption>
        </figure>
      );
    case 'video':
      return (
        <figure {...common} class="attachment attachment-video">
          {/* biome-ignore lint/a11y/useMediaCaption: user uploads come without captions */}
          <video controls preload="metadata" src={current.url} onError={onError} />
          <figcaption>{current.filename}</figcaption>
        </figure>
      );
    default:
      return (
        <a
          {...common}
          class="attachment attachment-file"
          href={current.url}
          download={current.filename}
          rel="noopener noreferrer"
          onClick={onDownload}
        >
          <Icon name="file" />
          <span class="attachment-name">{current.filename}</span>
          <span class="muted">{formatSize(current.size)}</span>
        </a>
      );
  }
}
