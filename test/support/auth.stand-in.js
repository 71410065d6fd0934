"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.AuthStandIn = exports.TEST_CLIENT_SECRET = exports.TEST_CLIENT_ID = void 0;
const http_stand_in_1 = require("./http-stand-in");
exports.TEST_CLIENT_ID = 'steam-worker-test';
exports.TEST_CLIENT_SECRET = 'test-client-secret-do-not-log';
/**
 * Stands in for the OAuth 2.0 token endpoint (client credentials). Tokens
 * expire after `expiresInS`; `valid()` tells the backend stand-in whether a
 * token is still good. Counts how many token requests overlap.
 */
class AuthStandIn extends http_stand_in_1.HttpStandIn {
    expiresInS = 3600;
    /** Answer the token request slowly, to let concurrent callers pile up. */
    delayMs = 0;
    /** Return a reply to override the normal answer, or undefined. */
    script;
    issued = [];
    maxConcurrent = 0;
    concurrent = 0;
    expiry = new Map();
    valid(token) {
        return (this.expiry.get(token) ?? 0) > Date.now();
    }
    /** Makes every token issued so far expire now. */
    expireAll() {
        for (const token of this.expiry.keys())
            this.expiry.set(token, 0);
    }
    async handle(request) {
        this.concurrent++;
        this.maxConcurrent = Math.max(this.maxConcurrent, this.concurrent);
        try {
            if (this.delayMs)
                await new Promise((resolve) => setTimeout(resolve, this.delayMs));
            const scripted = this.script?.(request);
            if (scripted)
                return scripted;
            const form = new URLSearchParams(request.body);
            if (request.method !== 'POST' ||
                !String(request.headers['content-type']).startsWith('application/x-www-form-urlencoded') ||
                form.get('grant_type') !== 'client_credentials') {
                return { status: 400, body: { error: 'unsupported_grant_type' } };
            }
            if (form.get('client_id') !== exports.TEST_CLIENT_ID || form.get('client_secret') !== exports.TEST_CLIENT_SECRET) {
                return { status: 401, body: { error: 'invalid_client' } };
            }
            const token = `token-${this.issued.length + 1}-${Math.random().toString(36).slice(2)}`;
            this.issued.push(token);
            this.expiry.set(token, Date.now() + this.expiresInS * 1000);
            return { status: 200, body: { access_token: token, token_type: 'Bearer', expires_in: this.expiresInS } };
        }
        finally {
            this.concurrent--;
        }
    }
}
exports.AuthStandIn = AuthStandIn;
//# sourceMappingURL=auth.stand-in.js.map