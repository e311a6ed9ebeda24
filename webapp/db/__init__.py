"""Database plumbing shared by every use case, with no domain rules of its own.

- ``autocommit``: the request's autocommit connection for statements that stand alone;
- ``keyset``: cursor pagination (and its cursor codec) for the API and the dashboard;
- ``json_documents``: API objects rendered as JSON by the database;
- ``pool``: pool sizing and cheap liveness checks;
- ``migrations``: Alembic, for the command line only.
"""
