/** One sample line of Prometheus' text format: `name{label="value",…} value`. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A scrape of GET /metrics: its raw text, its samples and its `# TYPE` lines. */
export interface Scrape {
  text: string;
  samples: Sample[];
  /** Family name → type (counter, gauge, histogram, …), from the `# TYPE` lines. */
  types: Map<string, string>;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Reads the text format as far as the tests need it (no escapes beyond `\"`, `\\` and `\n`). */
export function parseMetrics(text: string): Scrape {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    if (line.startsWith('#') || line.trim() === '') continue;
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`Not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(LABEL)) {
      labels[key!] = value!.replace(/\\n/g, '\n').replace(/\\(["\\])/g, '$1');
    }
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return { text, samples, types };
}

/** GET `<url>/metrics`, parsed; throws unless it answers 200 in the text format. */
export async function scrape(url: string): Promise<Scrape> {
  const response = await fetch(`${url}/metrics`);
  if (response.status !== 200) throw new Error(`GET /metrics answered ${response.status}`);
  const contentType = response.headers.get('content-type') ?? '';
  if (!contentType.startsWith('text/plain')) throw new Error(`GET /metrics answered ${contentType}`);
  return parseMetrics(await response.text());
}

/** The sum of the samples named `name` whose labels include `labels`, over one or more scrapes. */
export function valueOf(
  scrapes: Scrape | readonly Scrape[],
  name: string,
  labels: Record<string, string> = {},
): number {
  let sum = 0;
  for (const { samples } of 'samples' in scrapes ? [scrapes] : scrapes) {
    for (const sample of samples) {
      if (sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value)) {
        sum += sample.value;
      }
    }
  }
  return sum;
}
