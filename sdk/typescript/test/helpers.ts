// What the tests share: the repository's paths and Python, free ports, child processes, and
// a real Temporal dev server (the CLI in supportflow's venv).
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { connect, createServer } from "node:net";
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
