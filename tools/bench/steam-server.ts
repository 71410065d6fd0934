import { spawn } from 'node:child_process';
import { once } from 'node:events';

import { ARRIVALS_PATH, LeanSteamStandIn } from './lean-stand-ins';
import { killOnExit } from './worker-child';

export interface RemoteSteam {
  url: string;
  /** When the appdetails requests arrived, epoch ms (only with `recordArrivals`). */
  arrivals(): Promise<number[]>;
  stop(): Promise<void>;
}

/**
 * The stand-in Steam in a process of its own, so that serving Steam's
 * answers costs neither the bench nor the worker under test any CPU (the
 * real Steam is another machine), and arrival times are taken by an event
 * loop that does nothing else. Prints `READY <url>`; ends with its stdin.
 */
export async function startRemoteSteam(recordArrivals = false): Promise<RemoteSteam> {
  const args = recordArrivals ? [__filename, '--record-arrivals'] : [__filename];
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  killOnExit(child);
  const url = await new Promise<string>((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const ready = /^READY (\S+)$/m.exec(output);
      if (ready) resolve(ready[1]!);
    });
    child.once('exit', (code) => reject(new Error(`the Steam stand-in process exited (${code})`)));
  });
  return {
    url,
    arrivals: async () => (await (await fetch(`${url}${ARRIVALS_PATH}`)).json()) as number[],
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.stdin!.end();
      await exited;
    },
  };
}

if (require.main === module) {
  void (async () => {
    const steam = await new LeanSteamStandIn().start();
    steam.recordArrivals = process.argv.includes('--record-arrivals');
    process.stdin.on('end', () => void steam.stop().finally(() => process.exit(0)));
    process.stdin.resume();
    process.stdout.write(`READY ${steam.url}\n`);
  })();
}
