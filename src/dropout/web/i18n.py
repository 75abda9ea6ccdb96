"""Every string the officers' pages show, in Vietnamese (the default) and English.

One table, one place to change a word. Keys are English-ish identifiers; `{name}`
placeholders are filled with `str.format`. Code values of the data (risk bands, payment
modes, visit kinds, ...) are translated through `LABELS` so the page never shows a raw
code to an officer.
"""

from __future__ import annotations

import pandas as pd

from dropout.score.output import BAND_LABELS, BANDS

LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"

MESSAGES: dict[str, dict[str, str]] = {
    # frame
    "app_title": {"vi": "Bảo hiểm xã hội tự nguyện — danh sách cần thăm", "en": "Voluntary social insurance — who to visit"},
    "app_short": {"vi": "BHXH tự nguyện", "en": "Voluntary SI"},
    "switch_language": {"vi": "English", "en": "Tiếng Việt"},
    "switch_language_label": {"vi": "Đổi ngôn ngữ sang tiếng Anh", "en": "Switch the language to Vietnamese"},
    "logout": {"vi": "Đăng xuất", "en": "Log out"},
    "signed_in_as": {"vi": "Đang đăng nhập: {username}", "en": "Signed in as {username}"},
    "role_officer": {"vi": "cán bộ huyện {district}", "en": "officer, {district} district"},
    "role_admin": {"vi": "quản trị (mọi huyện)", "en": "administrator (all districts)"},
    "nav_overview": {"vi": "Tổng quan huyện", "en": "District overview"},
    "nav_plan": {"vi": "Kế hoạch đi thăm", "en": "Visit plan"},
    "nav_districts": {"vi": "Các huyện", "en": "Districts"},
    "skip_to_content": {"vi": "Đến nội dung chính", "en": "Skip to content"},
    "test_data_banner": {"vi": "Dữ liệu thử nghiệm — không dùng để đi thăm thật", "en": "Test data — not for real visits"},
    # login
    "login_title": {"vi": "Đăng nhập", "en": "Log in"},
    "username": {"vi": "Tên đăng nhập", "en": "Username"},
    "password": {"vi": "Mật khẩu", "en": "Password"},
    "login_button": {"vi": "Đăng nhập", "en": "Log in"},
    "login_failed": {"vi": "Tên đăng nhập hoặc mật khẩu không đúng.", "en": "Wrong username or password."},
    "login_rate_limited": {
        "vi": "Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau {minutes} phút.",
        "en": "Too many failed log-ins. Please try again in {minutes} minutes.",
    },
    "logged_out": {"vi": "Bạn đã đăng xuất.", "en": "You have logged out."},
    "login_intro": {
        "vi": "Dành cho cán bộ Bảo hiểm xã hội huyện. Mỗi cán bộ dùng tài khoản riêng.",
        "en": "For district social insurance officers. Each officer uses their own account.",
    },
    # errors
    "error_forbidden_title": {"vi": "Không có quyền truy cập", "en": "Access denied"},
    "error_forbidden": {
        "vi": "Tài khoản của bạn không được xem trang này (chỉ xem được huyện của mình).",
        "en": "Your account may not see this page (officers see their own district only).",
    },
    "error_not_found_title": {"vi": "Không tìm thấy", "en": "Not found"},
    "error_not_found": {"vi": "Không tìm thấy trang hoặc người tham gia này.", "en": "This page or participant was not found."},
    "error_csrf_title": {"vi": "Biểu mẫu đã hết hạn", "en": "The form has expired"},
    "error_csrf": {
        "vi": "Biểu mẫu không hợp lệ hoặc đã hết hạn. Hãy quay lại, tải lại trang và thử lại.",
        "en": "The form is invalid or has expired. Go back, reload the page and try again.",
    },
    "error_too_large_title": {"vi": "Dữ liệu gửi quá lớn", "en": "Request too large"},
    "error_generic_title": {"vi": "Có lỗi xảy ra", "en": "Something went wrong"},
    "back_home": {"vi": "Về trang đầu", "en": "Back to the start page"},
    # overview
    "overview_title": {"vi": "Huyện {district}", "en": "{district} district"},
    "districts_title": {"vi": "Chọn huyện", "en": "Choose a district"},
    "latest_run": {"vi": "Lần chấm điểm gần nhất", "en": "Latest scoring run"},
    "run_as_of": {"vi": "tính đến ngày {as_of}", "en": "as of {as_of}"},
    "run_window": {"vi": "hạn đóng trong {days} ngày tới", "en": "due within the next {days} days"},
    "run_model": {"vi": "mô hình {model}", "en": "model {model}"},
    "run_id": {"vi": "mã lần chạy {run_id}", "en": "run {run_id}"},
    "no_run": {"vi": "Chưa có lần chấm điểm nào cho huyện này.", "en": "No scoring run for this district yet."},
    "due_in_window": {"vi": "Đến hạn đóng", "en": "Due in window"},
    "high_risk": {"vi": "Nguy cơ cao", "en": "High risk"},
    "expected_lapses": {"vi": "Số người dự kiến bỏ đóng", "en": "Expected lapses"},
    "communes": {"vi": "Các xã", "en": "Communes"},
    "commune": {"vi": "Xã", "en": "Commune"},
    "chart_risk_by_commune": {"vi": "Số người đến hạn theo mức nguy cơ, từng xã", "en": "People due by risk band, per commune"},
    "deadlines_title": {"vi": "Hạn đóng sắp tới", "en": "Deadlines coming up"},
    "deadline_date": {"vi": "Ngày hết hạn", "en": "Deadline"},
    "people": {"vi": "Số người", "en": "People"},
    "of_which_high": {"vi": "trong đó nguy cơ cao", "en": "of which high risk"},
    "no_deadlines": {"vi": "Không có hạn đóng nào trong 30 ngày tới.", "en": "No deadlines in the next 30 days."},
    "open_commune": {"vi": "Xem danh sách xã {commune}", "en": "Open the list for {commune}"},
    # commune list
    "commune_title": {"vi": "Xã {commune}", "en": "{commune} commune"},
    "commune_intro": {
        "vi": "Người tham gia đến hạn đóng, xếp theo nguy cơ bỏ đóng (cao nhất trước).",
        "en": "Participants with a payment due, ranked by risk of lapse (highest first).",
    },
    "filters": {"vi": "Lọc danh sách", "en": "Filter the list"},
    "filter_village": {"vi": "Thôn/bản", "en": "Village"},
    "filter_band": {"vi": "Mức nguy cơ", "en": "Risk band"},
    "filter_mode": {"vi": "Phương thức đóng", "en": "Payment mode"},
    "filter_all": {"vi": "Tất cả", "en": "All"},
    "filter_apply": {"vi": "Lọc", "en": "Apply"},
    "filter_clear": {"vi": "Bỏ lọc", "en": "Clear"},
    "download_excel": {"vi": "Tải Excel (đúng danh sách đang xem)", "en": "Download Excel (exactly this list)"},
    "rows_shown": {"vi": "{n} người", "en": "{n} people"},
    "no_rows": {"vi": "Không có ai phù hợp với bộ lọc.", "en": "Nobody matches these filters."},
    "col_rank": {"vi": "Hạng", "en": "Rank"},
    "col_participant": {"vi": "Mã số BHXH", "en": "SI number"},
    "col_village": {"vi": "Thôn/bản", "en": "Village"},
    "col_due_on": {"vi": "Hạn đóng", "en": "Due date"},
    "col_net_amount": {"vi": "Số tiền (sau hỗ trợ)", "en": "Net amount"},
    "col_amount_due": {"vi": "Số tiền phải đóng", "en": "Amount due"},
    "col_risk": {"vi": "Nguy cơ", "en": "Risk"},
    "col_band": {"vi": "Mức", "en": "Band"},
    "col_mode": {"vi": "Phương thức", "en": "Mode"},
    "col_reasons": {"vi": "Lý do chính", "en": "Top reasons"},
    "col_last_visit": {"vi": "Lần thăm gần nhất", "en": "Last visit"},
    "open_participant": {"vi": "Xem hồ sơ", "en": "Open record"},
    # participant
    "participant_title": {"vi": "Người tham gia {pid}", "en": "Participant {pid}"},
    "profile": {"vi": "Thông tin", "en": "Profile"},
    "birth_year": {"vi": "Năm sinh", "en": "Birth year"},
    "sex": {"vi": "Giới tính", "en": "Sex"},
    "ethnicity": {"vi": "Dân tộc", "en": "Ethnicity"},
    "occupation": {"vi": "Nghề nghiệp", "en": "Occupation"},
    "enrolled_on": {"vi": "Ngày tham gia", "en": "Enrolled on"},
    "income_base": {"vi": "Mức thu nhập đăng ký", "en": "Declared income base"},
    "household": {"vi": "Mã hộ", "en": "Household"},
    "travel_time": {"vi": "Thời gian đi", "en": "Travel time"},
    "minutes_short": {"vi": "{n} phút", "en": "{n} min"},
    "village_language": {"vi": "Ngôn ngữ của bản", "en": "Village language"},
    "risk_now": {"vi": "Nguy cơ bỏ đóng kỳ tới", "en": "Risk of lapse at the next deadline"},
    "next_due": {"vi": "Kỳ đóng tới: hạn {due_on}, {amount}", "en": "Next payment: due {due_on}, {amount}"},
    "reasons_title": {"vi": "Vì sao có nguy cơ", "en": "Why this person is at risk"},
    "no_score": {"vi": "Người này không có trong lần chấm điểm gần nhất.", "en": "This person is not in the latest scoring run."},
    "payments_title": {"vi": "Lịch sử đóng tiền", "en": "Payment history"},
    "chart_payments": {
        "vi": "Hạn đóng (vòng tròn rỗng) và ngày đóng thực tế (chấm đặc); đường nối càng nghiêng là càng trễ.",
        "en": "Due dates (open circles) and actual payment dates (dots); the more a line slants, the later the payment.",
    },
    "lane_due": {"vi": "Hạn đóng", "en": "Due"},
    "lane_paid": {"vi": "Đã đóng", "en": "Paid"},
    "lane_poverty": {"vi": "Hộ nghèo", "en": "Poverty"},
    "lane_events": {"vi": "Thiên tai / thăm", "en": "Disasters / visits"},
    "legend_on_time": {"vi": "đúng hạn", "en": "on time"},
    "legend_late": {"vi": "trễ", "en": "late"},
    "legend_very_late": {"vi": "trễ trên 30 ngày", "en": "over 30 days late"},
    "legend_unpaid": {"vi": "chưa đóng", "en": "unpaid"},
    "legend_disaster": {"vi": "thiên tai", "en": "disaster"},
    "legend_visit": {"vi": "lần thăm", "en": "visit"},
    "col_period": {"vi": "Kỳ", "en": "Period"},
    "col_months": {"vi": "Số tháng", "en": "Months"},
    "col_paid_on": {"vi": "Ngày đóng", "en": "Paid on"},
    "col_amount_paid": {"vi": "Số tiền đã đóng", "en": "Amount paid"},
    "col_lateness": {"vi": "Trễ", "en": "Lateness"},
    "days_late": {"vi": "trễ {n} ngày", "en": "{n} days late"},
    "on_time": {"vi": "đúng hạn", "en": "on time"},
    "unpaid": {"vi": "chưa đóng", "en": "unpaid"},
    "not_due_yet": {"vi": "chưa đến hạn", "en": "not due yet"},
    "poverty_title": {"vi": "Diện hộ nghèo", "en": "Poverty status"},
    "col_status": {"vi": "Diện", "en": "Status"},
    "col_valid_from": {"vi": "Từ ngày", "en": "From"},
    "col_valid_to": {"vi": "Đến ngày", "en": "To"},
    "still_in_force": {"vi": "đến nay", "en": "still in force"},
    "no_poverty": {"vi": "Không có thông tin diện hộ nghèo.", "en": "No poverty status on record."},
    "disasters_title": {"vi": "Thiên tai tại xã (3 năm gần đây)", "en": "Disasters in the commune (last 3 years)"},
    "col_started_on": {"vi": "Ngày", "en": "Date"},
    "col_kind": {"vi": "Loại", "en": "Kind"},
    "col_severity": {"vi": "Mức độ", "en": "Severity"},
    "no_disasters": {"vi": "Không có thiên tai nào được ghi nhận.", "en": "No disasters recorded."},
    "visits_title": {"vi": "Các lần thăm", "en": "Visits"},
    "col_visited_on": {"vi": "Ngày thăm", "en": "Visited on"},
    "col_language": {"vi": "Ngôn ngữ", "en": "Language"},
    "col_note": {"vi": "Ghi chú", "en": "Note"},
    "col_recorded_by": {"vi": "Người ghi", "en": "Recorded by"},
    "no_visits": {"vi": "Chưa có lần thăm nào.", "en": "No visits yet."},
    # record a visit
    "record_visit_title": {"vi": "Ghi nhận lần thăm", "en": "Record a visit"},
    "visit_date": {"vi": "Ngày thăm", "en": "Date of the visit"},
    "visit_kind": {"vi": "Hình thức", "en": "Kind"},
    "visit_language": {"vi": "Ngôn ngữ đã dùng", "en": "Language used"},
    "visit_note": {"vi": "Kết quả / ghi chú", "en": "Outcome / note"},
    "visit_note_hint": {
        "vi": "Ví dụ: đã giải thích mức hỗ trợ mới, hẹn đóng sau mùa thu hoạch.",
        "en": "E.g. explained the new support rate, will pay after the harvest.",
    },
    "visit_save": {"vi": "Lưu lần thăm", "en": "Save the visit"},
    "visit_saved": {"vi": "Đã lưu lần thăm.", "en": "The visit was saved."},
    "visit_error_date": {"vi": "Ngày thăm không hợp lệ (không được sau hôm nay, không quá 1 năm trước).", "en": "Invalid date (not after today, not more than a year ago)."},
    "visit_error_kind": {"vi": "Hãy chọn hình thức thăm.", "en": "Choose the kind of visit."},
    "visit_error_language": {"vi": "Hãy chọn ngôn ngữ.", "en": "Choose the language."},
    "visit_error_note": {"vi": "Ghi chú quá dài (tối đa {n} ký tự).", "en": "The note is too long (at most {n} characters)."},
    # plan
    "plan_title": {"vi": "Kế hoạch đi thăm — huyện {district}", "en": "Visit plan — {district} district"},
    "plan_intro": {
        "vi": "Các chuyến đi trong tuần, gom theo thôn/bản để một chuyến gặp được nhiều người.",
        "en": "This week's trips, grouped by village so that one trip reaches several people.",
    },
    "plan_none": {"vi": "Chưa có kế hoạch đi thăm cho huyện này.", "en": "No visit plan for this district yet."},
    "plan_for_run": {"vi": "Kế hoạch cho danh sách tính đến ngày {as_of}", "en": "Plan for the list as of {as_of}"},
    "plan_day_summary": {"vi": "Số chuyến: {trips}; giữ được khoảng {n} người", "en": "Trips: {trips}; about {n} lapses averted"},
    "officer_day": {"vi": "Ngày công tác", "en": "Officer day"},
    "trip": {"vi": "Chuyến {n}", "en": "Trip {n}"},
    "travel_each_way": {"vi": "đi {n} phút mỗi chiều", "en": "{n} minutes each way"},
    "who_to_see": {"vi": "Cần gặp", "en": "Who to see"},
    "evening_session": {"vi": "Buổi họp tối tại bản", "en": "Evening village session"},
    "evening_session_invite": {"vi": "Mời {n} người có nguy cơ", "en": "Invite {n} people at risk"},
    "print_sheet": {"vi": "In phiếu đi thăm (A4)", "en": "Print the visit sheet (A4)"},
    "print_now": {"vi": "In", "en": "Print"},
    "sheet_title": {"vi": "Phiếu đi thăm — {day}", "en": "Visit sheet — {day}"},
    "sheet_done": {"vi": "Đã gặp", "en": "Met"},
    "sheet_notes": {"vi": "Ghi chú", "en": "Notes"},
    "sheet_signature": {"vi": "Cán bộ ký tên", "en": "Officer's signature"},
    "expected_averted": {"vi": "Số người giữ được (kỳ vọng): {n}", "en": "Expected lapses averted: {n}"},
    "col_order": {"vi": "TT", "en": "#"},
    "col_action": {"vi": "Hình thức", "en": "Action"},
    "session_here": {"vi": "Có buổi họp tối tại bản", "en": "Evening session in the village"},
    "col_top_reason": {"vi": "Lý do chính", "en": "Top reason"},
    # the provincial office's what-if page (web/whatif.py)
    "whatif_title": {"vi": "Mô phỏng chính sách hỗ trợ đóng BHXH tự nguyện: {province}",
                    "en": "Subsidy what-if for voluntary social insurance: {province}"},
    "whatif_none": {"vi": "Chưa có lần mô phỏng nào cho tỉnh này (chạy dropout whatif).",
                   "en": "No what-if has been run for this province yet (run dropout whatif)."},
    "whatif_as_of": {"vi": "Tính đến ngày {as_of}, trong {months} tháng tới; mô hình {model}",
                    "en": "As of {as_of}, over the next {months} months; model {model}"},
    "whatif_policies": {"vi": "Các chính sách", "en": "Policies"},
    "whatif_side_by_side": {"vi": "So sánh các chính sách (toàn tỉnh)", "en": "Policies side by side (whole province)"},
    "whatif_by_district": {"vi": "Theo huyện", "en": "By district"},
    "whatif_policy": {"vi": "Chính sách", "en": "Policy"},
    "whatif_district": {"vi": "Huyện", "en": "District"},
    "whatif_people": {"vi": "Số người đến hạn", "en": "People due"},
    "whatif_changed": {"vi": "Số người thay đổi mức hỗ trợ", "en": "Support changed for"},
    "whatif_lapses": {"vi": "Thay đổi số dừng đóng dự kiến", "en": "Change in expected lapses"},
    "whatif_kept": {"vi": "Số người giữ được", "en": "Contributors kept"},
    "whatif_months": {"vi": "Số tháng đóng giữ được", "en": "Contribution-months kept"},
    "whatif_cost": {"vi": "Chi ngân sách thêm (đồng/năm)", "en": "Budget cost (VND/year)"},
    "whatif_per_kept": {"vi": "Chi phí cho mỗi người giữ được (đồng)", "en": "Cost per participant kept (VND)"},
    "whatif_trust": {"vi": "Độ tin cậy", "en": "Can the model be trusted here?"},
    "whatif_monotone_yes": {"vi": "Mô hình đơn điệu theo chi phí ròng: có.",
                           "en": "The model is monotone in net cost: yes."},
    "whatif_monotone_no": {"vi": "Mô hình KHÔNG đơn điệu theo chi phí ròng: {features}.",
                          "en": "The model is NOT monotone in net cost: {features}."},
    "whatif_outside": {"vi": "{n} người có chi phí ròng nằm ngoài khoảng dữ liệu huấn luyện ({policy}): kết quả cho họ là ngoại suy.",
                      "en": "{n} people's net costs lie outside the range seen in training ({policy}): their result is an extrapolation."},
    "whatif_plot_cost": {"vi": "Số người giữ được và chi phí", "en": "Contributors kept vs cost"},
    "whatif_plot_district": {"vi": "Số người giữ được theo huyện", "en": "Contributors kept by district"},
    # the monitoring page and its banner (web/monitoring.py)
    "monitor_title": {"vi": "Giám sát mô hình — {district}", "en": "Model monitoring — {district}"},
    "monitor_intro": {"vi": "Mỗi đợt chấm điểm: số người dự kiến ngừng đóng và độ chính xác ước tính (trước hạn nộp), "
                    "bên cạnh kết quả thực tế khi hạn nộp đã qua.",
              "en": "Each scoring run: the expected lapses and estimated accuracy (before the deadline), beside "
                    "what happened once the deadline had passed."},
    "monitor_none": {"vi": "Chưa có kết quả giám sát. Chạy dropout monitor sau khi có dữ liệu mới.",
             "en": "No monitoring yet. Run dropout monitor when a newer export arrives."},
    "monitor_as_of": {"vi": "Ngày chấm điểm", "en": "Scored on"},
    "monitor_scored": {"vi": "Số người", "en": "People"},
    "monitor_expected": {"vi": "Dự kiến ngừng đóng (90 %)", "en": "Expected lapses (90 %)"},
    "monitor_realised": {"vi": "Thực tế ngừng đóng", "en": "Lapses that happened"},
    "monitor_est_auc": {"vi": "AUC ước tính", "en": "Estimated AUC"},
    "monitor_real_auc": {"vi": "AUC thực tế", "en": "Realised AUC"},
    "monitor_status": {"vi": "Trạng thái", "en": "Status"},
    "monitor_ok": {"vi": "Bình thường", "en": "OK"},
    "monitor_alert": {"vi": "Cảnh báo", "en": "Alert"},
    "monitor_pending": {"vi": "chưa đến hạn", "en": "not due yet"},
    "monitor_drift": {"vi": "Dữ liệu đầu vào (toàn mô hình)", "en": "Input data (whole model)"},
    "monitor_banner": {"vi": "Cảnh báo giám sát (đợt {as_of}): {message} {action}",
               "en": "Monitoring alert (run of {as_of}): {message} {action}"},
    "monitor_link": {"vi": "Trang giám sát", "en": "Monitoring page"},
}

# Translations of the data's code values, by kind of value.
LABELS: dict[str, dict[str, dict[str, str]]] = {
    "risk_band": BAND_LABELS,
    "payment_mode": {
        "monthly": {"vi": "Hằng tháng", "en": "Monthly"},
        "quarterly": {"vi": "3 tháng một lần", "en": "Every 3 months"},
        "semiannual": {"vi": "6 tháng một lần", "en": "Every 6 months"},
        "annual": {"vi": "12 tháng một lần", "en": "Yearly"},
        "multi_year": {"vi": "Đóng trước nhiều năm", "en": "Several years ahead"},
    },
    "visit_kind": {
        "home_visit": {"vi": "Thăm tại nhà", "en": "Home visit"},
        "evening_session": {"vi": "Họp tối tại bản", "en": "Evening session"},
        "home_visit+evening_session": {"vi": "Thăm tại nhà + mời họp tối", "en": "Home visit + evening session"},
    },
    "poverty_status": {
        "poor": {"vi": "Hộ nghèo", "en": "Poor"},
        "near_poor": {"vi": "Hộ cận nghèo", "en": "Near-poor"},
        "none": {"vi": "Không thuộc diện", "en": "Neither"},
    },
    "disaster_kind": {
        "storm": {"vi": "Bão", "en": "Storm"},
        "flood": {"vi": "Lũ lụt", "en": "Flood"},
        "flash_flood": {"vi": "Lũ quét", "en": "Flash flood"},
        "landslide": {"vi": "Sạt lở đất", "en": "Landslide"},
        "drought": {"vi": "Hạn hán", "en": "Drought"},
    },
    "sex": {"F": {"vi": "Nữ", "en": "Female"}, "M": {"vi": "Nam", "en": "Male"}},
    "occupation": {
        "farmer": {"vi": "Làm nông", "en": "Farmer"},
        "forest_worker": {"vi": "Làm rừng", "en": "Forest worker"},
        "trader": {"vi": "Buôn bán", "en": "Trader"},
        "wage_worker": {"vi": "Làm thuê", "en": "Wage worker"},
        "village_worker": {"vi": "Người hoạt động không chuyên trách ở thôn", "en": "Village non-specialist worker"},
        "other": {"vi": "Khác", "en": "Other"},
    },
    "language": {
        "Vietnamese": {"vi": "Tiếng Việt", "en": "Vietnamese"},
        "Ta Oi": {"vi": "Tiếng Tà Ôi", "en": "Ta Oi"},
        "Pa Ko": {"vi": "Tiếng Pa Kô", "en": "Pa Ko"},
        "Van Kieu": {"vi": "Tiếng Vân Kiều", "en": "Van Kieu"},
        "Co Tu": {"vi": "Tiếng Cơ Tu", "en": "Co Tu"},
    },
}

RISK_BANDS = BANDS


def normalize_language(value: str | None) -> str:
    """'vi' or 'en'; anything else is the default."""
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


def translate(key: str, lang: str, **values) -> str:
    """The message `key` in `lang`, with `{name}` placeholders filled from `values`."""
    entry = MESSAGES[key]
    text = entry.get(lang) or entry[DEFAULT_LANGUAGE]
    return text.format(**values) if values else text


def messages(prefix: str, lang: str) -> dict[str, str]:
    """The messages whose key starts with `prefix`, in `lang`, keyed without the prefix
    (a page's own texts for its template)."""
    return {key.removeprefix(prefix): entry.get(lang) or entry[DEFAULT_LANGUAGE]
            for key, entry in MESSAGES.items() if key.startswith(prefix)}


def label(kind: str, code, lang: str) -> str:
    """The officer-facing word for a data code (e.g. risk band 'high' -> 'Cao')."""
    if code is None or (not isinstance(code, str) and pd.isna(code)):
        return ""
    entry = LABELS.get(kind, {}).get(str(code))
    if entry is None:
        return str(code)
    return entry.get(lang) or entry[DEFAULT_LANGUAGE]


def format_date(value, lang: str) -> str:
    """A calendar day as dd/mm/yyyy (vi) or yyyy-mm-dd (en); empty for missing."""
    if value is None or pd.isna(value):
        return ""
    ts = pd.Timestamp(value)
    return ts.strftime("%d/%m/%Y") if lang == "vi" else ts.strftime("%Y-%m-%d")


def format_money(value, lang: str) -> str:
    """Whole dong with thousands separators: 1.234.000 ₫ (vi) or 1,234,000 VND (en)."""
    if value is None or pd.isna(value):
        return ""
    text = f"{int(round(float(value))):,}"
    return f"{text.replace(',', '.')} ₫" if lang == "vi" else f"{text} VND"


def format_percent(value, lang: str) -> str:
    if value is None or pd.isna(value):
        return ""
    return f"{float(value) * 100:.0f}%"


# ---------------------------------------------------------------- officers' lists (issue 11)

MESSAGES.update({
    "col_name": {"vi": "Họ tên", "en": "Name"},
    "col_phone": {"vi": "Điện thoại", "en": "Phone"},
    "col_address": {"vi": "Địa chỉ", "en": "Address"},
    "col_action_suggested": {"vi": "Việc nên làm", "en": "Suggested action"},
    "col_done": {"vi": "Tình hình", "en": "Since scoring"},
    "col_arrears_months": {"vi": "Số tháng nợ", "en": "Months owed"},
    "col_arrears_vnd": {"vi": "Số tiền nợ", "en": "Amount owed"},
    "col_arrears_since": {"vi": "Nợ từ hạn", "en": "Owed since"},
    "col_lump_sum_from": {"vi": "Có thể rút một lần từ", "en": "Lump sum possible from"},
    "no_phone": {"vi": "chưa có số", "en": "no number"},
    "paid_on_since": {"vi": "Đã đóng ngày {day}", "en": "Paid on {day}"},
    "made_up_on_since": {"vi": "Đã đóng bù ngày {day}", "en": "Made up on {day}"},
    "visited_on_since": {"vi": "Đã thăm ngày {day}", "en": "Visited on {day}"},
    "call_list": {"vi": "Danh sách gọi điện", "en": "Call list"},
    "call_list_title": {"vi": "Gọi điện — xã {commune}", "en": "Call list — {commune}"},
    "call_list_intro": {"vi": "Những người chưa đóng và chưa được thăm, nguy cơ cao trước. Bấm số để gọi.",
                        "en": "People who have not paid and were not visited yet, highest risk first. Tap a number to call."},
    "arrears_list": {"vi": "Người đang nợ", "en": "Members in arrears"},
    "arrears_title": {"vi": "Người đang nợ — xã {commune}", "en": "Members in arrears — {commune}"},
    "arrears_intro": {"vi": "Những người đang bị tạm dừng vì chưa đóng: số tháng và số tiền cần đóng bù, hạn đóng tới. "
                               "Người tham gia trước 01/07/2025 gián đoạn đủ 12 tháng có thể rút bảo hiểm một lần.",
                      "en": "Members suspended for not paying: the months and amount to make up, and the next deadline. "
                            "Members who joined before 1 July 2025 may take the lump sum after 12 months outside insurance."},
    "scored_on": {"vi": "Danh sách lập ngày {day}", "en": "Scored on {day}"},
    "payments_as_of": {"vi": "tình hình đóng tiền cập nhật đến {day}", "en": "payments known up to {day}"},
    "stale_warning": {"vi": "Danh sách này lập ngày {day}; hạn đóng {deadline} đã qua. Hãy lập danh sách mới.",
                      "en": "These lists were scored on {day}; the deadline of {deadline} has passed. Score again."},
    "plan_excel": {"vi": "Tải kế hoạch (Excel)", "en": "Download the plan (Excel)"},
    "plan_week_kept": {"vi": "Cả tuần: dự kiến giữ lại khoảng {n} người", "en": "This week: about {n} people expected to keep paying"},
    "plan_day_title": {"vi": "{weekday} {day} — {pool}", "en": "{weekday} {day} — {pool}"},
    "plan_day_trips": {"vi": "{trips} chuyến", "en": "{trips} trip(s)"},
    "sheet_meeting": {"vi": "Giờ và nơi gặp", "en": "Time and place"},
    "sheet_depart": {"vi": "Xuất phát {time} từ trụ sở huyện", "en": "Leave the district office at {time}"},
    "sheet_arrive": {"vi": "đến thôn khoảng {time}", "en": "arrive at about {time}"},
    "sheet_session_at": {"vi": "Họp thôn {time} tại nhà văn hóa {village}", "en": "Evening session at {time}, {village} meeting house"},
    "sheet_homes": {"vi": "Thăm tại nhà (địa chỉ trong bảng)", "en": "Home visits (addresses below)"},
    "visit_outcome": {"vi": "Kết quả", "en": "Outcome"},
    "visit_promised_on": {"vi": "Hẹn đóng trước ngày", "en": "Promised to pay by"},
    "visit_refusal_reason": {"vi": "Lý do từ chối", "en": "Reason for refusing"},
    "visit_outcome_none": {"vi": "(chưa ghi)", "en": "(not recorded)"},
    "visit_error_outcome": {"vi": "Kết quả không hợp lệ.", "en": "Choose an outcome from the list."},
    "visit_error_promised": {"vi": "Khi hẹn đóng, hãy ghi ngày hẹn (không quá 6 tháng tới).",
                             "en": "A promise needs the date they will pay by (within 6 months)."},
    "visit_error_refusal": {"vi": "Chọn lý do từ chối trong danh sách.", "en": "Choose the reason for refusing from the list."},
    "col_outcome": {"vi": "Kết quả", "en": "Outcome"},
    "phone_call": {"vi": "Gọi", "en": "Call"},
    "n_people": {"vi": "{n} người", "en": "{n} people"},
})

LABELS.update({
    "visit_outcome": {
        "promised": {"vi": "Hứa sẽ đóng", "en": "Promised to pay"},
        "paid": {"vi": "Đã đóng tại chỗ", "en": "Paid on the spot"},
        "refused": {"vi": "Từ chối", "en": "Refused"},
        "not_home": {"vi": "Không có nhà", "en": "Not at home"},
        "moved_away": {"vi": "Đã chuyển đi", "en": "Moved away"},
    },
    "refusal_reason": {
        "cannot_afford": {"vi": "Không đủ tiền", "en": "Cannot afford it"},
        "no_trust": {"vi": "Không tin chính sách", "en": "Does not trust the scheme"},
        "no_benefit_soon": {"vi": "Thấy lâu mới được hưởng", "en": "Benefits are too far off"},
        "family_decides": {"vi": "Gia đình quyết định", "en": "The family decides"},
        "other": {"vi": "Lý do khác", "en": "Other"},
    },
    "status": {
        "paying": {"vi": "Đang đóng", "en": "Paying"},
        "in_arrears": {"vi": "Đang nợ", "en": "In arrears"},
    },
})

WEEKDAYS = {"vi": ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật"),
            "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")}
