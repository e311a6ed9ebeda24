"""Read by gunicorn when started from the project folder (``gunicorn wsgi:app``, as on a scale-out's web
machines): its access log goes through the logger that redacts connect tokens and OAuth values
(``webapp.observability.gunicorn``). ``flask serve`` passes the same class on its command line."""

logger_class = "webapp.observability.gunicorn.Logger"
