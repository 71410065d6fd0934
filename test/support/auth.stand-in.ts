import { HttpStandIn, RecordedRequest, Reply } from './http-stand-in';

export const TEST_CLIENT_ID = 'steam-worker-test';
export const TEST_CLIENT_SECRET = 'test-client-secret-do-not-log';

/**
 * Stands in for the OAuth 2.0 token endpoint (client credentials). Tokens
 * expire after `expiresInS`; `valid()` tells the backend stand-in whether a
 * token is still good. Counts how many token requests overlap.
 */
export class AuthStandIn extends HttpStandIn {
  expiresInS = 3600;
  /** Answer the token request slowly, to let concurrent callers pile up. */
  delayMs = 0;
  /** Return a reply to override the normal answer, or undefined. */
  script?: (request: RecordedRequest) => Reply | undefined;
  readonly issued: string[] = [];
  maxConcurrent = 0;
  private concurrent = 0;
  private readonly expiry = new Map<string, number>();

  valid(token: string): boolean {
    return (this.expiry.get(token) ?? 0) > Date.now();
  }

  /** Makes every token issued so far expire now. */
  expireAll(): void {
    for (const token of this.expiry.keys()) this.expiry.set(token, 0);
  }

  protected async handle(request: RecordedRequest): Promise<Reply> {
    this.concurrent++;
    this.maxConcurrent = Math.max(this.maxConcurrent, this.concurrent);
    try {
      if (this.delayMs) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
      const scripted = this.script?.(request);
      if (scripted) return scripted;
      const form = new URLSearchParams(request.body);
      if (
        request.method !== 'POST' ||
        !String(request.headers['content-type']).startsWith('application/x-www-form-urlencoded') ||
        form.get('grant_type') !== 'client_credentials'
      ) {
        return { status: 400, body: { error: 'unsupported_grant_type' } };
      }
      if (form.get('client_id') !== TEST_CLIENT_ID || form.get('client_secret') !== TEST_CLIENT_SECRET) {
        return { status: 401, body: { error: 'invalid_client' } };
      }
      const token = `token-${this.issued.length + 1}-${Math.random().toString(36).slice(2)}`;
      this.issued.push(token);
      this.expiry.set(token, Date.now() + this.expiresInS * 1000);
      return { status: 200, body: { access_token: token, token_type: 'Bearer', expires_in: this.expiresInS } };
    } finally {
      this.concurrent--;
    }
  }
}
