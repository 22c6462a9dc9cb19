import type { FastifyBaseLogger } from 'fastify';
import type { AttachmentService } from './service.js';

export interface SweeperOptions {
  graceSeconds: number;
  intervalSeconds: number;
  logger: FastifyBaseLogger;
}

/**
 * Deletes uploads that were never sent with a message, once they are older than the grace
 * period: every `intervalSeconds`, on a timer that does not keep the process alive. Several
 * nodes may sweep at the same time; each stale row is deleted by exactly one of them.
 */
export class UnattachedUploadSweeper {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<number> | undefined;

  constructor(
    private readonly attachments: AttachmentService,
    private readonly options: SweeperOptions,
  ) {}

  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => {
      void this.sweep().catch((error: unknown) => {
        this.options.logger.warn({ err: error }, 'sweeping unattached uploads failed');
      });
    }, this.options.intervalSeconds * 1000);
    this.#timer.unref();
  }

  /** One pass; a pass already running is joined rather than doubled. */
  sweep(now: Date = new Date()): Promise<number> {
    if (this.#running === undefined) {
      this.#running = this.attachments
        .sweepUnattached(this.options.graceSeconds, now)
        .then((removed) => {
          if (removed > 0) this.options.logger.info({ removed }, 'removed unattached uploads');
          return removed;
        })
        .finally(() => {
          this.#running = undefined;
        });
    }
    return this.#running;
  }

  /** Stops the timer and waits for a pass in progress. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => undefined);
  }
}
