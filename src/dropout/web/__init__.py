"""The officers' web pages: district and commune risk lists, participant records, visit
plans and recorded visits, behind per-officer log-ins (Starlette + Jinja2, no build step).

    from dropout.web import create_app, WebSettings
    app = create_app(WebSettings.from_env())      # any ASGI server, or mounted in BentoML
"""

from dropout.web.app import create_app
from dropout.web.settings import WebSettings

__all__ = ["WebSettings", "create_app"]
