"""HTTP routers of the demo store, one per resource. Route names double as operation names
(fault injection targets them, idempotency keys are scoped to them)."""
