"""How the service's processes run: the ``flask serve`` supervisor, Celery and its embedded broker,
and the leased beat scheduler. The use cases they run live in their own packages (``sync``,
``webhooks``, ``push``, ``retention``)."""
