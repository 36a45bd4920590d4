export * from "./client";
export * from "./codec";
export * from "./contract";
export * from "./identity";
export * from "./webhooks";
export * from "./worker";
