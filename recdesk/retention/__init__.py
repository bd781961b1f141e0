"""Retention and destruction: schedules, holds, the worklist, crypto-shredding, the register, archives, certificates."""
