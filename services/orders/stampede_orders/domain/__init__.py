"""Pure logic of the read model: folding events into changes, rows into views."""
