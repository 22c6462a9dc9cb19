/** Server → client event frames of the `/subscriptions` protocol (contract section 7). */
export type EventType =
  | 'message.created'
  | 'message.updated'
  | 'message.deleted'
  | 'message.status'
  | 'chat.created'
  | 'chat.updated'
  | 'chat.deleted'
  | 'chat.removed';

export interface EventFrame {
  type: EventType;
  chat_id: string;
  /** The change position for message.created/updated/deleted, otherwise null. */
  seq: number | null;
  data: unknown;
}

/** One event and the users whose connections must receive it (decided at commit time). */
export interface ChatEvent {
  recipients: string[];
  frame: EventFrame;
}

/**
 * Where services hand events after their transaction has committed. Publishing is a hint
 * for live delivery: it never throws into the request, since the database already holds
 * the truth and subscribers recover gaps from it.
 */
export interface EventPublisher {
  publish(events: ChatEvent[]): void;
}
