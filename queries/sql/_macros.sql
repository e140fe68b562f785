-- Shared building blocks, created as temporary macros on every connection the query layer opens.
-- Each SPEC definition lives here exactly once: the filtered snapshot with its ages, each order's
-- latest row as of a date, and every exception rule. Datasets only combine them.

-- A row passes the market / product / segment filters; a NULL list means "all".
create or replace temp macro opslens_passes(markets, products, segments, market_value, product_value, segment_value) as
    (markets is null or list_contains(markets, market_value))
    and (products is null or list_contains(products, product_value))
    and (segments is null or list_contains(segments, segment_value));

-- snap(S): the filtered rows with snapshot_date = S, with age in stage and age since order (SPEC §2).
-- Age in stage uses stage_entered_at when given, else the start of the order's unbroken run of rows in
-- this stage (stage_run_start, maintained at ingest; days the order is absent do not break the run).
create or replace temp macro opslens_snap(as_of, markets, products, segments) as table
    select
        s.*,
        st.stage_index,
        st.is_open,
        as_of - coalesce(s.stage_entered_at::date, s.stage_run_start) as age_in_stage_days,
        as_of - s.ordered_at::date as age_days
    from snapshots s
    join stages st using (stage)
    where s.snapshot_date = as_of
      and opslens_passes(markets, products, segments, s.market, s.product, s.segment);

-- The dates a trend shows: the store's snapshot dates up to S, within [start, end] when given.
create or replace temp macro opslens_trend_dates(as_of, start_date, end_date) as table
    select distinct snapshot_date
    from market_days
    where snapshot_date <= as_of
      and (start_date is null or snapshot_date >= start_date)
      and (end_date is null or snapshot_date <= end_date);

-- Each order's latest row as of S (greatest snapshot_date <= S), filtered, among the rows of a
-- LATEST_AS_OF table (opslens/store.py): `invoiced_rows` for the install-to-invoice population,
-- `ready_rows` for order to ready. A row of those tables is the latest as of S when S lies in
-- [snapshot_date, next_snapshot_date); ingest keeps them, so no date reads the history.
create or replace temp macro opslens_latest_as_of(latest_table, as_of, markets, products, segments) as table
    select r.*
    from query_table(latest_table) r
    where r.snapshot_date <= as_of
      and (r.next_snapshot_date is null or r.next_snapshot_date > as_of)
      and opslens_passes(markets, products, segments, r.market, r.product, r.segment);

-- The exception rules in the SPEC's order: how exceptions are sorted and ties between rules broken.
create or replace temp macro opslens_rule_order() as table
    select * from (values
        ('stalled', 1), ('overdue_appointment', 2), ('missed_appointment', 3), ('repeat_visit', 4),
        ('scheduled_before_ready', 5), ('invoiced_before_activation', 6), ('stage_mismatch', 7),
        ('fallout', 8), ('missing_from_snapshot', 9)
    ) as rule_order(rule, rule_index);

-- snap(S) with the exception rules each row breaks (SPEC §2 "Exceptions"): one flag per rule, and
-- `rules`, the list of the broken ones in rule order ([] for none). Every rule about a row is defined
-- here and only here (missing_from_snapshot is about an absent row: see opslens_exceptions). A
-- dataset that needs one rule reads its flag, and DuckDB computes only that.
-- stall_limits: days per open stage, as a list in lifecycle order (indexed by stage_index).
create or replace temp macro opslens_snap_rules(as_of, markets, products, segments, stall_limits) as table
with flagged as (
    select
        *,
        coalesce(is_open and age_in_stage_days > stall_limits[stage_index], false) as is_stalled,
        coalesce(stage = 'scheduled' and appointment_at::date < as_of, false) as is_overdue_appointment,
        coalesce(is_open and missed_appointments >= 1, false) as is_missed_appointment,
        coalesce(truck_rolls >= 2, false) as is_repeat_visit,
        coalesce(is_open and appointment_at is not null
                 and (network_ready_at is null or network_ready_at > appointment_at), false) as is_scheduled_before_ready,
        coalesce(invoiced_at is not null and (activated_at is null or activated_at > invoiced_at), false)
            as is_invoiced_before_activation,
        -- the lifecycle position the milestones imply: invoiced (7) > activated (6) > installed (5)
        is_open and stage_index < case when invoiced_at is not null then 7
                                       when activated_at is not null then 6
                                       when installed_at is not null then 5
                                       else 0 end as is_stage_mismatch,
        is_open and fallout_code is not null as is_fallout
    from opslens_snap(as_of, markets, products, segments)
)
select
    *,
    list_filter([
        case when is_stalled then 'stalled' end,
        case when is_overdue_appointment then 'overdue_appointment' end,
        case when is_missed_appointment then 'missed_appointment' end,
        case when is_repeat_visit then 'repeat_visit' end,
        case when is_scheduled_before_ready then 'scheduled_before_ready' end,
        case when is_invoiced_before_activation then 'invoiced_before_activation' end,
        case when is_stage_mismatch then 'stage_mismatch' end,
        case when is_fallout then 'fallout' end
    ], lambda rule: rule is not null) as rules
from flagged;

-- Exceptions at S: one row per order and rule (SPEC §2 "Exceptions").
create or replace temp macro opslens_exceptions(as_of, markets, products, segments, stall_limits) as table
with rule_hits as (
    select * exclude (rules), unnest(rules) as rule
    from opslens_snap_rules(as_of, markets, products, segments, stall_limits)
),
-- missing_from_snapshot: open at the market's previous snapshot, absent at S, market reported at S.
previous_day as (
    select market, max(snapshot_date) as previous_date
    from market_days
    where snapshot_date < as_of
      and market in (select market from market_days where snapshot_date = as_of)
    group by market
),
missing as (
    select
        p.*,
        st.stage_index,
        st.is_open,
        as_of - coalesce(p.stage_entered_at::date, p.stage_run_start) as age_in_stage_days,
        as_of - p.ordered_at::date as age_days,
        'missing_from_snapshot' as rule
    from snapshots p
    join previous_day d on p.market = d.market and p.snapshot_date = d.previous_date
    join stages st on st.stage = p.stage
    where st.is_open
      and opslens_passes(markets, products, segments, p.market, p.product, p.segment)
      -- an order whose next row is dated S is at S: only the others need looking up
      and p.next_snapshot_date is distinct from as_of
      and not exists (select 1 from snapshots s where s.snapshot_date = as_of and s.order_id = p.order_id)
),
final as (
    select
        h.order_id, h.market, h.stage, h.rule, h.age_in_stage_days, h.mrr,
        h.product, h.segment, h.age_days, h.stage_index, o.rule_index
    from (select * from rule_hits union all by name select * from missing) h
    join opslens_rule_order() o using (rule)
)
select * from final;

-- Install to invoice population: orders whose latest row as of S passes the filters and has both
-- installed_at and invoiced_at, optionally installed within [start_date, end_date] (SPEC §2).
create or replace temp macro opslens_invoiced(as_of, markets, products, segments, start_date, end_date) as table
    select
        *,
        invoiced_at::date - installed_at::date as install_to_invoice_days,
        activated_at::date - installed_at::date as install_to_activation_days,
        invoiced_at::date - activated_at::date as activation_to_invoice_days,
        date_trunc('week', installed_at)::date as install_week
    from opslens_latest_as_of('invoiced_rows', as_of, markets, products, segments)
    where installed_at is not null and invoiced_at is not null
      and (start_date is null or installed_at::date >= start_date)
      and (end_date is null or installed_at::date <= end_date);

-- Installed but not invoiced at S: rows of snap(S) with installed_at, without invoiced_at, not cancelled.
create or replace temp macro opslens_unbilled(as_of, markets, products, segments) as table
    select *, as_of - installed_at::date as days_since_install
    from opslens_snap(as_of, markets, products, segments)
    where installed_at is not null and invoiced_at is null and stage <> 'cancelled';

-- The Overview's headline measures at S under the filters, one row (queries/headline.py). Each is read
-- off the definitions above, so a tile shows the same number as the page it summarises.
create or replace temp macro opslens_measures(as_of, markets, products, segments, stall_limits) as table
with open_rows as (
    select stage, coalesce(mrr, 0) as mrr
    from opslens_snap(as_of, markets, products, segments)
    where is_open
),
backlog as (
    select
        count(*)::double as open_orders,
        coalesce(sum(mrr), 0)::double as backlog_mrr,
        count(*) filter (where stage = 'awaiting_network')::double / nullif(count(*), 0) as awaiting_network_share
    from open_rows
),
exception_orders as (
    select count(distinct order_id)::double as exception_orders
    from opslens_exceptions(as_of, markets, products, segments, stall_limits)
),
install_to_invoice as (
    select quantile_cont(install_to_invoice_days, 0.85)::double as install_to_invoice_p85
    from opslens_invoiced(as_of, markets, products, segments, null, null)
),
unbilled as (
    select coalesce(sum(mrr), 0)::double as unbilled_mrr
    from opslens_unbilled(as_of, markets, products, segments)
)
select * from backlog, exception_orders, install_to_invoice, unbilled;

-- ---- Flow and forecasts (SPEC §6; docs/forecasts.md) ----------------------------------------------

-- The history window of S: the calendar days in (S - history, S] on or after the first snapshot date
-- of the filtered markets (days before the store began are not zero days, they are unknown).
create or replace temp macro opslens_history_start(as_of, history, markets) as (
    select greatest(as_of - history + 1, min(snapshot_date))
    from market_days
    where snapshot_date <= as_of and (markets is null or list_contains(markets, market))
);

-- Orders that left an open stage on a snapshot date d of S's history window: the row at d is in
-- another stage than the order's own previous row (backlog_flow's outflow), with the days the order
-- had spent in the stage it left: d - the date it entered it (date(stage_entered_at) of the previous
-- row when given, else that row's stage_run_start), i.e. days in stage up to the snapshot that
-- first shows it gone. Market, product and segment are the leaving row's.
create or replace temp macro opslens_stage_leavers(as_of, history, markets, products, segments) as table
    select
        s.order_id,
        s.market,
        s.previous_stage as stage,
        s.snapshot_date as left_on,
        s.snapshot_date - coalesce(p.stage_entered_at::date, p.stage_run_start) as days_in_stage
    from snapshots s
    join snapshots p on p.order_id = s.order_id and p.next_snapshot_date = s.snapshot_date
    join stages st on st.stage = s.previous_stage
    where s.snapshot_date >= opslens_history_start(as_of, history, markets)
      and s.snapshot_date <= as_of
      and p.next_snapshot_date >= opslens_history_start(as_of, history, markets)
      and p.next_snapshot_date <= as_of
      and s.previous_stage <> s.stage
      and st.is_open
      and opslens_passes(markets, products, segments, s.market, s.product, s.segment);
