/**
 * Just enough of PromQL to list what an expression reads: its vector selectors
 * (metric name and label matchers) and the label names of its grouping clauses
 * (`by`, `without`, `on`, `ignoring`, `group_left`, `group_right`). Grafana's
 * variables (`$job`, `[$__rate_interval]`) are accepted where Grafana puts them.
 * No evaluation and no precedence: the deploy specs only ask "which names".
 */
export interface LabelMatcher {
  readonly label: string;
  readonly op: '=' | '!=' | '=~' | '!~';
  readonly value: string;
}

export interface VectorSelector {
  readonly metric: string;
  readonly matchers: readonly LabelMatcher[];
}

export interface ExpressionNames {
  readonly selectors: readonly VectorSelector[];
  readonly groupingLabels: readonly string[];
}

interface Token {
  readonly kind: string;
  readonly text: string;
}

const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const AGGREGATIONS = ['sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile'];
const KEYWORDS = new Set([...GROUPING, ...AGGREGATIONS, 'and', 'or', 'unless', 'bool', 'offset', 'atan2', 'inf', 'nan']);

const TOKEN = new RegExp(
  [
    String.raw`(?<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')`,
    String.raw`(?<range>\[[^\]]*\])`,
    String.raw`(?<variable>\$\{?\w+\}?)`,
    String.raw`(?<duration>\d+(?:ms|[smhdwy])\b)`,
    String.raw`(?<number>\d+(?:\.\d+)?(?:e[+-]?\d+)?)`,
    String.raw`(?<identifier>[A-Za-z_:][\w:]*)`,
    String.raw`(?<operator>=~|!~|!=|==|>=|<=|=)`,
    String.raw`(?<punctuation>[{}(),])`,
    String.raw`(?<space>\s+)`,
    String.raw`(?<other>.)`,
  ].join('|'),
  'gy',
);

function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  for (const match of expr.matchAll(TOKEN)) {
    const [kind] = Object.entries(match.groups ?? {}).find(([, text]) => text !== undefined) ?? ['other'];
    if (kind !== 'space') tokens.push({ kind, text: match[0] });
  }
  return tokens;
}

/** PromQL strings: Go-like escapes; only `\\` and `\"` matter for the names checked here. */
const unquote = (literal: string): string => literal.slice(1, -1).replace(/\\(.)/g, '$1');

function readMatchers(tokens: Token[], start: number): { matchers: LabelMatcher[]; end: number } {
  const matchers: LabelMatcher[] = [];
  let at = start + 1;
  while (tokens[at]?.text !== '}') {
    const [label, op, value] = [tokens[at], tokens[at + 1], tokens[at + 2]];
    if (label?.kind !== 'identifier' || op?.kind !== 'operator' || value?.kind !== 'string') {
      throw new Error(`cannot read the label matcher at "${tokens.slice(at, at + 3).map((t) => t.text).join(' ')}"`);
    }
    matchers.push({ label: label.text, op: op.text as LabelMatcher['op'], value: unquote(value.text) });
    at += 3;
    if (tokens[at]?.text === ',') at += 1;
  }
  return { matchers, end: at };
}

function readLabelList(tokens: Token[], start: number): { labels: string[]; end: number } {
  const labels: string[] = [];
  let at = start + 1;
  for (; tokens[at] && tokens[at].text !== ')'; at += 1) {
    if (tokens[at].kind === 'identifier') labels.push(tokens[at].text);
  }
  return { labels, end: at };
}

/** The selectors and grouping labels of one PromQL expression. Throws on a selector it cannot read. */
export function namesIn(expr: string): ExpressionNames {
  const tokens = tokenize(expr);
  const selectors: VectorSelector[] = [];
  const groupingLabels: string[] = [];
  for (let at = 0; at < tokens.length; at += 1) {
    const token = tokens[at];
    const next = tokens[at + 1];
    if (token.kind === 'identifier' && GROUPING.has(token.text) && next?.text === '(') {
      const { labels, end } = readLabelList(tokens, at + 1);
      groupingLabels.push(...labels);
      at = end;
    } else if (token.kind === 'identifier' && !KEYWORDS.has(token.text) && next?.text !== '(') {
      const { matchers, end } = next?.text === '{' ? readMatchers(tokens, at + 1) : { matchers: [], end: at };
      selectors.push({ metric: token.text, matchers });
      at = end;
    } else if (token.text === '{') {
      throw new Error(`a selector without a metric name in ${expr}`);
    }
  }
  return { selectors, groupingLabels };
}

/**
 * The literal values a matcher names: the value of `=` and `!=`, each plain
 * alternative of `=~` and `!~` (`a|b\.c` gives a and b.c); Grafana variables
 * and real patterns (`.*`) name none.
 */
export function literalValues(matcher: LabelMatcher): string[] {
  const alternatives = matcher.op.endsWith('~') ? matcher.value.split('|') : [matcher.value];
  return alternatives
    .filter((value) => !value.includes('$'))
    .map((value) => (matcher.op.endsWith('~') ? value.replace(/\\\./g, '.') : value))
    .filter((value) => /^[\w:-]+(?:\.[\w:-]+)*$/.test(value) || !matcher.op.endsWith('~'));
}
