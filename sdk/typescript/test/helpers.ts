// What the tests share: the repository's paths and Python, free ports, child processes, a
// real Temporal dev server (the CLI in supportflow's venv), and `supportflow up`.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

// dist/test/helpers.js (or test/helpers.ts) -> the package root -> the repository root.
export const PACKAGE_ROOT = join(__dirname, "..", "..");
export const REPO_ROOT = join(PACKAGE_ROOT, "..", "..");
export const PYTHON = process.env.SUPPORTFLOW_PYTHON ?? join(REPO_ROOT, ".venv", "bin", "python");
export const TEMPORAL_CLI = join(REPO_ROOT, ".venv", "bin", "temporal");
export const FIXTURES = join(PACKAGE_ROOT, "test", "fixtures");
export const DIST_FIXTURES = join(__dirname, "fixtures");

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  server.close();
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Run a program to its end; its exit code and what it wrote. */
export async function run(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(command, args, {
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
  const [code] = (await once(child, "exit")) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

export async function stop(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

export interface DevServer {
  address: string;
  stop(): Promise<void>;
}

/** A Temporal dev server on free loopback ports, in memory, without its web UI. */
export async function startDevServer(): Promise<DevServer> {
  const [port, httpPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const child = spawn(
    TEMPORAL_CLI,
    [
      "server",
      "start-dev",
      "--headless",
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--http-port",
      String(httpPort),
      "--metrics-port",
      String(metricsPort),
      "--log-level",
      "error",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const deadline = Date.now() + 60_000;
  while (!(await portOpen(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`the Temporal dev server did not start: ${stderr.slice(-2000)}`);
    }
    await sleep(200);
  }
  return { address: `127.0.0.1:${port}`, stop: () => stop(child) };
}

/** The demo tenant's keys that `supportflow up` writes to DATA_DIR/demo-tenant.json. */
export interface DemoKeys {
  tenant_id: string;
  api_key: string;
  chat_key: string;
  identity_secret: string;
}

export interface SupportflowUp {
  /** The API's base URL. */
  api: string;
  keys: DemoKeys;
  dataDir: string;
  /** The Temporal frontend `up` started. */
  temporalAddress: string;
  /** The payload keys `up` created, as SUPPORTFLOW_ENCRYPTION_KEYS (`kid:<base64>,...`). */
  encryptionKeys(): string;
  stop(): Promise<void>;
}

const READY = /supportflow ready in [\d.]+s\s+api=(\S+)/;

/** supportflow itself, as `supportflow up` runs it (Temporal dev server, workers, API, demo
 * store, demo tenant), on free ports with a fresh data directory and the local model. */
export async function startSupportflowUp(): Promise<SupportflowUp> {
  const dir = mkdtempSync(join(tmpdir(), "sf-up-"));
  const dataDir = join(dir, "data");
  const temporalAddress = `127.0.0.1:${await freePort()}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SUPPORTFLOW_DATA_DIR: dataDir,
    SUPPORTFLOW_MODEL: process.env.SUPPORTFLOW_TEST_MODEL ?? "local",
    SUPPORTFLOW_TEMPORAL_ADDRESS: temporalAddress,
    SUPPORTFLOW_TEMPORAL_UI_PORT: String(await freePort()),
    SUPPORTFLOW_API_PORT: String(await freePort()),
    SUPPORTFLOW_STORE_PORT: String(await freePort()),
    SUPPORTFLOW_EMBEDDED_SMTP_PORT: String(await freePort()),
    SUPPORTFLOW_SMTP_INBOUND_PORT: String(await freePort()),
  };
  // The keys come from the data directory's key file, as a developer's `up` makes them.
  delete env.SUPPORTFLOW_ENCRYPTION_KEYS;
  delete env.SUPPORTFLOW_ENCRYPTION_KEY_FILE;
  const up = spawn(join(REPO_ROOT, ".venv", "bin", "supportflow"), ["up"], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  let api: string;
  try {
    api = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`not ready: ${output.slice(-2000)}`)),
        150_000,
      );
      const read = (chunk: Buffer) => {
        output = (output + chunk.toString()).slice(-20_000);
        const match = READY.exec(output);
        if (match?.[1]) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      };
      up.stdout?.on("data", read);
      up.stderr?.on("data", read);
      up.once("exit", (code) =>
        reject(new Error(`supportflow up exited ${code}: ${output.slice(-2000)}`)),
      );
    });
  } catch (err) {
    await stop(up);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const keys = JSON.parse(readFileSync(join(dataDir, "demo-tenant.json"), "utf8")) as DemoKeys;
  return {
    api,
    keys,
    dataDir,
    temporalAddress,
    encryptionKeys: () => {
      const file = JSON.parse(readFileSync(join(dataDir, "encryption-keys.json"), "utf8")) as {
        keys: Array<{ id: string; key: string }>;
      };
      return file.keys.map((k) => `${k.id}:${k.key}`).join(",");
    },
    stop: async () => {
      await stop(up);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
