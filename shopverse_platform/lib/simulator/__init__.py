"""A deterministic simulated shop: catalogue, visitors and devices, sessions, orders, and the
landing files it writes with injected faults and a ground-truth file."""
