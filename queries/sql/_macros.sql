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

-- missing_from_snapshot at S (SPEC §2 "Exceptions"): open at the market's previous snapshot (the latest
-- date before S with rows for that market), absent at S, while the market has rows at S. One row per
-- such order: its row at that previous snapshot, with its ages at S.
create or replace temp macro opslens_missing_from_snapshot(as_of, markets, products, segments) as table
with previous_day as (
    select market, max(snapshot_date) as previous_date
    from market_days
    where snapshot_date < as_of
      and market in (select market from market_days where snapshot_date = as_of)
    group by market
)
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
  -- redundant with the join, but lets the scan skip the row groups of other dates
  and p.snapshot_date in (select previous_date from previous_day)
  and opslens_passes(markets, products, segments, p.market, p.product, p.segment)
  -- an order whose next row is dated S is at S: only the others need looking up
  and p.next_snapshot_date is distinct from as_of
  and not exists (select 1 from snapshots s where s.snapshot_date = as_of and s.order_id = p.order_id);

-- Exceptions at S: one row per order and rule (SPEC §2 "Exceptions").
create or replace temp macro opslens_exceptions(as_of, markets, products, segments, stall_limits) as table
with rule_hits as (
    select * exclude (rules), unnest(rules) as rule
    from opslens_snap_rules(as_of, markets, products, segments, stall_limits)
),
missing as (
    select * from opslens_missing_from_snapshot(as_of, markets, products, segments)
),
final as (
    select
        h.order_id, h.market, h.stage, h.rule, h.age_in_stage_days, h.mrr,
        h.product, h.segment, h.age_days, h.stage_index, o.rule_index
    from (select * from rule_hits union all by name select * from missing) h
    join opslens_rule_order() o using (rule)
)
select * from final;

-- opslens_exceptions with each row's rules as bits instead of one row per rule, read off S's table of
-- opslens_day_bits (`day_table`, its name; queries/daybits.py): one row per row of snap(S) breaking some
-- rule and per order missing from it (`row_market` null), with `bits`, bit rule_index
-- (opslens_rule_order) set for each rule it breaks (opslens_has_rule, opslens_rules_of_bits). For what
-- only counts exception rows: it skips building, unnesting and joining each row's list of rules.
create or replace temp macro opslens_exception_bits(day_table, markets, products, segments) as table
    select order_id, row_market, market, stage, mrr, bits
    from query_table(day_table)
    where bits <> 0 and opslens_passes(markets, products, segments, market, product, segment);

-- Orders with exceptions at S: one row per order breaking at least one rule (any rule, also on a
-- terminal row or an order missing from the snapshot), with its market, MRR and how many rules it
-- breaks. The one definition of "orders with exceptions": the headline tile, the Exceptions page's
-- summary and market attention all count these rows. (Kept on opslens_exceptions: grouping
-- opslens_exception_bits instead gives the same orders, but the MRR sums of its callers, added in the
-- order the groups come out, can then differ in the last bit.)
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
-- off the definitions above, so a tile shows the same number as the page it summarises. For CPU (the
-- Overview is the most viewed page) the orders with exceptions are counted off S's table of
-- opslens_day_bits (`day_table`) more cheaply than opslens_exception_orders lists them, with the same
-- count (tests/test_dataset_attention_headline.py holds the tiles to the datasets).
create or replace temp macro opslens_measures(as_of, day_table, markets, products, segments) as table
with open_rows as (
    select stage, coalesce(mrr, 0) as mrr
    from opslens_snap(as_of, markets, products, segments)
    where is_open
),
backlog as (
    -- its own scan (of two columns: cheap): an MRR sum over rows filtered in the aggregate instead can
    -- round differently in the last bit, and the tile must show the backlog page's number
    select
        count(*)::double as open_orders,
        coalesce(sum(mrr), 0)::double as backlog_mrr,
        count(*) filter (where stage = 'awaiting_network')::double / nullif(count(*), 0) as awaiting_network_share
    from open_rows
),
exception_orders as (
    -- opslens_exception_orders' orders, counted off the day's bits: the rows of snap(S) breaking some rule
    -- (one per order there), and the orders missing from it, absent at S by definition so never also a
    -- row of snap(S); distinct because an order could be missing in two markets
    select
        count(*) filter (where row_market is not null)
        + count(distinct order_id) filter (where row_market is null) as exception_orders
    from opslens_exception_bits(day_table, markets, products, segments)
),
unbilled as (
    select coalesce(sum(mrr), 0)::double as unbilled_mrr
    from opslens_unbilled(as_of, markets, products, segments)
),
install_to_invoice as (
    select quantile_cont(install_to_invoice_days, 0.85)::double as install_to_invoice_p85
    from opslens_invoiced(as_of, markets, products, segments, null, null)
)
select
    b.open_orders,
    b.backlog_mrr,
    b.awaiting_network_share,
    e.exception_orders::double as exception_orders,
    i.install_to_invoice_p85,
    u.unbilled_mrr
from backlog b, exception_orders e, install_to_invoice i, unbilled u;

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

-- The exceptions of one snapshot date D as one row per order, unfiltered: every row of snap(D) with
-- `bits`, bit rule_index (opslens_rule_order) set for each rule the row breaks there (opslens_snap_rules'
-- flags; 0: none), and one row per order missing from D (opslens_missing_from_snapshot: `row_market`
-- null, its row at the market's previous snapshot, the missing_from_snapshot bit). A day's bits do not
-- depend on the filters (applied by opslens_exception_bits and opslens_exception_bits_on), so
-- queries/daybits.py computes them once per store file version and date and keeps them in a table.
create or replace temp macro opslens_day_bits(on_date, stall_limits) as table
select order_id, market as row_market, market, product, segment, stage, mrr, /* RULE_BITS */ as bits
from opslens_snap_rules(on_date, null, null, null, stall_limits)
union all
select m.order_id, null as row_market, m.market, m.product, m.segment, m.stage, m.mrr, 1 << o.rule_index as bits
from opslens_missing_from_snapshot(on_date, null, null, null) m
join opslens_rule_order() o using (rule);

-- One row per order at D with an exception there or a row there, from D's table of opslens_day_bits
-- (`day_table`, its name): its row's market (null when absent), the market, stage and MRR of its
-- exception rows, and its rules at D under the filters as bits (0: none). The exceptions are
-- opslens_exceptions' (the rule flags of each row that passes the filters, and missing_from_snapshot),
-- as bits instead of one row per rule; where the order's row is is kept whatever the filters.
create or replace temp macro opslens_exception_bits_on(day_table, markets, products, segments) as table
with day as (
    select *, opslens_passes(markets, products, segments, market, product, segment) as passes
    from query_table(day_table)
)
select order_id, row_market, market, stage, mrr, case when passes then bits else 0 end as bits
from day
where passes or row_market is not null;

-- Exceptions at S against exceptions at C, per order: one row per order with an exception at C or at S
-- under the same filters at each date. Each date's table of opslens_day_bits (`now_table` for S,
-- `then_table` for C) is read once and paired by order: for each date the order's rules there (bits, 0
-- for none), the market, stage and MRR of its exception rows and the market of its row whatever the
-- filters (null when absent).
create or replace temp macro opslens_exception_pairs(now_table, then_table, markets, products, segments) as table
    select
        order_id,
        coalesce(n.bits, 0) as bits_now,
        n.market as exception_market_now, n.row_market as row_market_now, n.stage as stage_now, n.mrr as mrr_now,
        coalesce(t.bits, 0) as bits_then,
        t.market as exception_market_then, t.row_market as row_market_then, t.stage as stage_then, t.mrr as mrr_then
    from opslens_exception_bits_on(now_table, markets, products, segments) n
    full join opslens_exception_bits_on(then_table, markets, products, segments) t using (order_id)
    where coalesce(n.bits, 0) <> 0 or coalesce(t.bits, 0) <> 0;

-- Whether the rule of index `rule_index` is among `bits` (opslens_day_bits).
create or replace temp macro opslens_has_rule(bits, rule_index) as bits & (1 << rule_index) <> 0;

-- Every combination of rule bits with its rules: one row per (bits, rule), so an order's rules are
-- found by an equality join on its bits rather than by testing each rule against each order.
create or replace temp macro opslens_rules_of_bits() as table
    select b.bits, o.rule, o.rule_index
    from range((select 2 << max(rule_index) from opslens_rule_order())) b(bits)
    join opslens_rule_order() o on opslens_has_rule(b.bits, o.rule_index);

-- The change of one (order, rule) (SPEC §5): new (at S only), resolved (at C only), persisting (both).
create or replace temp macro opslens_change(at_s, at_c) as
    case when not at_c then 'new' when not at_s then 'resolved' else 'persisting' end;

-- Where an (order, rule) change is reported (SPEC §5): the order's market at S, else at C. At a date
-- where the order breaks the rule that is its exception row's market; at the other, the market of its
-- row there whatever the filters (an exception resolved because the order moved to another market, or
-- left the filtered view, is reported where the order is now), null when the order is absent.
create or replace temp macro opslens_market_on(at_date, exception_market, row_market) as
    case when at_date then exception_market else row_market end;

-- Exceptions at S against exceptions at C: one row per (order, rule) in either (opslens_exception_pairs,
-- one row per rule of the order at either date). The stages are those of the exception rows (null
-- where the order has no such row); the MRR is the exception row's at S, else at C.
create or replace temp macro opslens_exception_changes(now_table, then_table, markets, products, segments) as table
with per_rule as (
    select
        p.*,
        o.rule,
        o.rule_index,
        opslens_has_rule(p.bits_now, o.rule_index) as at_s,
        opslens_has_rule(p.bits_then, o.rule_index) as at_c
    from opslens_exception_pairs(now_table, then_table, markets, products, segments) p
    join opslens_rules_of_bits() o on o.bits = p.bits_now | p.bits_then
),
located as (
    select
        order_id,
        rule,
        rule_index,
        opslens_change(at_s, at_c) as change,
        case when at_c then stage_then end as stage_then,
        case when at_s then stage_now end as stage_now,
        opslens_market_on(at_c, exception_market_then, row_market_then) as market_then,
        opslens_market_on(at_s, exception_market_now, row_market_now) as market_now,
        coalesce(case when at_s then mrr_now end, case when at_c then mrr_then end) as mrr
    from per_rule
)
select
    order_id,
    coalesce(market_now, market_then) as market,
    rule, change, stage_then, stage_now, market_then, market_now, mrr,
    rule_index,
    case change when 'new' then 1 when 'resolved' then 2 else 3 end as change_index
from located;

-- How many (order, rule) changes per market, rule and change: opslens_exception_changes counted, with
-- the orders first grouped by what decides their changes (rules and markets at each date), so each
-- rule is looked at once per group rather than once per order.
create or replace temp macro opslens_exception_change_counts(now_table, then_table, markets, products, segments) as table
with groups as (
    select
        bits_now, exception_market_now, row_market_now, bits_then, exception_market_then, row_market_then,
        count(*) as orders
    from opslens_exception_pairs(now_table, then_table, markets, products, segments)
    group by all
),
per_rule as (
    select
        g.*,
        o.rule,
        opslens_has_rule(g.bits_now, o.rule_index) as at_s,
        opslens_has_rule(g.bits_then, o.rule_index) as at_c
    from groups g
    join opslens_rules_of_bits() o on o.bits = g.bits_now | g.bits_then
)
select
    coalesce(
        opslens_market_on(at_s, exception_market_now, row_market_now),
        opslens_market_on(at_c, exception_market_then, row_market_then)
    ) as market,
    rule,
    opslens_change(at_s, at_c) as change,
    sum(orders) as orders
from per_rule
group by all;
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
