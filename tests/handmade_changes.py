"""Hand-made snapshots for the datasets about what changed between two snapshots (SPEC §5).

Four snapshot dates with a gap of seven days without snapshots between the second and the third:

    2026-03-01  only WEST reported
    2026-03-02  C, the default comparison date for S = 2026-03-12 (latest date <= S - 7 = 03-05);
                WEST's extract is missing
    2026-03-10
    2026-03-12  S, the latest

Only rules that are easy to switch on and off are used: `fallout` (open and a fallout code) and
`repeat_visit` (truck_rolls >= 2, terminal rows too), plus `missing_from_snapshot`. Every order is
awaiting network (stall limit 45 days, never reached here) unless said otherwise. The orders:

    N1  fallout at C and at S                                -> fallout persisting
    N2  fallout at C, cleared by S                           -> fallout resolved
    N3  no exception at C, fallout at S                      -> fallout new
    N4  fallout at C, off on 03-10, on again at S            -> fallout persisting (only C and S count)
    N5  off at C, on on 03-10, off again at S                -> not listed
    N6  fallout and 2 truck rolls at C, cancelled at S       -> fallout resolved, repeat_visit persisting
    N7  fallout at C and 03-10, absent at S                  -> fallout resolved, missing_from_snapshot new
    N8  fallout at C, absent on 03-10 and at S               -> fallout resolved (market from C)
    M1  NORTH with fallout at C, SOUTH with fallout at S     -> fallout persisting, market SOUTH
    B1  scheduled at C, awaiting network at S                -> moved backwards 2 stages
    S1  SOUTH, fallout at C and at S                         -> fallout persisting
    S2  SOUTH, 0 truck rolls at C, 2 at S                    -> repeat_visit new
    W1  WEST, fallout on every date WEST reported            -> fallout new, but WEST did not report at C

MRR per order is constant: N1 10, N2 20, N3 30, N4 40, N5 50, N6 60, N7 70, N8 80, M1 100, B1 200,
S1 300, S2 400, W1 1000.
"""

from __future__ import annotations

import datetime as dt

D1, C, D3, S = dt.date(2026, 3, 1), dt.date(2026, 3, 2), dt.date(2026, 3, 10), dt.date(2026, 3, 12)

ROWS = """
snapshot_date | order_id | market | stage            | ordered_at | cancelled_at | truck_rolls | mrr  | fallout_code
2026-03-01    | W1       | WEST   | awaiting_network | 2026-02-20 |              | 0           | 1000 | F
# C: WEST's extract is missing
2026-03-02    | N1       | NORTH  | awaiting_network | 2026-02-20 |              | 0           | 10   | F
2026-03-02    | N2       | NORTH  | awaiting_network | 2026-02-20 |              | 0           | 20   | F
2026-03-02    | N3       | NORTH  | awaiting_network | 2026-02-20 |              | 0           | 30   |
2026-03-02    | N4       | NORTH  | awaiting_network | 2026-02-20 |              | 0           | 40   | F
2026-03-02    | N5       | NORTH  | awaiting_network | 2026-02-20 |              | 0           | 50   |
2026-03-02    | N6       | NORTH  | awaiting_network | 2026-02-20 |              | 2           | 60   | F
2026-03-02    | N7       | NORTH  | awaiting_network | 2026-02-20 |              | 0           | 70   | F
2026-03-02    | N8       | NORTH  | awaiting_network | 2026-02-20 |              | 0           | 80   | F
2026-03-02    | M1       | NORTH  | awaiting_network | 2026-02-20 |              | 0           | 100  | F
2026-03-02    | B1       | NORTH  | scheduled        | 2026-02-20 |              | 0           | 200  |
2026-03-02    | S1       | SOUTH  | awaiting_network | 2026-02-20 |              | 0           | 300  | F
2026-03-02    | S2       | SOUTH  | awaiting_network | 2026-02-20 |              | 0           | 400  |
# 2026-03-03 to 2026-03-09: no snapshots
2026-03-10    | N1       | NORTH  | awaiting_network | 2026-02-20 |              | 0           | 10   | F
2026-03-10    | N2       | NORTH  | awaiting_network | 2026-02-20 |              | 0           | 20   |
2026-03-10    | N3       | NORTH  | awaiting_network | 2026-02-20 |              | 0           | 30   |
2026-03-10    | N4       | NORTH  | awaiting_network | 2026-02-20 |              | 0           | 40   |
2026-03-10    | N5       | NORTH  | awaiting_network | 2026-02-20 |              | 0           | 50   | F
2026-03-10    | N6       | NORTH  | awaiting_network | 2026-02-20 |              | 2           | 60   | F
2026-03-10    | N7       | NORTH  | awaiting_network | 2026-02-20 |              | 0           | 70   | F
2026-03-10    | M1       | SOUTH  | awaiting_network | 2026-02-20 |              | 0           | 100  | F
2026-03-10    | B1       | NORTH  | awaiting_network | 2026-02-20 |              | 0           | 200  |
2026-03-10    | S1       | SOUTH  | awaiting_network | 2026-02-20 |              | 0           | 300  | F
2026-03-10    | S2       | SOUTH  | awaiting_network | 2026-02-20 |              | 0           | 400  |
2026-03-10    | W1       | WEST   | awaiting_network | 2026-02-20 |              | 0           | 1000 | F
# S
2026-03-12    | N1       | NORTH  | awaiting_network | 2026-02-20 |              | 0           | 10   | F
2026-03-12    | N2       | NORTH  | awaiting_network | 2026-02-20 |              | 0           | 20   |
2026-03-12    | N3       | NORTH  | awaiting_network | 2026-02-20 |              | 0           | 30   | F
2026-03-12    | N4       | NORTH  | awaiting_network | 2026-02-20 |              | 0           | 40   | F
2026-03-12    | N5       | NORTH  | awaiting_network | 2026-02-20 |              | 0           | 50   |
2026-03-12    | N6       | NORTH  | cancelled        | 2026-02-20 | 2026-03-11   | 2           | 60   | F
2026-03-12    | M1       | SOUTH  | awaiting_network | 2026-02-20 |              | 0           | 100  | F
2026-03-12    | B1       | NORTH  | awaiting_network | 2026-02-20 |              | 0           | 200  |
2026-03-12    | S1       | SOUTH  | awaiting_network | 2026-02-20 |              | 0           | 300  | F
2026-03-12    | S2       | SOUTH  | awaiting_network | 2026-02-20 |              | 2           | 400  |
2026-03-12    | W1       | WEST   | awaiting_network | 2026-02-20 |              | 0           | 1000 | F
"""
