"""The baseline of ``bench/api.py``: a bare Flask app with one small JSON endpoint.

Run under the same gunicorn settings as the service (``gunicorn -w 2 hello_app:app``).
"""

from flask import Flask

app = Flask(__name__)


@app.get("/hello")
def hello() -> dict[str, str]:
    return {"hello": "world"}
