"""gunicorn settings for `make serve` (gunicorn -c config/gunicorn.conf.py config.wsgi).

Environment: EARSHOT_BIND (default 127.0.0.1:8000), EARSHOT_WEB_WORKERS (default two per
core plus one), EARSHOT_WEB_THREADS (default 4), EARSHOT_ACCESS_LOG (a path or "-").
"""

import os

from config.env import read_positive_int, read_text

# Whatever starts gunicorn with this file serves participants: production settings (DEBUG
# off) unless EARSHOT_PRODUCTION says otherwise explicitly. Read before the app is loaded.
os.environ.setdefault("EARSHOT_PRODUCTION", "true")

bind = read_text("EARSHOT_BIND", "127.0.0.1:8000")
workers = read_positive_int("EARSHOT_WEB_WORKERS", 2 * (os.cpu_count() or 1) + 1)
# Threads keep connections alive between a participant's requests; the work itself is
# mostly waiting on the database and on disk.
worker_class = "gthread"
threads = read_positive_int("EARSHOT_WEB_THREADS", 4)
keepalive = 5
# A PDF report (headless Chromium) can take a while; nothing a participant does comes close.
timeout = 120
graceful_timeout = 30
# Django and its apps are imported once, before the workers fork.
preload_app = True
# A worker that grew (a big report, a big export) is replaced now and then.
max_requests = 5000
max_requests_jitter = 500
accesslog = read_text("EARSHOT_ACCESS_LOG") or None
errorlog = "-"
# Requests may be at most this large in their first line and headers; bodies are capped
# by config.security.RequestSizeLimitMiddleware.
limit_request_line = 8190
limit_request_fields = 100
proc_name = "earshot-web"
# gunicorn's control socket lives in the home directory, shared by every server on the
# machine; earshot does not use it.
control_socket_disable = True
