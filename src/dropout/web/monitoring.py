"""The monitoring page of a district (`/d/{district}/monitoring`).

A district head sees their own district only (the same `require_district` check as
every page): per scoring run, the expected lapses and the estimated AUC with their
intervals beside the realised ones once deadlines have passed, the district's own
performance alerts, and the model-wide drift status (drift concerns the model's inputs
as a whole). The banner every page of a district shows when its newest run has an
alert is in `monitoring_data.py`.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from dropout.web.accounts import User
from dropout.web.auth import login_required, require_district
from dropout.web.monitoring_data import _results, district_rows, tr
from dropout.web.render import render
from dropout.web.session import ctx, language


@login_required
async def monitoring_page(request: Request, user: User) -> Response:
    district = request.path_params["district"]
    require_district(user, district)
    web = ctx(request)
    if district not in web.data.districts():
        raise HTTPException(status_code=404)
    lang = language(request)
    rows = district_rows(_results(web.settings.store_url), district)
    return render(request, "monitoring.html", district=district, rows=list(reversed(rows)),
                  m=lambda key, **kw: tr(key, lang, **kw))
