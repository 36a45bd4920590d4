"""The management agent's logic (issue 14): events agents record, rolling hourly metrics, the
guard that tightens a tenant's policy on a refund spike or a burst of store errors, and the
figures people read. No Temporal here: the workflow (workflows/management.py) and its
activities (activities/management.py) call into it; docs/management.md says how it works."""
