"""What-if of subsidy policies: re-score under a changed subsidy table, count who is kept, and the cost.

    policy.py   policy files (validated at the door) and applying one to the subsidy table
    core.py     re-scoring over the horizon, totals by district / commune / ethnic group /
                poverty status, budget cost, training-range and monotonicity checks
    report.py   the HTML report with plots, and the files a run writes
"""

from dropout.whatif.core import CURRENT, DIMENSIONS, WhatIf, parse_horizon, run_whatif
from dropout.whatif.policy import Policy, PolicyError, apply_policy, known_provinces, read_policy_file

__all__ = ["CURRENT", "DIMENSIONS", "Policy", "PolicyError", "WhatIf", "apply_policy", "known_provinces",
           "parse_horizon", "read_policy_file", "run_whatif"]
