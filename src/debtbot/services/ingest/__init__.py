"""Debts from the registries, by file (`debtbot import FILE`) or through the HTTP API.

    columns.py     the columns a registry sends: one schema for the file's header, the API's
                   request body and the checks
    validation.py  one row checked and typed (a DebtRecord), or every fault in it
    reading.py     a CSV or JSON-lines file read row by row; keys named twice refused
    pipeline.py    a file import: read and check in a thread, write batch after batch
    upsert.py      a batch into the store (DebtRepository) with its news and audit entry;
                   cancelling debts

Re-importing the same rows changes nothing; a debt missing from a file is left alone (only
an explicit status or `cancel_debts` closes one). Identity numbers are hashed before they reach
the store, and no message here ever repeats one.
"""
