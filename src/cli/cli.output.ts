/**
 * Where the CLI writes: results (summaries, listings, bodies) on stdout, so
 * that they can be piped; progress and notes on stderr. `terminal` is stderr
 * when it is a TTY: only then is a progress bar redrawn.
 */
export interface CliOutput {
  print(line: string): void;
  info(line: string): void;
  terminal?: NodeJS.WriteStream;
}

export function processOutput(): CliOutput {
  return {
    print: (line) => process.stdout.write(`${line}\n`),
    info: (line) => process.stderr.write(`${line}\n`),
    terminal: process.stderr.isTTY ? process.stderr : undefined,
  };
}
