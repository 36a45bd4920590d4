// @ts-check
// The merchant's worker: serves the loyalty_balance custom action to supportflow's
// conversations, as Temporal activity custom_action.loyalty_balance on the tenant's queue.
//
//   TEMPORAL_ADDRESS=127.0.0.1:7233 SUPPORTFLOW_TENANT_ID=t_... \
//   SUPPORTFLOW_ENCRYPTION_KEYS=kid:<base64 key> npm start
const {
  NativeConnection,
  createCustomActionWorker,
  customActionTaskQueue,
} = require("@supportflow/sdk");
const { loyaltyBalance } = require("./loyalty");

/** @param {string} name */
function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`set ${name}`);
  return value;
}

async function main() {
  const tenantId = required("SUPPORTFLOW_TENANT_ID");
  const taskQueue = process.env.SUPPORTFLOW_ACTIONS_QUEUE || customActionTaskQueue(tenantId);
  const connection = await NativeConnection.connect({
    address: process.env.TEMPORAL_ADDRESS || "127.0.0.1:7233",
  });
  const worker = await createCustomActionWorker({
    connection,
    namespace: process.env.TEMPORAL_NAMESPACE || "default",
    taskQueue,
    tenantId,
    // supportflow encrypts every payload; the worker needs the same keys to read them.
    encryptionKeys: required("SUPPORTFLOW_ENCRYPTION_KEYS"),
    actions: { loyalty_balance: loyaltyBalance },
  });
  for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, () => worker.shutdown());
  process.stdout.write(`serving loyalty_balance on ${taskQueue}\n`);
  await worker.run();
  await connection.close();
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
