"""The Celery app `shopverse celery-worker` runs (``celery -A``): dagster-celery's own (its tasks,
registered by name, and its broker from the settings module the command writes), with the code
location imported and its definitions built in the worker's main process first
(``cli/step_processes.py``, what the forkserver of ``--workers`` does), so that every process of
Celery's pool, forked from it, starts with them.

Without it, each pool process imported the code location and built its definitions on its first
task: in a 3-day backfill on two workers, the first step each worker took started 4.7-4.8 s after
it was submitted, the next ones 0.2-0.3 s (``automation/test_celery_workers.py``'s run). The
definitions are the worker's, built with its environment when it starts: restart the workers to
pick up new code or settings, as with any Celery worker.
"""

from dagster_celery.app import app  # noqa: F401  (Celery's -A target; importing it registers the tasks)

import shopverse_platform.cli.step_processes  # noqa: F401  (imports the code location and builds its definitions)
