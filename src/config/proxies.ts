import { ConfigError } from './config.errors';

export interface ProxyConfig {
  /** Stable across restarts and replicas: the limiter's Redis keys hang on it. */
  id: string;
  /** `host:port`: safe to log, never the credentials. */
  label: string;
  /** The full URL, credentials included: only for the proxy agents. */
  url: string;
}

const SHAPE = 'is not http://[user:pass@]host:port';

/**
 * Parses STEAM_PROXIES (comma-separated `http://[user:pass@]host:port`). A bad
 * entry is reported by its 1-based position, never by its text, which may
 * hold a password.
 */
export function parseProxies(list: string | undefined): ProxyConfig[] {
  if (!list?.trim()) return [];
  const proxies = list.split(',').map((entry, index) => parseProxy(entry.trim(), index + 1));
  const labels = new Set(proxies.map((proxy) => proxy.label));
  if (labels.size !== proxies.length) throw new ConfigError('STEAM_PROXIES', 'names the same host:port twice');
  return proxies;
}

function parseProxy(entry: string, position: number): ProxyConfig {
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    throw new ConfigError('STEAM_PROXIES', `entry ${position} ${SHAPE}`);
  }
  const portGiven = /^http:\/\/(?:[^@/]*@)?(?:\[[^\]]+\]|[^:/@]+):\d+\/?$/.test(entry);
  if (url.protocol !== 'http:' || !url.hostname || !portGiven || url.search || url.hash) {
    throw new ConfigError('STEAM_PROXIES', `entry ${position} ${SHAPE}`);
  }
  // URL drops a scheme's default port (`http://host:80` has port ''), yet the port was given: it is 80.
  const label = `${url.hostname}:${url.port || '80'}`;
  return { id: `proxy:${label}`, label, url: url.href };
}
