"""LightningModules and DataModules of the entry points."""
