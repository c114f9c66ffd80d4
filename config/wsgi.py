import os

from django.core.wsgi import get_wsgi_application
from django.template import engines
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# gunicorn forks its workers from this process (preload_app). Django imports the URLconf on
# the first request, and the URLconf imports the views and with them PyTorch and SciPy:
# done here, once, rather than in every new worker, where it held every request the worker
# had accepted for seconds (at start, and each time max_requests replaced a worker).
get_resolver().url_patterns  # noqa: B018
engines.all()  # and the template tag libraries, likewise
