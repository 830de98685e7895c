"""debtbot: what a person in Cyprus owes the state, and how to pay it before it grows."""

__version__ = "0.1.0"
