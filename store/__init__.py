"""The SQL store: engine, tables and migrations shared by parta's services.

Only store modules (this package and each feature's `*_store.py`) touch SQL.
"""
