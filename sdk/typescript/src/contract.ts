// The contract at run time: the JSON Schema files supportflow writes from its Python models
// (contract/*.schema.json), compiled once with Ajv. The types are generated from the same
// files (contract.generated.ts), so what is checked here is what the compiler assumes.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import Ajv2020, { type ErrorObject, type ValidateFunction } from "ajv/dist/2020";
import type {
  ChatMessageIn,
  CustomActionInput,
  CustomActionResult,
  MessageIn,
} from "./contract.generated";

export type * from "./contract.generated";

// dist/src/contract.js and src/contract.ts both sit two levels below the package root.
export const CONTRACT_DIR = join(__dirname, "..", "..", "contract");

// Formats ("email", "date-time") are supportflow's to check; shapes are checked here.
const ajv = new Ajv2020({ allErrors: true, strict: true, validateFormats: false });

function load<T>(stem: string): ValidateFunction<T> {
  const schema = JSON.parse(readFileSync(join(CONTRACT_DIR, `${stem}.schema.json`), "utf8"));
  return ajv.compile<T>(schema);
}

const validators = {
  custom_action_input: load<CustomActionInput>("custom_action_input"),
  custom_action_result: load<CustomActionResult>("custom_action_result"),
  chat_message: load<ChatMessageIn>("chat_message"),
  message: load<MessageIn>("message"),
};

/** A payload does not match the contract; the message names the fields, never their values. */
export class ContractError extends Error {
  override readonly name = "ContractError";
  constructor(
    readonly payload: string,
    readonly problems: string[],
  ) {
    super(`${payload} does not match the contract: ${problems.join("; ")}`);
  }
}

function describe(errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? [])
    .filter((e) => e.keyword !== "if") // the "if" failure repeats its branch's own error
    .map((e) => {
      const where = e.instancePath === "" ? "(top level)" : e.instancePath;
      const extra =
        e.keyword === "additionalProperties"
          ? ` (${String((e.params as { additionalProperty?: unknown }).additionalProperty)})`
          : "";
      return `${where} ${e.message ?? e.keyword}${extra}`;
    });
}

function check<T>(validate: ValidateFunction<T>, payload: string, value: unknown): T {
  if (!validate(value)) throw new ContractError(payload, describe(validate.errors));
  return value;
}

export function parseCustomActionInput(value: unknown): CustomActionInput {
  return check(validators.custom_action_input, "custom action input", value);
}

export function parseCustomActionResult(value: unknown): CustomActionResult {
  return check(validators.custom_action_result, "custom action result", value);
}

export function parseChatMessage(value: unknown): ChatMessageIn {
  return check(validators.chat_message, "chat message", value);
}

export function parseMessage(value: unknown): MessageIn {
  return check(validators.message, "message", value);
}
