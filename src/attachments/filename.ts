const MAX_FILENAME_LENGTH = 255;
const FALLBACK_FILENAME = 'file';

// Control characters (C0, DEL, C1), bidirectional overrides, embeddings and isolates (they can
// make `gpj.exe` read as `exe.jpg`), the other invisible formatting marks that can hide or
// reorder text, line and paragraph separators, and lone surrogate halves (no valid UTF-8).
const UNSAFE_CHARACTERS =
  /[\p{Cc}\u061C\u180E\u200B-\u200F\u202A-\u202E\u2028\u2029\u2060-\u2069\uFEFF\uFFF9-\uFFFB]|\p{Cs}/gu;

/**
 * The client's file name made safe to store and show: only the last path segment (of `/` or
 * `\` paths), no control or bidi characters, no leading dots (no `..`, no hidden files), at
 * most 255 characters. It is only ever shown and put in Content-Disposition; storage keys never
 * derive from it.
 */
export function cleanFilename(raw: string | undefined): string {
  if (raw === undefined) return FALLBACK_FILENAME;
  const withoutUnsafe = raw
    .normalize('NFC')
    .replace(/[\t\n\v\f\r]/g, ' ')
    .replace(UNSAFE_CHARACTERS, '');
  const lastSegment = withoutUnsafe.split(/[/\\]/).pop() ?? '';
  const cleaned = lastSegment
    .replace(/\s+/gu, ' ')
    .trim()
    .replace(/^[.\s]+/u, '');
  if (cleaned === '') return FALLBACK_FILENAME;
  return truncateKeepingExtension(cleaned, MAX_FILENAME_LENGTH);
}

function truncateKeepingExtension(name: string, max: number): string {
  const characters = Array.from(name);
  if (characters.length <= max) return name;
  const dot = name.lastIndexOf('.');
  const extension = dot > 0 ? Array.from(name.slice(dot)) : [];
  if (extension.length > 0 && extension.length <= 16) {
    return characters.slice(0, max - extension.length).join('') + extension.join('');
  }
  return characters.slice(0, max).join('');
}

/**
 * `Content-Disposition` per RFC 6266: a quoted ASCII fallback for old clients and the exact
 * name as RFC 8187 `filename*` (UTF-8, percent-encoded).
 */
export function contentDisposition(kind: 'inline' | 'attachment', filename: string): string {
  const fallback = filename.replace(/[^\x20-\x7E]|["\\%]/g, '_').trim() || FALLBACK_FILENAME;
  return `${kind}; filename="${fallback}"; filename*=UTF-8''${encodeRfc8187(filename)}`;
}

/** Percent-encodes everything but RFC 8187's attr-char. */
function encodeRfc8187(value: string): string {
  return encodeURIComponent(value).replace(
    /['()*]/g,
    (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}
