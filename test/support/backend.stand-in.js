"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.BackendStandIn = void 0;
const http_stand_in_1 = require("./http-stand-in");
/**
 * Stands in for the backend API: `PUT /apps/:appId/countries/:country` with a
 * bearer token the auth stand-in issued and that has not expired (else 401).
 * Stores what it accepts; `script` overrides an answer for the tests.
 */
class BackendStandIn extends http_stand_in_1.HttpStandIn {
    auth;
    stored = new Map();
    /** Arrival time of every accepted push. */
    acceptedAt = [];
    script;
    constructor(auth) {
        super();
        this.auth = auth;
    }
    handle(request) {
        const match = /^\/apps\/(\d+)\/countries\/([A-Z]{2})$/.exec(request.url.pathname);
        if (request.method !== 'PUT' || !match)
            return { status: 404, body: { error: 'not found' } };
        const token = String(request.headers.authorization ?? '').replace(/^Bearer /, '');
        if (!this.auth.valid(token))
            return { status: 401, body: { error: 'invalid_token' } };
        const appId = Number(match[1]);
        const country = match[2];
        const scripted = this.script?.({ appId, country, request });
        if (scripted)
            return scripted;
        const record = JSON.parse(request.body);
        if (record.appId !== appId || record.country !== country || typeof record.available !== 'boolean') {
            return { status: 422, body: { error: 'record does not match its URL' } };
        }
        this.stored.set(`${appId}/${country}`, record);
        this.acceptedAt.push(request.at);
        return { status: 200, body: { stored: true } };
    }
}
exports.BackendStandIn = BackendStandIn;
//# sourceMappingURL=backend.stand-in.js.map