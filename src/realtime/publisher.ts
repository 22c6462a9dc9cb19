import type { Broker, BrokerLogger } from '../broker/broker.js';
import type { ChatEvent, EventPublisher } from './events.js';
import { encodeEvent } from './wire.js';

/**
 * The EventPublisher the services use: encodes each committed event once and hands it to
 * the broker, which delivers it to every node (this one included). A failed publish is
 * only logged: the change is committed, and the broker makes subscribers resync from the
 * database (docs/broker.md).
 */
export class BrokerEventPublisher implements EventPublisher {
  constructor(
    private readonly broker: Broker,
    private readonly logger: Pick<BrokerLogger, 'warn'>,
    /** Sees every event synchronously, before the broker (tests, metrics). */
    private readonly observer?: EventPublisher,
  ) {}

  publish(events: ChatEvent[]): void {
    if (events.length === 0) return;
    this.observer?.publish(events);
    // Calls are made in order and both brokers keep the order of one node's publishes.
    for (const event of events) {
      let payload: string;
      try {
        payload = encodeEvent(event);
      } catch (error) {
        this.logger.warn({ err: error, type: event.frame.type }, 'event could not be encoded');
        continue;
      }
      this.broker.publish(payload).catch((error: unknown) => {
        this.logger.warn(
          { err: error, type: event.frame.type, chat_id: event.frame.chat_id },
          'event publish failed; subscribers will resync from the database',
        );
      });
    }
  }
}
