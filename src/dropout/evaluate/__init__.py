"""Evaluation of risk scores: metrics (incl. fairlearn group breakdowns) and the HTML report."""
