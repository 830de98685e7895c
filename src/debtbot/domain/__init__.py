"""The law and its nouns: debts, money, identifiers, deadlines. Pure Python, no I/O."""
