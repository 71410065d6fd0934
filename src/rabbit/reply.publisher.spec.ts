import { describe, expect, it } from 'vitest';

import { replyToProblem } from './reply.publisher';

/** A pid in Erlang's external term format, as term_to_binary writes it (NEW_PID_EXT, ATOM_UTF8_EXT node). */
function encodedPid(node: string, tail = Buffer.from([0, 0, 7, 235, 0, 0, 0, 0, 0x6b, 0x0c, 0x7c, 0xca])): string {
  const name = Buffer.from(node, 'utf8');
  const length = Buffer.alloc(2);
  length.writeUInt16BE(name.length);
  return Buffer.concat([Buffer.from([131, 88, 118]), length, name, tail]).toString('base64');
}

describe(replyToProblem.name, () => {
  it('accepts queue names and direct reply-to addresses as RabbitMQ 3.10 writes them', () => {
    expect(replyToProblem('orchestrator.replies')).toBeUndefined();
    expect(replyToProblem('amq.gen-JzTY20BRgKO-HjmUJj0wLg')).toBeUndefined();
    // Taken from a RabbitMQ 3.10.8 broker.
    expect(
      replyToProblem('amq.rabbitmq.reply-to.g1h2AA1yZXBseUA5MjQ4ODg0AAAH6wAAAABrDHzK.vgz1CEEYaFdGoDxl4QpzFQ=='),
    ).toBeUndefined();
    // The pid of an older node (its real node name, PID_EXT with a small atom).
    const old = Buffer.concat([
      Buffer.from([131, 103, 119, 14]),
      Buffer.from('rabbit@host-01', 'utf8'),
      Buffer.from([0, 0, 1, 2, 0, 0, 0, 0, 3]),
    ]).toString('base64');
    expect(replyToProblem(`amq.rabbitmq.reply-to.${old}.a2V5`)).toBeUndefined();
    expect(replyToProblem(`amq.rabbitmq.reply-to.${encodedPid('reply@1')}..a2V5`)).toBeUndefined();
  });

  it('refuses direct reply-to addresses whose pid part is not a pid', () => {
    for (const address of [
      'amq.rabbitmq.reply-to.garbage',
      'amq.rabbitmq.reply-to.garbage.key',
      `amq.rabbitmq.reply-to.${Buffer.from('not a pid').toString('base64')}.a2V5`,
      `amq.rabbitmq.reply-to.${encodedPid('reply@1')}`,
      `amq.rabbitmq.reply-to.${encodedPid('reply@1')}.a2V5.more`,
      `amq.rabbitmq.reply-to.${encodedPid('no-at-sign')}.a2V5`,
      `amq.rabbitmq.reply-to.${encodedPid('reply@1', Buffer.from([0, 0, 7]))}.a2V5`,
      `amq.rabbitmq.reply-to.${encodedPid('reply@1').replace(/=+$/, '')}!.a2V5`,
    ]) {
      expect(replyToProblem(address), address).toBe('malformed direct reply-to address');
    }
  });

  it('refuses empty and over-long addresses', () => {
    expect(replyToProblem('')).toBe('empty address');
    expect(replyToProblem('q'.repeat(256))).toBe('address longer than 255 bytes');
  });
});
