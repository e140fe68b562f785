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

-- The exception rules in their order (the RULES registry, queries/catalog.py): how exceptions are
-- sorted and ties between rules broken. The values are written from the registry when the macros
-- are installed (queries/db.py).
create or replace temp macro opslens_rule_order() as table
    select * from (values
        /* RULE_ORDER */
    ) as rule_order(rule, rule_index);

-- snap(S) with the exception rules each row breaks (SPEC §2 "Exceptions"): one flag column per rule
-- (`is_<rule>`), and `rules`, the list of the broken ones in rule order ([] for none). Each rule's
-- condition is written once, in the RULES registry (queries/catalog.py), and put here when the
-- macros are installed (missing_from_snapshot is about an absent row: see opslens_exceptions). A
-- dataset that needs one rule reads its flag, and DuckDB computes only that.
-- stall_limits: days per open stage, as a list in lifecycle order (indexed by stage_index).
create or replace temp macro opslens_snap_rules(as_of, markets, products, segments, stall_limits) as table
with flagged as (
    select
        *,
        /* RULE_FLAGS */
    from opslens_snap(as_of, markets, products, segments)
)
select
    *,
    list_filter([
        /* RULE_LIST */
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

-- Orders with exceptions at S: one row per order breaking at least one rule (any rule, also on a
-- terminal row or an order missing from the snapshot), with its market, MRR and how many rules it
-- breaks. The one definition of "orders with exceptions": the headline tile, the Exceptions page's
-- summary and market attention all count these rows.
create or replace temp macro opslens_exception_orders(as_of, markets, products, segments, stall_limits) as table
    select order_id, any_value(market) as market, any_value(coalesce(mrr, 0)) as mrr, count(*) as rules_broken
    from opslens_exceptions(as_of, markets, products, segments, stall_limits)
    group by order_id;

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
    select count(*)::double as exception_orders
    from opslens_exception_orders(as_of, markets, products, segments, stall_limits)
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

-- What changed between the comparison date C and S (SPEC §5) -----------------------------------------

-- Which markets delivered an extract on C and on S: rows each date (0 = missing) and whether both came.
-- Every market of the store, whatever the filters (a missing extract is about the feed, not the view).
create or replace temp macro opslens_reporting(as_of, compare_to) as table
    select
        market,
        coalesce(sum(rows) filter (where snapshot_date = compare_to), 0) as rows_then,
        coalesce(sum(rows) filter (where snapshot_date = as_of), 0) as rows_now,
        rows_then > 0 and rows_now > 0 as reported_both
    from market_days
    group by market;

-- Exceptions at S against exceptions at C: one row per (order, rule) in either, under the same filters
-- at each date (opslens_exceptions evaluated twice; no rule is restated here). change: new (at S only),
-- resolved (at C only), persisting (both). The stages are those of the exception rows (null where the
-- order has no such row). market is the order's market at S, else at C: an exception resolved because
-- the order moved to another market, or left the filtered view, is reported where the order is now.
create or replace temp macro opslens_exception_changes(as_of, compare_to, markets, products, segments, stall_limits) as table
with now_rows as (
    select order_id, rule, market, stage, mrr, rule_index
    from opslens_exceptions(as_of, markets, products, segments, stall_limits)
),
then_rows as (
    select order_id, rule, market, stage, mrr, rule_index
    from opslens_exceptions(compare_to, markets, products, segments, stall_limits)
),
paired as (
    select
        coalesce(n.order_id, t.order_id) as order_id,
        coalesce(n.rule, t.rule) as rule,
        coalesce(n.rule_index, t.rule_index) as rule_index,
        case when t.order_id is null then 'new' when n.order_id is null then 'resolved' else 'persisting' end
            as change,
        t.stage as stage_then,
        n.stage as stage_now,
        t.market as exception_market_then,
        n.market as exception_market_now,
        coalesce(n.mrr, t.mrr) as mrr
    from now_rows n
    full join then_rows t on n.order_id = t.order_id and n.rule = t.rule
),
-- The order's own row on the other date, whatever the filters: where it is now (or was then).
rows_now as (
    select order_id, market from snapshots
    where snapshot_date = as_of and order_id in (select order_id from paired where change = 'resolved')
),
rows_then as (
    select order_id, market from snapshots
    where snapshot_date = compare_to and order_id in (select order_id from paired where change = 'new')
),
located as (
    select
        p.*,
        coalesce(p.exception_market_now, rn.market) as market_now,
        coalesce(p.exception_market_then, rt.market) as market_then
    from paired p
    left join rows_now rn on p.change = 'resolved' and rn.order_id = p.order_id
    left join rows_then rt on p.change = 'new' and rt.order_id = p.order_id
)
select
    l.order_id,
    coalesce(l.market_now, l.market_then) as market,
    l.rule, l.change, l.stage_then, l.stage_now, l.market_then, l.market_now, l.mrr,
    coalesce(r.reported_both, false) as reported_both,
    l.rule_index,
    case l.change when 'new' then 1 when 'resolved' then 2 else 3 end as change_index
from located l
left join opslens_reporting(as_of, compare_to) r on r.market = coalesce(l.market_now, l.market_then);
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
-- first shows it gone. Market, product and segment are the leaving row's. Reads stage_exits, kept by
-- ingest (opslens/store.py STAGE_EXITS_SELECT), so the history is never joined with itself.
create or replace temp macro opslens_stage_leavers(as_of, history, markets, products, segments) as table
    select e.order_id, e.market, e.stage, e.left_on, e.days_in_stage
    from stage_exits e
    join stages st on st.stage = e.stage
    where e.left_on >= opslens_history_start(as_of, history, markets)
      and e.left_on <= as_of
      and st.is_open
      and opslens_passes(markets, products, segments, e.market, e.product, e.segment);
