"""The release gate: policy, ethics checklist, baseline comparison and the verdict."""
