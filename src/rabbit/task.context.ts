import { RmqContext } from '@nestjs/microservices';
import type { Channel, ConsumeMessage } from 'amqplib';

import type { ReplyAddress } from './task-envelope';

/**
 * Nest's RMQ context of one delivery, with where its reply goes when it is a
 * request (read from the envelope once, by the task server).
 */
export class TaskContext extends RmqContext {
  constructor(
    message: ConsumeMessage,
    channel: Channel,
    pattern: string,
    readonly reply: ReplyAddress | undefined,
  ) {
    super([message, channel, pattern]);
  }

  override getMessage(): ConsumeMessage {
    return super.getMessage() as ConsumeMessage;
  }

  override getChannelRef(): Channel {
    return super.getChannelRef() as Channel;
  }
}
