"""Pure install logic: policy decisions, the approval workflow, the audit chain. No I/O."""
