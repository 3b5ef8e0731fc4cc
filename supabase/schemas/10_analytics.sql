-- Abandoned-cart analytics: the funnel (carts created -> carts with items ->
-- checkout begun -> paid), the revenue left behind and recovered, the top
-- abandoned products and why checkouts ended. Service role only, exposed
-- through the order-sessions-admin and admin functions.
--
-- Carts are purged after cart_ttl idle and old order sessions are trimmed, so
-- the history the funnel needs is kept here:
--   analytics.cart_facts          one row per cart ever created (created, first
--                                 item, checkout begun, paid, last reminder,
--                                 and what it held when it was deleted);
--   analytics.daily_funnel        one row per finished day (pg_cron, hourly);
--   analytics.abandoned_products  units and value per variant and day left in
--                                 deleted carts (written as they are deleted)
--                                 and in expired order sessions (by the rollup).
-- Triggers keep the facts as they happen (a cart's first checkout is stamped
-- by checkout.begin_checkout, the only writer of order sessions, which has
-- the cart locked); what a cart still held when it is
-- deleted is written by checkout.purge_carts for its batch
-- (13_housekeeping.sql), and by a BEFORE DELETE trigger for any other
-- deletion (a cart going with its user).
--
-- Every figure counts events on the day they happened, in the store's time
-- zone (settings.analytics_time_zone): a day's row never changes once the day
-- is over, so the rollup of finished days is final and a range is the sum of
-- its days. Today (and any day not rolled up yet) is computed live from
-- indexed facts.

-- ---------------------------------------------------------------------------
-- Tables

create table analytics.cart_facts (
  session_id uuid not null,
  created_at timestamptz not null,
  first_item_at timestamptz,
  checkout_at timestamptz,
  paid_at timestamptz,
  reminded_at timestamptz,
  purged_at timestamptz,
  abandoned_units integer check (abandoned_units >= 0),
  abandoned_value numeric(12, 2) check (abandoned_value >= 0),
  currency text check (currency ~ '^[A-Z]{3}$'),
  primary key (session_id, created_at)
);
comment on table analytics.cart_facts is
  'One row per cart ever created, kept after the purge deletes the cart: when it was created, got its first item, began its first checkout, was first paid, was last reminded by email, and what it still held (units, value at the prices of that moment) when it was deleted. Written by triggers (checkout_at by checkout.begin_checkout); service_role reads it.';
comment on column analytics.cart_facts.reminded_at is
  'When a recovery email for this cart was last sent (set by the email sender).';

create index cart_facts_created_at_idx on analytics.cart_facts (created_at);
create index cart_facts_first_item_at_idx on analytics.cart_facts (first_item_at) where first_item_at is not null;
create index cart_facts_checkout_at_idx on analytics.cart_facts (checkout_at) where checkout_at is not null;
create index cart_facts_paid_at_idx on analytics.cart_facts (paid_at) where paid_at is not null;
create index cart_facts_purged_at_idx on analytics.cart_facts (purged_at) where purged_at is not null;

alter table analytics.cart_facts enable row level security;
grant select, insert, update, delete on analytics.cart_facts to service_role;

create table analytics.daily_funnel (
  day date primary key,
  carts_created integer not null,
  carts_with_items integer not null,
  checkouts_begun integer not null,
  carts_paid integer not null,
  orders integer not null,
  revenue jsonb not null,
  abandoned_carts integer not null,
  abandoned_cart_value jsonb not null,
  expired_sessions integer not null,
  expired_session_value jsonb not null,
  recovered_orders integer not null,
  recovered_revenue jsonb not null,
  outcomes jsonb not null,
  computed_at timestamptz not null default now()
);
comment on table analytics.daily_funnel is
  'The funnel of one finished day (see analytics.compute_day), written by analytics.rollup from pg_cron. Money columns are {currency: amount}.';

alter table analytics.daily_funnel enable row level security;
grant select, insert, update, delete on analytics.daily_funnel to service_role;

create table analytics.abandoned_products (
  day date not null,
  source text not null check (source in ('cart', 'checkout')),
  variant_id uuid not null,
  sku text not null,
  title text not null,
  currency text not null,
  carts integer not null check (carts >= 0),
  units integer not null check (units >= 0),
  value numeric(14, 2) not null check (value >= 0),
  primary key (day, source, variant_id)
);
comment on table analytics.abandoned_products is
  'Units and value per variant and day left behind: source cart = lines of carts deleted that day (purged after cart_ttl, at the prices of that moment, written by the purge or the delete trigger); source checkout = lines of order sessions that expired that day (written by analytics.rollup).';

alter table analytics.abandoned_products enable row level security;
grant select, insert, update, delete on analytics.abandoned_products to service_role;

-- Indexes the live part of the report reads by day.
create index orders_created_at_idx on public.orders (created_at);
create index order_sessions_closed_at_idx on public.order_sessions (closed_at) where closed_at is not null;

-- ---------------------------------------------------------------------------
-- Triggers that record the facts as they happen. Security definer (the cart
-- triggers run as the shopper, who may not see analytics).

create function analytics.record_cart_created()
returns trigger
language plpgsql security definer set search_path = ''
as $$
begin
  insert into analytics.cart_facts (session_id, created_at)
  values (new.session_id, new.created_at)
  on conflict do nothing;
  return null;
end
$$;
comment on function analytics.record_cart_created() is 'Trigger: a new cart gets its analytics fact row.';
create trigger carts_record_fact
  after insert on public.carts
  for each row execute function analytics.record_cart_created();

create function analytics.record_first_item()
returns trigger
language plpgsql security definer set search_path = ''
as $$
begin
  update analytics.cart_facts f
     set first_item_at = now()
    from public.carts c
   where c.session_id = new.session_id
     and f.session_id = c.session_id and f.created_at = c.created_at
     and f.first_item_at is null;
  return null;
end
$$;
comment on function analytics.record_first_item() is
  'Trigger: the first line ever added to a cart stamps its fact row (later lines write nothing).';
create trigger cart_items_record_first_item
  after insert on public.cart_items
  for each row execute function analytics.record_first_item();

create function analytics.stamp_paid(p_session_id uuid)
returns void
language plpgsql set search_path = ''
as $$
begin
  update analytics.cart_facts f
     set paid_at = now()
    from public.carts c
   where c.session_id = p_session_id
     and f.session_id = c.session_id and f.created_at = c.created_at
     and f.paid_at is null;
end
$$;
comment on function analytics.stamp_paid(uuid) is
  'A shopper''s order stamps her cart''s fact row with its first paid_at. Called by private.record_order and by the trigger orders_record_paid.';
grant execute on function analytics.stamp_paid(uuid) to service_role;

create function analytics.record_paid()
returns trigger
language plpgsql security definer set search_path = ''
as $$
begin
  perform analytics.stamp_paid(new.session_id);
  return null;
end
$$;
comment on function analytics.record_paid() is
  'Trigger: a cart''s first order stamps its fact row (analytics.stamp_paid). private.record_order stamps it itself and names its session in checkout.recording_order, which the trigger skips.';
create trigger orders_record_paid
  after insert on public.orders
  for each row
  when (current_setting('checkout.recording_order', true) is distinct from new.order_session_id::text)
  execute function analytics.record_paid();

-- Whatever deletes a cart, what it still held is kept first. The purge
-- records its whole batch in the statement that deletes it; any other
-- deletion (an anonymous user removed, which cascades; a delete by hand) goes
-- through this row trigger BEFORE DELETE, which still sees the cart's lines
-- (the cascade to cart_items runs after it). The trigger alone would do for
-- the purge too, at about ten times the purge's cost per cart (bench), so the
-- purge sets analytics.cart_purge and the trigger skips.
create function analytics.record_cart_deleted()
returns trigger
language plpgsql security definer set search_path = ''
as $$
declare
  tz text := (private.current_settings()).analytics_time_zone;
begin
  -- checkout.purge_carts records its whole batch in one statement.
  if current_setting('analytics.cart_purge', true) = 'on' then
    return old;
  end if;
  -- What the cart still held, at the prices of this moment (an aggregate
  -- without group by: one row, zeros for an empty cart).
  insert into analytics.cart_facts as f (session_id, created_at, purged_at, abandoned_units, abandoned_value, currency)
  select old.session_id, old.created_at, now(), coalesce(sum(ci.quantity), 0), coalesce(sum(ci.quantity * v.price), 0), min(v.currency)
    from public.cart_items ci
    join public.variants v on v.id = ci.variant_id
   where ci.session_id = old.session_id
  on conflict (session_id, created_at) do update
     set purged_at = excluded.purged_at, abandoned_units = excluded.abandoned_units,
         abandoned_value = excluded.abandoned_value, currency = excluded.currency;

  insert into analytics.abandoned_products as a (day, source, variant_id, sku, title, currency, carts, units, value)
  select (now() at time zone tz)::date, 'cart', v.id, v.sku, p.title || ' - ' || v.title, v.currency, 1, ci.quantity, ci.quantity * v.price
    from public.cart_items ci
    join public.variants v on v.id = ci.variant_id
    join public.products p on p.id = v.product_id
   where ci.session_id = old.session_id
  on conflict (day, source, variant_id) do update
     set carts = a.carts + 1, units = a.units + excluded.units, value = a.value + excluded.value;
  return old;
end
$$;
comment on function analytics.record_cart_deleted() is
  'Trigger: before a cart is deleted other than by checkout.purge_carts (which records its batch itself), e.g. with its anonymous user, records in analytics.cart_facts and analytics.abandoned_products what it still held.';
create trigger carts_record_deleted
  before delete on public.carts
  for each row execute function analytics.record_cart_deleted();

-- ---------------------------------------------------------------------------
-- Routines

create function analytics.money(p_amounts jsonb[])
returns jsonb
language sql immutable set search_path = ''
as $$
  select coalesce(jsonb_object_agg(k, total), '{}'::jsonb)
    from (select e.key as k, sum(e.value::numeric) as total
            from unnest(p_amounts) m, jsonb_each_text(m) e
           group by e.key) x
$$;
comment on function analytics.money(jsonb[]) is 'Adds {currency: amount} objects per currency.';
grant execute on function analytics.money(jsonb[]) to service_role;

create function analytics.compute_day(p_day date)
returns analytics.daily_funnel
language plpgsql stable security definer set search_path = ''
as $$
declare
  tz text := (private.current_settings()).analytics_time_zone;
  d0 timestamptz := p_day::timestamp at time zone tz;
  d1 timestamptz := (p_day + 1)::timestamp at time zone tz;
  r analytics.daily_funnel;
begin
  r.day := p_day;
  r.computed_at := now();
  select count(*) into r.carts_created from analytics.cart_facts where created_at >= d0 and created_at < d1;
  select count(*) into r.carts_with_items from analytics.cart_facts where first_item_at >= d0 and first_item_at < d1;
  select count(*) into r.checkouts_begun from analytics.cart_facts where checkout_at >= d0 and checkout_at < d1;
  select count(*) into r.carts_paid from analytics.cart_facts where paid_at >= d0 and paid_at < d1;
  select count(*) into r.abandoned_carts
    from analytics.cart_facts where purged_at >= d0 and purged_at < d1 and abandoned_units > 0;
  select coalesce(jsonb_object_agg(currency, v), '{}'::jsonb) into r.abandoned_cart_value
    from (select currency, sum(abandoned_value) as v from analytics.cart_facts
           where purged_at >= d0 and purged_at < d1 and abandoned_units > 0 group by currency) x;

  -- Orders and the revenue recovered: an order whose shopper was sent a
  -- recovery email in the 7 days before it.
  select coalesce(sum(n), 0), coalesce(jsonb_object_agg(currency, v), '{}'::jsonb),
         coalesce(sum(rn), 0), coalesce(jsonb_object_agg(currency, rv) filter (where rn > 0), '{}'::jsonb)
    into r.orders, r.revenue, r.recovered_orders, r.recovered_revenue
    from (select o.currency, count(*) as n, sum(o.total) as v,
                 count(*) filter (where rec.hit) as rn, coalesce(sum(o.total) filter (where rec.hit), 0) as rv
            from public.orders o
            cross join lateral (
              select exists (
                select 1 from analytics.cart_facts f
                 where f.session_id = o.session_id and f.created_at <= o.created_at
                   and f.reminded_at <= o.created_at and f.reminded_at > o.created_at - interval '7 days'
              ) as hit
            ) rec
           where o.created_at >= d0 and o.created_at < d1
           group by o.currency) x;

  select coalesce(sum(n), 0), coalesce(jsonb_object_agg(currency, v), '{}'::jsonb)
    into r.expired_sessions, r.expired_session_value
    from (select s.currency, count(*) as n, sum(s.total) as v
            from public.order_sessions s
           where s.closed_at >= d0 and s.closed_at < d1 and s.status = 'expired'
           group by s.currency) x;

  -- Why checkouts ended, from the session and its event log.
  select coalesce(jsonb_object_agg(outcome, n), '{}'::jsonb) into r.outcomes
    from (select outcome, count(*) as n
            from (select case
                           when s.status = 'paid' then 'paid'
                           when s.status in ('refund_owed', 'refunded') then coalesce(
                             (select pr.reason from checkout.payment_refunds pr
                               where pr.order_session_id = s.id order by pr.created_at limit 1), 'refund_owed')
                           when exists (select 1 from checkout.order_session_events e
                                         where e.order_session_id = s.id and e.kind = 'payment_seen'
                                           and e.detail ->> 'status' = 'rejected') then 'rejected_payment'
                           else s.status::text
                         end as outcome
                    from public.order_sessions s
                   where s.closed_at >= d0 and s.closed_at < d1 and s.status <> 'active') c
           group by outcome) x;
  return r;
end
$$;
comment on function analytics.compute_day(date) is
  'Service role only. The funnel of one day in the store''s time zone, counting events on the day they happened: carts created, carts that got their first item, carts that began their first checkout, carts first paid, orders and revenue, carts purged with items (abandoned) and their value, order sessions expired and their value, orders recovered by a recovery email sent in the 7 days before, and why checkouts closed that day (paid, expired, cancelled, rejected_payment, out_of_stock, coupon_used_up...).';
grant execute on function analytics.compute_day(date) to service_role;

create function analytics.today()
returns date
language sql stable set search_path = ''
as $$
  select (now() at time zone (private.current_settings()).analytics_time_zone)::date
$$;
comment on function analytics.today() is 'Today in the store''s analytics time zone.';
grant execute on function analytics.today() to service_role;

create function analytics.rollup(p_days integer default 2)
returns integer
language plpgsql security definer set search_path = ''
as $$
declare
  tz text := (private.current_settings()).analytics_time_zone;
  today date := analytics.today();
  first_day date;
  d date;
  n integer := 0;
begin
  -- The last p_days finished days, and every older day missing from the
  -- table (from the oldest fact, at most 400 days back): a first run, or one
  -- that found no data yet, is caught up by the next.
  first_day := greatest(coalesce((select (min(created_at) at time zone tz)::date from analytics.cart_facts), today - 1), today - 400);
  for d in select g::date from generate_series(first_day, today - 1, interval '1 day') g
            where g::date >= today - greatest(p_days, 1)
               or not exists (select 1 from analytics.daily_funnel f where f.day = g::date)
            order by 1
  loop
    insert into analytics.daily_funnel select c.* from analytics.compute_day(d) c
    on conflict (day) do update set
      carts_created = excluded.carts_created, carts_with_items = excluded.carts_with_items,
      checkouts_begun = excluded.checkouts_begun, carts_paid = excluded.carts_paid,
      orders = excluded.orders, revenue = excluded.revenue,
      abandoned_carts = excluded.abandoned_carts, abandoned_cart_value = excluded.abandoned_cart_value,
      expired_sessions = excluded.expired_sessions, expired_session_value = excluded.expired_session_value,
      recovered_orders = excluded.recovered_orders, recovered_revenue = excluded.recovered_revenue,
      outcomes = excluded.outcomes, computed_at = excluded.computed_at;

    -- Lines of the order sessions that expired that day.
    delete from analytics.abandoned_products where day = d and source = 'checkout';
    insert into analytics.abandoned_products (day, source, variant_id, sku, title, currency, carts, units, value)
    select d, 'checkout', (l ->> 'variant_id')::uuid, min(l ->> 'sku'), min(l ->> 'title'), min(s.currency),
           count(distinct s.id), sum((l ->> 'quantity')::integer), sum((l ->> 'line_total')::numeric)
      from public.order_sessions s, jsonb_array_elements(s.lines) l
     where s.closed_at >= d::timestamp at time zone tz and s.closed_at < (d + 1)::timestamp at time zone tz
       and s.status = 'expired'
     group by (l ->> 'variant_id')::uuid;
    n := n + 1;
  end loop;
  return n;
end
$$;
comment on function analytics.rollup(integer) is
  'Service role only (pg_cron, hourly). Writes analytics.daily_funnel and the checkout rows of analytics.abandoned_products for the last p_days finished days and every older day missing from the table (back to the oldest cart fact, at most 400 days). Returns how many days it wrote.';
grant execute on function analytics.rollup(integer) to service_role;

create function analytics.check_range(p_from date, p_to date)
returns void
language plpgsql immutable set search_path = ''
as $$
begin
  if p_from is null or p_to is null or p_from > p_to or p_to - p_from > 366 then
    raise exception 'the date range must have from <= to and span at most 367 days'
      using errcode = 'CKI01',
            detail = jsonb_build_object('from', p_from, 'to', p_to, 'max_days', 367)::text;
  end if;
end
$$;
comment on function analytics.check_range(date, date) is
  'Raises CKI01 (400) for a missing, reversed or longer than 367 days range.';
grant execute on function analytics.check_range(date, date) to service_role;

create function analytics.rate(p_lost numeric, p_of numeric)
returns numeric
language sql immutable set search_path = ''
as $$
  select case when p_of > 0 then round(greatest(p_lost, 0) / p_of, 4) end
$$;
comment on function analytics.rate(numeric, numeric) is
  'p_lost / p_of rounded to 4 decimals; null when nothing entered the step.';
grant execute on function analytics.rate(numeric, numeric) to service_role;

create function analytics.funnel(p_from date, p_to date)
returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
declare
  today date;
  result jsonb;
begin
  perform analytics.check_range(p_from, p_to);
  today := analytics.today();
  with days as (
    -- Finished days from the rollup; today and any day missing from it live.
    select f.* from analytics.daily_funnel f
     where f.day between p_from and p_to and f.day < today
    union all
    -- (a lateral call: `(f(x)).*` would run f once per column)
    select c.*
      from generate_series(p_from, least(p_to, today), interval '1 day') d
     cross join lateral analytics.compute_day(d::date) c
     where d::date >= today
        or not exists (select 1 from analytics.daily_funnel f where f.day = d::date)
  ), total as (
    select coalesce(sum(carts_created), 0) as carts_created, coalesce(sum(carts_with_items), 0) as carts_with_items,
           coalesce(sum(checkouts_begun), 0) as checkouts_begun, coalesce(sum(carts_paid), 0) as carts_paid,
           coalesce(sum(orders), 0) as orders, analytics.money(array_agg(revenue)) as revenue,
           coalesce(sum(abandoned_carts), 0) as abandoned_carts, analytics.money(array_agg(abandoned_cart_value)) as abandoned_cart_value,
           coalesce(sum(expired_sessions), 0) as expired_sessions, analytics.money(array_agg(expired_session_value)) as expired_session_value,
           coalesce(sum(recovered_orders), 0) as recovered_orders, analytics.money(array_agg(recovered_revenue)) as recovered_revenue,
           analytics.money(array_agg(outcomes)) as outcomes
      from days
  )
  select jsonb_build_object(
    'from', p_from, 'to', p_to, 'time_zone', (private.current_settings()).analytics_time_zone,
    'total', to_jsonb(t) || jsonb_build_object('abandonment_rate', jsonb_build_object(
      'cart', analytics.rate(t.carts_created - t.carts_with_items, t.carts_created),
      'checkout', analytics.rate(t.carts_with_items - t.checkouts_begun, t.carts_with_items),
      'payment', analytics.rate(t.checkouts_begun - t.carts_paid, t.checkouts_begun),
      'overall', analytics.rate(t.carts_with_items - t.carts_paid, t.carts_with_items))),
    'days', coalesce((select jsonb_agg(to_jsonb(d) - 'computed_at' || jsonb_build_object('abandonment_rate', jsonb_build_object(
                        'cart', analytics.rate(d.carts_created - d.carts_with_items, d.carts_created),
                        'checkout', analytics.rate(d.carts_with_items - d.checkouts_begun, d.carts_with_items),
                        'payment', analytics.rate(d.checkouts_begun - d.carts_paid, d.checkouts_begun),
                        'overall', analytics.rate(d.carts_with_items - d.carts_paid, d.carts_with_items)))
                      order by d.day) from days d), '[]'::jsonb))
    into result
    from total t;
  return result;
end
$$;
comment on function analytics.funnel(date, date) is
  'Service role only. The funnel for the days p_from..p_to (store time zone, at most 367 days): per day and in total, carts created, with items, checkouts begun, paid, orders and revenue, abandonment rate per step (cart: created without items; checkout: items without checkout; payment: checkout without payment; events counted on their own day, so a single day may show a rate of 0 where later steps caught up earlier days), value left in purged carts and expired order sessions, revenue recovered by recovery emails, checkout outcomes. Finished days come from analytics.daily_funnel, today live. CKI01 for a bad range.';
grant execute on function analytics.funnel(date, date) to service_role;

create function analytics.abandoned_products_report(
  p_from date,
  p_to date,
  p_limit integer default 20
)
returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
declare
  today date;
  tz text := (private.current_settings()).analytics_time_zone;
  result jsonb;
begin
  perform analytics.check_range(p_from, p_to);
  if p_limit is null or p_limit < 1 or p_limit > 200 then
    raise exception 'limit must be between 1 and 200' using errcode = 'CKI01', detail = jsonb_build_object('limit', p_limit)::text;
  end if;
  today := analytics.today();
  with rows as (
    select a.source, a.variant_id, a.sku, a.title, a.currency, a.carts, a.units, a.value
      from analytics.abandoned_products a
     where a.day between p_from and p_to and (a.source = 'cart' or a.day < today)
    union all
    -- Today's expired order sessions, live (the rollup writes finished days).
    select 'checkout', (l ->> 'variant_id')::uuid, l ->> 'sku', l ->> 'title', s.currency, 1,
           (l ->> 'quantity')::integer, (l ->> 'line_total')::numeric
      from public.order_sessions s, jsonb_array_elements(s.lines) l
     where today between p_from and p_to
       and s.closed_at >= today::timestamp at time zone tz and s.status = 'expired'
  ), per_variant as (
    select variant_id, min(sku) as sku, min(title) as title, min(currency) as currency,
           sum(units) filter (where source = 'cart') as cart_units,
           sum(units) filter (where source = 'checkout') as checkout_units,
           sum(units) as units, sum(value) as value, sum(carts) as carts
      from rows group by variant_id
  )
  select jsonb_build_object('from', p_from, 'to', p_to, 'products', coalesce(jsonb_agg(jsonb_build_object(
           'variant_id', variant_id, 'sku', sku, 'title', title, 'currency', currency, 'carts', carts,
           'units', units, 'in_carts', coalesce(cart_units, 0), 'in_checkouts', coalesce(checkout_units, 0),
           'value', value) order by value desc, units desc, sku), '[]'::jsonb))
    into result
    from (select * from per_variant order by value desc, units desc, sku limit p_limit) top;
  return result;
end
$$;
comment on function analytics.abandoned_products_report(date, date, integer) is
  'Service role only. The p_limit variants with the most value left behind in p_from..p_to: units in carts purged with items (at the prices of the purge) and in order sessions that expired, ordered by value. CKI01 for a bad range or limit.';
grant execute on function analytics.abandoned_products_report(date, date, integer) to service_role;

create function analytics.checkout_outcomes(p_from date, p_to date)
returns jsonb
language sql stable security definer set search_path = ''
as $$
  with f as (select analytics.funnel(p_from, p_to) as j)
  select jsonb_build_object(
    'from', p_from, 'to', p_to,
    'total', f.j -> 'total' -> 'outcomes',
    'days', coalesce((select jsonb_agg(jsonb_build_object('day', d -> 'day', 'outcomes', d -> 'outcomes')) from jsonb_array_elements(f.j -> 'days') d), '[]'::jsonb))
  from f
$$;
comment on function analytics.checkout_outcomes(date, date) is
  'Service role only. Why the order sessions closed in p_from..p_to ended, in total and per day: paid, expired, cancelled, rejected_payment (expired or cancelled after a rejected payment), out_of_stock and the other refund reasons. CKI01 for a bad range.';
grant execute on function analytics.checkout_outcomes(date, date) to service_role;

-- ---------------------------------------------------------------------------
-- Schedules

-- Hourly: the last two finished days are rewritten each time, so a day is
-- final an hour after it ends even if a transaction ran late.
select cron.schedule('analytics-rollup', '7 * * * *', 'select analytics.rollup(2)');
