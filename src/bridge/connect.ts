/**
 * A NATS connection from the usual options: a server URL (several,
 * comma-separated), a creds file, a token, or user:password in the URL;
 * $NATS_URL, $NATS_CREDS and $NATS_TOKEN when not given. The connection
 * reconnects forever (a bridge outlives server restarts); the first
 * connect fails fast, with the URL (never the credentials) in the error.
 */
import { readFileSync } from "node:fs";
import { connect, credsAuthenticator, errors, type NatsConnection } from "@nats-io/transport-node";
import { BridgeError, redact } from "./errors.ts";

export interface NatsOptions {
  /** Server URL(s), comma-separated; default $NATS_URL, else nats://127.0.0.1:4222. */
  servers?: string;
  /** A creds file (JWT and NKey seed); default $NATS_CREDS. */
  creds?: string;
  /** An auth token; default $NATS_TOKEN. */
  token?: string;
  /** Connection name the server shows. */
  name?: string;
  /** Initial connect timeout, ms (default 5000). */
  timeoutMs?: number;
}

export const DEFAULT_SERVER = "nats://127.0.0.1:4222";

export function serverList(options: NatsOptions = {}): string[] {
  const s = options.servers ?? process.env.NATS_URL ?? DEFAULT_SERVER;
  return s.split(",").map((u) => u.trim()).filter(Boolean);
}

export async function connectNats(options: NatsOptions = {}): Promise<NatsConnection> {
  const servers = serverList(options);
  const shown = servers.map(redact).join(",");
  const credsFile = options.creds ?? process.env.NATS_CREDS;
  const token = options.token ?? process.env.NATS_TOKEN;
  let authenticator;
  if (credsFile) {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(credsFile);
    } catch (e) {
      throw new BridgeError("CONFIG", `cannot read the creds file ${credsFile}: ${(e as NodeJS.ErrnoException).code ?? e}`);
    }
    authenticator = credsAuthenticator(bytes);
  }
  try {
    return await connect({
      servers,
      ...(authenticator ? { authenticator } : {}),
      ...(token ? { token } : {}),
      name: options.name ?? "xbuf-bridge",
      timeout: options.timeoutMs ?? 5000,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      pingInterval: 5000,
      maxPingOut: 3,
    });
  } catch (e) {
    if (e instanceof errors.AuthorizationError || /authoriz|authentic/i.test(String((e as Error).message))) {
      throw new BridgeError("AUTH", `the NATS server at ${shown} refused the credentials (${credsFile ? "creds file" : token ? "token" : "none given"}): ${(e as Error).message}`);
    }
    throw new BridgeError("UNREACHABLE", `cannot reach the NATS server at ${shown}: ${(e as Error).message}`);
  }
}
