"""The distributed mode: Celery tasks over the hub's engine, ``hub worker`` and ``hub beat`` (Redis broker)."""
