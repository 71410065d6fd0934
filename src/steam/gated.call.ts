import { request as httpRequest, ClientRequest, RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';

import { linkedSignal } from '../common/linked-signal';
import type { SteamBudget } from './steam-budget';
import { SteamTransientError } from './steam.errors';

/** What a Steam call waits for and what stops it. */
export interface SteamCallOptions {
  /**
   * Runs when the request's socket is connected, before its first byte is
   * written (the socket is corked meanwhile): the departure gate's last word.
   */
  beforeSend?: () => Promise<void>;
  /** Aborts the call (the worker is shutting down). */
  signal?: AbortSignal;
  /** What the call's debug line names besides its egress: the request and the budget it counts against. */
  logAs?: { request: string; budget: SteamBudget };
}

/**
 * One HTTP call to Steam, bounded as a whole: STEAM_TIMEOUT_MS to connect,
 * then STEAM_TIMEOUT_MS from the first byte sent to the last byte received,
 * whatever the socket's idle time (axios' own `timeout` is an idle timeout,
 * and a body that trickles would hold the egress' lease for ever). The wait
 * in `beforeSend` counts against neither: it is the limiter's, not Steam's.
 */
export class GatedCall {
  private readonly controller = new AbortController();
  private timer?: NodeJS.Timeout;
  /** Why `beforeSend` refused the request, if it did; thrown instead of axios' wrapping of it. */
  refusal?: unknown;
  readonly signal: AbortSignal;
  private readonly detach: () => void;

  constructor(
    private readonly timeoutMs: number,
    private readonly options: SteamCallOptions = {},
  ) {
    const linked = linkedSignal(this.controller.signal, options.signal);
    this.signal = linked.signal;
    this.detach = linked.dispose;
    this.arm('connecting');
  }

  /** An axios `transport` that holds each request at its socket until `beforeSend` resolved. */
  transport(url: string): { request: (options: RequestOptions, onResponse: never) => ClientRequest } {
    const send = url.startsWith('https:') ? httpsRequest : httpRequest;
    return {
      request: (options, onResponse) => {
        const request = send(options, onResponse);
        request.once('socket', (socket: Socket) => this.hold(request, socket));
        return request;
      },
    };
  }

  /** The call is over (answered or failed): no timer is left behind. */
  finish(): void {
    clearTimeout(this.timer);
    this.detach();
  }

  get timedOut(): boolean {
    return this.controller.signal.aborted;
  }

  private hold(request: ClientRequest, socket: Socket): void {
    const { beforeSend } = this.options;
    if (!beforeSend) return this.arm('answering');
    // Node flushes the request right after 'socket': corked, nothing leaves yet.
    socket.cork();
    void connected(socket).then(
      async () => {
        clearTimeout(this.timer);
        try {
          await beforeSend();
        } catch (error) {
          this.refusal = error;
          request.destroy(error as Error);
          return;
        }
        this.arm('answering');
        socket.uncork();
      },
      // The request fails by itself with the connection's own error.
      () => undefined,
    );
  }

  private arm(phase: 'connecting' | 'answering'): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(
      () => this.controller.abort(new SteamTransientError(`Steam request timed out ${phase} (${this.timeoutMs} ms)`)),
      this.timeoutMs,
    );
  }
}

/** Resolves once bytes written to `socket` go onto the network (TCP connected, TLS handshake done). */
function connected(socket: Socket): Promise<void> {
  const tls = socket instanceof TLSSocket;
  // Node keeps no public flag for a finished handshake; `_secureEstablished` has been it for years.
  const handshaking = tls && (socket as TLSSocket & { _secureEstablished?: boolean })._secureEstablished === false;
  if (!socket.connecting && !handshaking) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const ready = tls ? 'secureConnect' : 'connect';
    const onReady = () => {
      socket.off('close', onClose);
      resolve();
    };
    const onClose = () => {
      socket.off(ready, onReady);
      reject(new Error('socket closed before it connected'));
    };
    socket.once(ready, onReady).once('close', onClose);
  });
}
