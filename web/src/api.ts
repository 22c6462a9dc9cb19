// Typed HTTP client for the messenger API (shared/contract/API.md, sections 2 to 6).
// Same origin: every path is absolute from the server root, where the app is served too.

export type MessageStatus = 'sent' | 'received' | 'read';
export type ContentType = 'image' | 'audio' | 'video' | 'file';

export interface User {
  user_id: string;
  username: string;
  display_name: string;
  created: string;
}

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
}

export interface Chat {
  chat_id: string;
  name: string;
  initiator: string;
  participants: string[];
  last_message: string | null;
  last_activity_timestamp: string;
  deleted: boolean;
  created: string;
  last_seq: number;
  unread_count: number;
}

export interface Attachment {
  attachment_id: string;
  chat_id: string;
  uploader: string;
  uploaded: string;
  url: string;
  filename: string;
  content_type: ContentType;
  mime_type: string;
  size: number;
}

export interface Message {
  message_id: string;
  chat_id: string;
  sender: string;
  reply_to: string | null;
  content: string;
  attachments: Attachment[];
  status: MessageStatus;
  created: string;
  updated: string | null;
  deleted: boolean;
  seq: number;
}

export interface Page<T> {
  items: T[];
  has_more: boolean;
}

export interface ChatPage extends Page<Chat> {
  next_cursor?: string | null;
}

export interface SendMessageBody {
  content: string;
  reply_to?: string | null;
  attachments?: string[];
  client_message_id?: string;
}

/** An answer outside 2xx, carrying the contract's error shape, or a network failure (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** The request never got an answer (offline, server down): worth retrying as is. */
  get isNetwork(): boolean {
    return this.status === 0;
  }
}

export interface UploadHandle {
  promise: Promise<Attachment>;
  abort(): void;
}

type Query = Record<string, string | number | boolean | undefined | null>;

function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

const enc = encodeURIComponent;

function errorFromBody(status: number, body: unknown, retryAfter?: number): ApiError {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  const code = typeof error?.code === 'string' ? error.code : `http_${status}`;
  const message = typeof error?.message === 'string' ? error.message : `Request failed (${status})`;
  return new ApiError(status, code, message, retryAfter);
}

function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  return Number.isFinite(seconds) ? seconds : undefined;
}

export interface ApiClientOptions {
  /** The current access token, or null when signed out. */
  getToken(): string | null;
  /** Called when an authenticated request answers 401 (token expired or revoked). */
  onUnauthorized?(): void;
}

export class ApiClient {
  constructor(private readonly options: ApiClientOptions) {}

  private async request<T>(method: string, path: string, body?: unknown, auth = true): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    const token = auth ? this.options.getToken() : null;
    if (auth && !token) throw new ApiError(401, 'signed_out', 'Not signed in');
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, 'network_error', 'The server cannot be reached');
    }
    if (response.status === 204) return undefined as T;
    const parsed: unknown = await response.json().catch(() => null);
    if (!response.ok) {
      if (response.status === 401 && auth) this.options.onUnauthorized?.();
      throw errorFromBody(
        response.status,
        parsed,
        parseRetryAfter(response.headers.get('Retry-After')),
      );
    }
    return parsed as T;
  }

  // Users and tokens

  createUser(username: string, password: string, displayName?: string): Promise<User> {
    const body: Record<string, string> = { username, password };
    if (displayName) body.display_name = displayName;
    return this.request('POST', '/users', body, false);
  }

  createToken(username: string, password: string): Promise<TokenResponse> {
    return this.request('POST', '/auth/token', { username, password }, false);
  }

  me(): Promise<User> {
    return this.request('GET', '/users/me');
  }

  searchUsers(search: string, limit = 20): Promise<Page<User>> {
    return this.request('GET', withQuery('/users', { search, limit }));
  }

  /**
   * Not in the contract (an extension the client asks of the server): the contract names
   * participants and senders only by id. Callers treat a failure as "unknown user".
   */
  getUser(userId: string): Promise<User> {
    return this.request('GET', `/users/${enc(userId)}`);
  }

  // Chats

  listChats(cursor?: string | null, limit = 100): Promise<ChatPage> {
    return this.request('GET', withQuery('/chats', { limit, cursor }));
  }

  getChat(chatId: string): Promise<Chat> {
    return this.request('GET', `/chats/${enc(chatId)}`);
  }

  createChat(name: string, participants: string[]): Promise<Chat> {
    return this.request('POST', '/chats', { name, participants });
  }

  renameChat(chatId: string, name: string): Promise<Chat> {
    return this.request('PATCH', `/chats/${enc(chatId)}`, { name });
  }

  addParticipants(chatId: string, userIds: string[]): Promise<Chat> {
    return this.request('POST', `/chats/${enc(chatId)}/participants`, { user_ids: userIds });
  }

  removeParticipant(chatId: string, userId: string): Promise<void> {
    return this.request('DELETE', `/chats/${enc(chatId)}/participants/${enc(userId)}`);
  }

  deleteChat(chatId: string): Promise<void> {
    return this.request('DELETE', `/chats/${enc(chatId)}`);
  }

  // Messages

  listMessages(
    chatId: string,
    query: { limit?: number; before?: string; after?: string } = {},
  ): Promise<Page<Message>> {
    return this.request('GET', withQuery(`/chats/${enc(chatId)}/messages`, query));
  }

  getMessage(messageId: string): Promise<Message> {
    return this.request('GET', `/messages/${enc(messageId)}`);
  }

  sendMessage(chatId: string, body: SendMessageBody): Promise<Message> {
    return this.request('POST', `/chats/${enc(chatId)}/messages`, body);
  }

  editMessage(messageId: string, content: string): Promise<Message> {
    return this.request('PATCH', `/messages/${enc(messageId)}`, { content });
  }

  markReceived(messageId: string): Promise<Message> {
    return this.request('PUT', `/messages/${enc(messageId)}/receive`);
  }

  markRead(messageId: string): Promise<Message> {
    return this.request('PUT', `/messages/${enc(messageId)}/read`);
  }

  deleteMessage(messageId: string): Promise<void> {
    return this.request('DELETE', `/messages/${enc(messageId)}`);
  }

  // Attachments

  getAttachment(attachmentId: string): Promise<Attachment> {
    return this.request('GET', `/attachments/${enc(attachmentId)}`);
  }

  /**
   * Uploads one file as the multipart part `file`. XMLHttpRequest rather than fetch, because
   * only it reports upload progress.
   */
  uploadAttachment(
    chatId: string,
    file: File,
    onProgress: (loaded: number, total: number) => void,
  ): UploadHandle {
    const xhr = new XMLHttpRequest();
    const promise = new Promise<Attachment>((resolve, reject) => {
      xhr.open('POST', `/chats/${enc(chatId)}/attachments`);
      xhr.responseType = 'json';
      xhr.setRequestHeader('Accept', 'application/json');
      const token = this.options.getToken();
      if (!token) {
        reject(new ApiError(401, 'signed_out', 'Not signed in'));
        return;
      }
      xhr.setRequestHeader('Authorization', `Bearer ${token}`);
      xhr.upload.onprogress = (event) => {
        onProgress(event.loaded, event.lengthComputable ? event.total : file.size);
      };
      xhr.onload = () => {
        if (xhr.status >= 200 && xhr.status < 300) {
          resolve(xhr.response as Attachment);
          return;
        }
        if (xhr.status === 401) this.options.onUnauthorized?.();
        reject(
          errorFromBody(
            xhr.status,
            xhr.response,
            parseRetryAfter(xhr.getResponseHeader('Retry-After')),
          ),
        );
      };
      xhr.onerror = () => reject(new ApiError(0, 'network_error', 'The upload failed'));
      xhr.onabort = () => reject(new ApiError(0, 'aborted', 'The upload was cancelled'));
      const form = new FormData();
      form.append('file', file, file.name);
      xhr.send(form);
    });
    return { promise, abort: () => xhr.abort() };
  }
}
