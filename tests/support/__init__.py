"""Plain helpers shared by the tests; the fixtures built on them live in tests/conftest.py.

- ``apps``: build the app on a test database, serve it over HTTP, drive WeChat callbacks;
- ``api``: the /api/v1 test environment (a live app, the fake WeChat, a cast of people);
- ``api_contract``: check real API answers against the served OpenAPI document;
- ``outbox``: the outbox and channel helpers and the child process its crash tests start;
- ``procs``: real processes (gunicorn, HTTP client processes);
- ``queries``: count the SQL statements a block runs.

Test data builders are in tests/factories.py; the suite clock is tests/clock.py.
"""
