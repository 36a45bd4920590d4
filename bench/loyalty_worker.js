// @ts-check
// The TypeScript side of bench/custom_action_roundtrip.py: the loyalty-service example's
// loyalty_balance handler (examples/loyalty-service/src/loyalty.js), served by the SDK's
// createCustomActionWorker from its build (sdk/typescript/dist), on TASK_QUEUE for TENANT_ID.
// The example's member table is filled from LOYALTY_MEMBERS_FILE (JSON: store customer id ->
// {points, tier}) so the benchmark's verified customers are members. Prints "ready" once the
// worker is created; on SIGTERM it stops polling and prints "served <calls>".
const { readFileSync } = require("node:fs");
const { NativeConnection, createCustomActionWorker } = require("../sdk/typescript/dist/src");
const { loyaltyBalance, members } = require("../examples/loyalty-service/src/loyalty.js");

/** @param {string} name */
function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

async function main() {
  const table = JSON.parse(readFileSync(env("LOYALTY_MEMBERS_FILE"), "utf8"));
  for (const [id, member] of Object.entries(table)) members.set(id, member);
  let served = 0;
  /** @param {import("../sdk/typescript/dist/src").CustomActionCall} call */
  const counted = (call) => {
    served += 1;
    return loyaltyBalance(call);
  };
  const connection = await NativeConnection.connect({ address: env("TEMPORAL_ADDRESS") });
  const worker = await createCustomActionWorker({
    connection,
    taskQueue: env("TASK_QUEUE"),
    tenantId: env("TENANT_ID"),
    encryptionKeys: env("SUPPORTFLOW_ENCRYPTION_KEYS"),
    actions: { loyalty_balance: counted },
  });
  process.once("SIGTERM", () => worker.shutdown());
  process.stdout.write("ready\n");
  await worker.run();
  await connection.close();
  process.stdout.write(`served ${served}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
