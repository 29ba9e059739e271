"""Pure model values at the bottom of the house: what clients send, as checked models
(schema.py). Imports nothing of ours; every layer may import it."""
