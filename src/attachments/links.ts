import { createHmac, timingSafeEqual } from 'node:crypto';

export interface SignedLink {
  expires: number;
  signature: string;
}

/**
 * Attachment links must work in `<img src>` without an Authorization header, so they carry
 * their own proof: an HMAC over the attachment id and the expiry time.
 */
export class AttachmentLinkSigner {
  readonly #key: Buffer;

  constructor(
    secret: string,
    readonly ttlSeconds: number,
  ) {
    // A key of its own, derived from the server secret, so a link signature can never be
    // replayed as anything else.
    this.#key = createHmac('sha256', secret).update('attachment-links').digest();
  }

  #sign(attachmentId: string, expires: number): string {
    return createHmac('sha256', this.#key).update(`${attachmentId}.${expires}`).digest('base64url');
  }

  /** A relative URL; the server's origin completes it. */
  url(attachmentId: string, now = Date.now()): string {
    const expires = Math.floor(now / 1000) + this.ttlSeconds;
    const signature = this.#sign(attachmentId, expires);
    return `/attachments/${attachmentId}/content?expires=${expires}&signature=${signature}`;
  }

  verify(attachmentId: string, link: SignedLink, now = Date.now()): boolean {
    if (!Number.isSafeInteger(link.expires) || link.expires * 1000 < now) return false;
    const expected = Buffer.from(this.#sign(attachmentId, link.expires));
    const actual = Buffer.from(link.signature);
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  }
}
