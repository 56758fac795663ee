"""The Spark log-download protocol, with no I/O, in one module per role.

``connection`` reads an Airflow connection, ``messages`` builds requests and reads answers,
``exchange`` decides to retry, wait, refresh a token or give up, and ``job_watch`` decides when to
look at a job again. The sync (``requests``) and async (``aiohttp``) transports in
``hooks/spark_logs.py`` only move bytes and sleep, so the two paths cannot drift apart.
"""
