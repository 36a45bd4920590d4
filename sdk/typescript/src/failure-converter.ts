// Loaded by path (the worker's dataConverter.failureConverterPath) when payloads are
// encrypted: failure messages and stack traces go into an encoded (so encrypted) payload, as
// supportflow's own workers write them; an error's text may quote what a customer typed.
import { DefaultFailureConverter } from "@temporalio/common";

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
