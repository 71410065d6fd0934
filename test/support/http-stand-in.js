"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.HttpStandIn = void 0;
exports.maxInSlidingWindow = maxInSlidingWindow;
const node_http_1 = require("node:http");
/**
 * A small HTTP server on 127.0.0.1 and a free port that records every request
 * and answers through `handle`. The stand-ins for Steam, the auth server and
 * the backend build on it.
 */
class HttpStandIn {
    requests = [];
    server;
    get url() {
        const { port } = this.server.address();
        return `http://127.0.0.1:${port}`;
    }
    async start() {
        this.server = (0, node_http_1.createServer)((req, res) => void this.onRequest(req, res));
        // Node's default: clients subtract a 1 s margin from the hint, so a shorter one is never reused.
        this.server.keepAliveTimeout = 5000;
        await new Promise((resolve) => this.server.listen(0, '127.0.0.1', resolve));
        return this;
    }
    async stop() {
        if (!this.server)
            return;
        this.server.closeAllConnections();
        await new Promise((resolve) => this.server.close(() => resolve()));
    }
    async onRequest(req, res) {
        const at = performance.now();
        const chunks = [];
        for await (const chunk of req)
            chunks.push(chunk);
        const request = {
            method: req.method ?? 'GET',
            url: new URL(req.url ?? '/', 'http://stand-in'),
            headers: req.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            at,
        };
        this.requests.push(request);
        const reply = await this.handle(request);
        if (reply.delayMs)
            await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
        if (reply.reset) {
            req.socket.destroy();
            return;
        }
        const text = reply.text ?? JSON.stringify(reply.body ?? null);
        const bytes = Buffer.from(text, 'utf8');
        res.writeHead(reply.status, {
            'Content-Type': reply.text === undefined ? 'application/json' : 'text/html',
            ...(reply.trickle === undefined ? {} : { 'Content-Length': String(bytes.length) }),
            ...reply.headers,
        });
        if (reply.trickle === undefined) {
            res.end(text);
            return;
        }
        res.flushHeaders();
        for (const byte of bytes) {
            await new Promise((resolve) => setTimeout(resolve, reply.trickle));
            // The client gave up (or stop() closed the connection): stop writing.
            if (res.destroyed)
                return;
            res.write(Buffer.of(byte));
        }
        res.end();
    }
}
exports.HttpStandIn = HttpStandIn;
/** The most requests that fall into any window [t, t + windowMs) of these arrival times. */
function maxInSlidingWindow(times, windowMs) {
    const sorted = [...times].sort((a, b) => a - b);
    let best = 0;
    for (let first = 0, last = 0; last < sorted.length; last++) {
        while (sorted[last] - sorted[first] >= windowMs)
            first++;
        best = Math.max(best, last - first + 1);
    }
    return best;
}
//# sourceMappingURL=http-stand-in.js.map