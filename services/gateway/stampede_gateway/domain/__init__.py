"""Pure decisions of the gateway: no I/O, the clock is passed in."""
