import { createHmac, timingSafeEqual } from 'node:crypto';

export interface SignedLink {
  expires: number;
  signature: string;
}

/** What a link opens: the attachment's bytes, or its preview image. */
export type LinkPurpose = 'content' | 'preview';

/**
 * Attachment links must work in `<img src>` without an Authorization header, so they carry
 * their own proof: an HMAC over the attachment id and the expiry time.
 */
export class AttachmentLinkSigner {
  readonly #keys: Record<LinkPurpose, Buffer>;

  constructor(
    secret: string,
    readonly ttlSeconds: number,
  ) {
    // Keys of their own, derived from the server secret, so a link signature can never be
    // replayed as anything else: not as a token, and a content link not as a preview link
    // (nor the other way round).
    const derive = (label: string) => createHmac('sha256', secret).update(label).digest();
    this.#keys = {
      content: derive('attachment-links'),
      preview: derive('attachment-preview-links'),
    };
  }

  #sign(purpose: LinkPurpose, attachmentId: string, expires: number): string {
    return createHmac('sha256', this.#keys[purpose])
      .update(`${attachmentId}.${expires}`)
      .digest('base64url');
  }

  #url(purpose: LinkPurpose, attachmentId: string, now: number): string {
    const expires = Math.floor(now / 1000) + this.ttlSeconds;
    const signature = this.#sign(purpose, attachmentId, expires);
    return `/attachments/${attachmentId}/${purpose}?expires=${expires}&signature=${signature}`;
  }

  /** A relative URL of the bytes; the server's origin completes it. */
  url(attachmentId: string, now = Date.now()): string {
    return this.#url('content', attachmentId, now);
  }

  /** A relative URL of the preview image. */
  previewUrl(attachmentId: string, now = Date.now()): string {
    return this.#url('preview', attachmentId, now);
  }

  verify(
    attachmentId: string,
    link: SignedLink,
    now = Date.now(),
    purpose: LinkPurpose = 'content',
  ): boolean {
    if (!Number.isSafeInteger(link.expires) || link.expires * 1000 < now) return false;
    const expected = Buffer.from(this.#sign(purpose, attachmentId, link.expires));
    const actual = Buffer.from(link.signature);
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  }
}
