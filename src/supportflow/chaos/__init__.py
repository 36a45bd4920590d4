"""`supportflow chaos`: a simulation against a multi-process stack that is being broken
(workers SIGKILLed, the Temporal server restarted, the store failing), then the checks that
nothing was lost, doubled or left half done. See docs/chaos.md."""
