import { Logger } from '@nestjs/common';
import type { AmqpConnectionManager } from 'amqp-connection-manager';

import { ConfirmChannelKeeper, publishConfirmed } from './confirm-channel.keeper';
import { connectToRabbit } from './rabbit.connection';

/** How long a reply may wait for its connection and then its confirm before it is dropped. */
const REPLY_TIMEOUT_MS = 5_000;

const DIRECT_REPLY_TO = 'amq.rabbitmq.reply-to';

/** Erlang's external term format: version, pid tags, atom tags. */
const TERM_VERSION = 131;
const NEW_PID_EXT = 88;
const PID_EXT = 103;
const WIDE_ATOMS = new Set([118 /* ATOM_UTF8_EXT */, 100 /* ATOM_EXT */]);
const SMALL_ATOMS = new Set([119 /* SMALL_ATOM_UTF8_EXT */, 115 /* SMALL_ATOM_EXT */]);

/**
 * Sends replies to requests on a connection of its own, never on the one that
 * carries tasks: RabbitMQ closes the whole connection (541 INTERNAL_ERROR) that
 * publishes to a direct reply-to address naming a node it does not know (or
 * to one whose pid part is not a pid at all). Replies are best effort: one that
 * cannot go out (malformed address, connection or channel lost, no confirm in
 * time) is dropped and logged, never sent again, and never throws. The
 * connection opens with the first reply.
 */
export class ReplyPublisher {
  private readonly logger = new Logger(ReplyPublisher.name);
  private manager?: AmqpConnectionManager;
  private channels?: ConfirmChannelKeeper;
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly connectionName: string,
  ) {}

  /** Publishes `content` to `replyTo` (not mandatory, not persistent) and waits for the confirm. Never throws. */
  async send(replyTo: string, correlationId: string | undefined, content: Buffer): Promise<void> {
    const problem = replyToProblem(replyTo);
    if (problem) return this.dropped(replyTo, problem);
    if (this.closed) return this.dropped(replyTo, 'the worker is shutting down');
    const deadline = Date.now() + REPLY_TIMEOUT_MS;
    try {
      const channel = await this.open().waitForChannel(REPLY_TIMEOUT_MS);
      if (!channel) {
        const why = this.closed
          ? 'the worker is shutting down'
          : `no connection for replies within ${REPLY_TIMEOUT_MS} ms`;
        return this.dropped(replyTo, why);
      }
      await publishConfirmed(
        channel,
        '',
        replyTo,
        content,
        { correlationId, contentType: 'application/json' },
        Math.max(1, deadline - Date.now()),
      );
    } catch (error) {
      this.dropped(replyTo, (error as Error)?.message ?? String(error));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.channels?.close();
    await this.manager?.close().catch(() => undefined);
  }

  private open(): ConfirmChannelKeeper {
    if (!this.channels) {
      this.manager = connectToRabbit(this.url, this.connectionName, this.logger);
      this.channels = new ConfirmChannelKeeper(this.manager, 'reply', this.logger);
      this.channels.open();
    }
    return this.channels;
  }

  private dropped(replyTo: string, why: string): void {
    this.logger.warn(`Reply to ${JSON.stringify(replyTo)} dropped: ${why}`);
  }
}

/**
 * Why a reply cannot be sent to `replyTo` at all, or undefined. A queue name is
 * fine (the broker drops what it cannot route, replies are not mandatory); a
 * direct reply-to address must be `amq.rabbitmq.reply-to.<pid>.<key>` with
 * `<pid>` a pid in Erlang's external term format, base64-encoded, as RabbitMQ
 * writes them (3.10 names the node `reply@<hash of the node name>`).
 */
export function replyToProblem(replyTo: string): string | undefined {
  if (replyTo.length === 0) return 'empty address';
  if (Buffer.byteLength(replyTo, 'utf8') > 255) return 'address longer than 255 bytes';
  if (!replyTo.startsWith(`${DIRECT_REPLY_TO}.`)) return undefined;
  // RabbitMQ splits the suffix at dots, ignoring empty parts.
  const parts = replyTo
    .slice(DIRECT_REPLY_TO.length + 1)
    .split('.')
    .filter((part) => part.length > 0);
  if (parts.length !== 2 || !isEncodedPid(parts[0]!)) return 'malformed direct reply-to address';
  return undefined;
}

function isEncodedPid(text: string): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return false;
  const term = Buffer.from(text, 'base64');
  if (term.toString('base64') !== text || term.length < 4) return false;
  if (term[0] !== TERM_VERSION || (term[1] !== NEW_PID_EXT && term[1] !== PID_EXT)) return false;
  let start: number;
  let length: number;
  if (WIDE_ATOMS.has(term[2]!) && term.length >= 5) {
    start = 5;
    length = term.readUInt16BE(3);
  } else if (SMALL_ATOMS.has(term[2]!)) {
    start = 4;
    length = term[3]!;
  } else {
    return false;
  }
  const node = term.subarray(start, start + length).toString('utf8');
  // id, serial and creation: 4 + 4 + 4 bytes (NEW_PID_EXT) or 4 + 4 + 1 (PID_EXT).
  const rest = term.length - start - length;
  return node.includes('@') && rest === (term[1] === NEW_PID_EXT ? 12 : 9);
}
