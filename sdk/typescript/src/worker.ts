// Custom actions served as Temporal activities (issue 16). supportflow's CustomerWorkflow
// calls activity `custom_action.<action>` on the task queue the tenant configured, with one
// CustomActionInput; this worker checks it against the contract, refuses another tenant's
// call, runs the merchant's handler and checks its CustomActionResult on the way out.
//
// Failures: a payload that breaks the contract, another tenant's call, or an action this
// worker does not serve fail at once (non-retryable ApplicationFailure, types below). A
// handler that throws fails the attempt; Temporal retries it under the caller's policy, with
// the same idempotency_key, so an action with an effect must apply it once per key.
import { Context } from "@temporalio/activity";
import { ApplicationFailure } from "@temporalio/common";
import { type NativeConnection, Worker, type WorkerOptions } from "@temporalio/worker";

// The connection a worker needs, from the same @temporalio/worker copy the SDK uses.
export { NativeConnection } from "@temporalio/worker";

import { EncryptionCodec, type EncryptionKeys, parseEncryptionKeys } from "./codec";
import {
  ContractError,
  type CustomActionInput,
  type CustomActionResult,
  parseCustomActionInput,
  parseCustomActionResult,
} from "./contract";

export const ACTIVITY_PREFIX = "custom_action.";
const ACTION_NAME = /^[a-z][a-z0-9_]{0,62}$/;

/** ApplicationFailure types the worker raises; the workflow reads them from the failure. */
export const FailureTypes = {
  /** The input or the handler's result does not match the contract. */
  contract: "CustomActionContractError",
  /** The input names another tenant than the one this worker serves. */
  tenant: "CustomActionTenantRefused",
  /** No handler for the activity type on this worker. */
  notRegistered: "CustomActionNotRegistered",
} as const;

/** The input a handler gets: the contract's input with ``args`` always present. */
export type CustomActionCall = CustomActionInput & { args: Record<string, unknown> };

export type CustomActionHandler = (
  call: CustomActionCall,
) => Promise<CustomActionResult> | CustomActionResult;

/** The activity type that serves ``action``: ``custom_action.<action>``. */
export function activityName(action: string): string {
  if (!ACTION_NAME.test(action)) {
    throw new Error(
      `action names are lower-case words joined by "_" (got ${JSON.stringify(action)})`,
    );
  }
  return ACTIVITY_PREFIX + action;
}

/** The default task queue name for a tenant's custom actions (a tenant may name another). */
export function customActionTaskQueue(tenantId: string): string {
  return `supportflow-actions.${tenantId}`;
}

function refuse(type: string, message: string, cause?: Error): never {
  throw ApplicationFailure.create({ type, message, nonRetryable: true, cause });
}

function serve(tenantId: string, action: string, handler: CustomActionHandler) {
  return async (...args: unknown[]): Promise<CustomActionResult> => {
    if (args.length !== 1) {
      refuse(
        FailureTypes.contract,
        `${ACTIVITY_PREFIX}${action} takes one input, got ${args.length}`,
      );
    }
    let input: CustomActionInput;
    try {
      input = parseCustomActionInput(args[0]);
    } catch (err) {
      if (err instanceof ContractError) refuse(FailureTypes.contract, err.message);
      throw err;
    }
    if (input.action !== action) {
      refuse(FailureTypes.contract, `input names action ${input.action}, activity is ${action}`);
    }
    if (input.tenant_id !== tenantId) {
      // A tenant's conversation must never reach another tenant's system.
      refuse(FailureTypes.tenant, `this worker serves tenant ${tenantId} only`);
    }
    const result = await handler({ ...input, args: input.args ?? {} });
    try {
      return parseCustomActionResult(result);
    } catch (err) {
      if (err instanceof ContractError) {
        refuse(FailureTypes.contract, `handler of ${action}: ${err.message}`);
      }
      throw err;
    }
  };
}

/** The activity functions for ``actions``, by activity type, plus the fallback that refuses
 * an action this worker does not serve. Exposed for tests and custom workers. */
export function customActionActivities(
  tenantId: string,
  actions: Record<string, CustomActionHandler>,
): Record<string, (...args: unknown[]) => Promise<CustomActionResult>> {
  const activities: Record<string, (...args: unknown[]) => Promise<CustomActionResult>> = {};
  for (const [action, handler] of Object.entries(actions)) {
    activities[activityName(action)] = serve(tenantId, action, handler);
  }
  const served = Object.keys(actions).sort().join(", ") || "none";
  activities.default = async () =>
    refuse(
      FailureTypes.notRegistered,
      `${Context.current().info.activityType} is not served here (actions: ${served})`,
    );
  return activities;
}

export interface CustomActionWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  /** The task queue the tenant configured in supportflow for its custom actions. */
  taskQueue: string;
  /** The tenant this worker serves; calls naming another tenant are refused. */
  tenantId: string;
  /** Handlers by action name (lower-case words joined by "_"). */
  actions: Record<string, CustomActionHandler>;
  /** supportflow's payload keys (SUPPORTFLOW_ENCRYPTION_KEYS format or parsed); without
   * them the worker reads and writes plain JSON payloads. */
  encryptionKeys?: string | EncryptionKeys;
  /** Passed through to Worker.create (concurrency, identity, shutdown grace time...). */
  workerOptions?: Omit<
    WorkerOptions,
    "connection" | "namespace" | "taskQueue" | "activities" | "dataConverter"
  >;
}

/** A Temporal worker serving ``actions``; call ``run()`` on it (and ``shutdown()`` to stop). */
export async function createCustomActionWorker(
  options: CustomActionWorkerOptions,
): Promise<Worker> {
  const { encryptionKeys } = options;
  const keys =
    typeof encryptionKeys === "string" ? parseEncryptionKeys(encryptionKeys) : encryptionKeys;
  return Worker.create({
    ...options.workerOptions,
    connection: options.connection,
    namespace: options.namespace ?? "default",
    taskQueue: options.taskQueue,
    activities: customActionActivities(options.tenantId, options.actions),
    dataConverter: keys
      ? {
          payloadCodecs: [new EncryptionCodec(keys)],
          failureConverterPath: require.resolve("./failure-converter"),
        }
      : undefined,
  });
}
