-- public holds only what shoppers use (issue 15). The tables only the service
-- role touches move to checkout, the schema the Data API never exposes (as
-- dbdev keeps its tables in `app`): PostgREST cannot even name them, whatever
-- a future grant says.
--
--   stock_reservations, payment_events, payment_refunds, coupons,
--   order_session_events, and order_number_seq (orders' default draws from
--   it; nothing else names it).
--
-- Stay in public: products and variants (the catalog), carts and cart_items,
-- order_sessions, orders and order_lines (each shopper reads her own under RLS).
--
-- `set schema` keeps the rows, indexes, constraints, foreign keys, triggers,
-- RLS and grants: they point at the table's OID. So does orders'
-- `nextval('order_number_seq'::regclass)`. Routine bodies are text naming
-- `public.<table>` (search_path = ''), so every routine that names a moved
-- table is recreated below, in this migration, with the new name.
alter table public.stock_reservations set schema checkout;
alter table public.payment_events set schema checkout;
alter table public.payment_refunds set schema checkout;
alter table public.coupons set schema checkout;
alter table public.order_session_events set schema checkout;
alter sequence public.order_number_seq set schema checkout;

-- Their grants came along (service_role as before: reservations and coupons
-- select/insert/update/delete; payment events and refunds select/insert/update;
-- the event log select/insert; the sequence usage). Stated again for the API
-- roles, whatever default privileges the project started with; service_role
-- already has usage on checkout, anon and authenticated have none.
revoke all on table checkout.stock_reservations, checkout.payment_events, checkout.payment_refunds,
  checkout.coupons, checkout.order_session_events from public, anon, authenticated;
revoke all on sequence checkout.order_number_seq from public, anon, authenticated;

comment on schema checkout is
  'Privileged routines that move stock or money, and the tables only they and the service role touch (reservations, payment events, refunds, coupons, the order-session event log, cart merges). Not exposed through the Data API; usable only by service_role.';

-- Every routine whose body named public.<moved table>: each statement is
-- pg_get_functiondef's current definition (the latest migration's body) with
-- only `public.<table>` rewritten to `checkout.<table>`, printed by
--   DATABASE_URL=<database built from the migrations before this one> npx tsx dev/pg/requalify.ts \
--     public checkout stock_reservations payment_events payment_refunds coupons order_session_events order_number_seq
-- `create or replace` keeps each routine's owner, grants and comment.
-- private.check_whole_unit_price and private.forbid_event_update name a moved
-- table only as tg_table_name or in a message, and need no change.
-- supabase/tests/032-service-tables.sql fails if any body names one of these
-- tables in public again.

-- admin.adjust_stock(jsonb,text,integer,text): public.stock_reservations
CREATE OR REPLACE FUNCTION admin.adjust_stock(p_claims jsonb, p_variant_id text, p_delta integer, p_reason text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v public.variants;
  live_reserved integer;
  live_sessions integer;
  a admin.stock_adjustments;
begin
  perform admin.require_staff(p_claims);
  perform admin.check_input(p_variant_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$', 'variant_id', 'the variant id must be a uuid');
  perform admin.check_input(p_delta is not null and p_delta <> 0, 'delta', 'the adjustment must be a whole number of units other than zero');
  perform admin.check_input(abs(p_delta) <= 1000000, 'delta', 'the adjustment is at most 1,000,000 units');
  perform admin.check_input(length(btrim(coalesce(p_reason, ''))) between 3 and 500, 'reason', 'a reason of 3 to 500 characters is required');
  -- The same lock a checkout and a payment take: an adjustment and a
  -- reservation or a stock decrement never interleave.
  select * into v from public.variants x where x.id = p_variant_id::uuid for update;
  if not found then
    raise exception 'no such variant' using errcode = 'CKO01', detail = jsonb_build_object('variant_id', p_variant_id)::text;
  end if;
  select coalesce(sum(r.quantity), 0)::integer, count(distinct r.order_session_id)::integer into live_reserved, live_sessions
    from checkout.stock_reservations r where r.variant_id = v.id and r.expires_at > now();
  if v.stock_on_hand + p_delta < 0 then
    raise exception 'stock on hand cannot go below zero (it is %)', v.stock_on_hand
      using errcode = 'CKI01', detail = jsonb_build_object('field', 'delta', 'on_hand', v.stock_on_hand, 'minimum_delta', -v.stock_on_hand)::text;
  end if;
  -- Units reserved by checkouts being paid must stay on hand: their payments
  -- turn the reservation into a stock decrement.
  if v.stock_on_hand + p_delta < live_reserved then
    raise exception 'stock on hand cannot go below the % unit(s) reserved by % checkout(s) in progress', live_reserved, live_sessions
      using errcode = 'CKS02',
            detail = jsonb_build_object('on_hand', v.stock_on_hand, 'reserved', live_reserved, 'reserving_sessions', live_sessions,
                                        'minimum_delta', live_reserved - v.stock_on_hand)::text;
  end if;
  update public.variants set stock_on_hand = stock_on_hand + p_delta, updated_at = now() where id = v.id;
  insert into admin.stock_adjustments (variant_id, delta, on_hand_before, on_hand_after, reserved_then, reason, staff_id, staff_email)
  values (v.id, p_delta, v.stock_on_hand, v.stock_on_hand + p_delta, live_reserved, btrim(p_reason), (p_claims ->> 'sub')::uuid, p_claims ->> 'email')
  returning * into a;
  return jsonb_build_object('id', a.id, 'variant_id', v.id, 'sku', v.sku, 'delta', a.delta, 'on_hand_before', a.on_hand_before,
                            'on_hand_after', a.on_hand_after, 'reserved', live_reserved, 'available', a.on_hand_after - live_reserved,
                            'reason', a.reason, 'created_at', a.created_at);
end
$function$;

-- admin.attention(jsonb): public.payment_refunds, public.payment_events
CREATE OR REPLACE FUNCTION admin.attention(p_claims jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
  perform admin.require_staff(p_claims);
  -- The audit (checkout.audit(), every invariant over every row) is not
  -- here: this is polled every few seconds; admin.audit runs it on demand.
  return jsonb_build_object(
    'refunds_owed', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'payment_id', pr.payment_id::text, 'amount', pr.amount, 'currency', pr.currency, 'reason', pr.reason,
        'created_at', pr.created_at, 'order_session_id', pr.order_session_id, 'email', s.payer ->> 'email',
        'attempts', pr.attempts, 'next_attempt_at', pr.next_attempt_at, 'last_error', pr.last_error) order by pr.created_at), '[]'::jsonb)
        from checkout.payment_refunds pr left join public.order_sessions s on s.id = pr.order_session_id
       where pr.status = 'owed'
    ),
    'late_payments', (
      select coalesce(jsonb_agg(x.j order by x.at desc), '[]'::jsonb) from (
        select jsonb_build_object('kind', 'order_created_late', 'order_number', o.order_number, 'order_id', o.id,
                                  'payment_id', o.payment_id::text, 'amount', o.total, 'currency', o.currency, 'at', o.created_at) as j,
               o.created_at as at
          from public.orders o where o.paid_late
         union all
        select jsonb_build_object('kind', 'paid_out_of_stock', 'payment_id', pr.payment_id::text, 'amount', pr.amount,
                                  'currency', pr.currency, 'status', pr.status, 'at', pr.created_at), pr.created_at
          from checkout.payment_refunds pr where pr.reason = 'out_of_stock'
         order by 2 desc limit 100
      ) x
    ),
    'amount_mismatches', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'payment_id', pr.payment_id::text, 'amount', pr.amount, 'currency', pr.currency, 'status', pr.status,
        'expected', s.total, 'expected_currency', s.currency, 'at', pr.created_at) order by pr.created_at desc), '[]'::jsonb)
        from checkout.payment_refunds pr left join public.order_sessions s on s.id = pr.order_session_id
       where pr.reason = 'amount_mismatch'
    ),
    'unmatched_payments', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'payment_id', pe.payment_id::text, 'amount', pe.transaction_amount, 'currency', pe.currency,
        'external_reference', pe.external_reference, 'at', pe.received_at) order by pe.received_at desc), '[]'::jsonb)
        from checkout.payment_events pe where pe.order_session_id is null and pe.status = 'approved'
    )
  );
end
$function$;

-- admin.dashboard(jsonb,date,date,text): public.stock_reservations, public.payment_refunds
CREATE OR REPLACE FUNCTION admin.dashboard(p_claims jsonb, p_from date, p_to date, p_tz text DEFAULT 'America/Argentina/Buenos_Aires'::text)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_from timestamptz;
  v_to timestamptz;
  v_today date;
begin
  perform admin.require_staff(p_claims);
  -- (pg_timezone_names reads the zone files from disk on every call: ask
  -- the parser instead.)
  begin
    perform now() at time zone p_tz;
  exception when invalid_parameter_value then
    perform admin.check_input(false, 'tz', 'unknown time zone');
  end;
  perform admin.check_input(p_tz is not null, 'tz', 'a time zone is required');
  perform admin.check_input(p_from is not null and p_to is not null, 'from', 'from and to are required dates (YYYY-MM-DD)');
  perform admin.check_input(p_from <= p_to, 'to', 'to must not be before from');
  perform admin.check_input(p_to - p_from < 366, 'to', 'the range is at most 366 days');
  v_from := p_from::timestamp at time zone p_tz;
  v_to := (p_to + 1)::timestamp at time zone p_tz;
  v_today := (now() at time zone p_tz)::date;
  return jsonb_build_object(
    'generated_at', now(),
    'tz', p_tz,
    'today', jsonb_build_object('date', v_today)
      || admin.period_figures(v_today::timestamp at time zone p_tz, (v_today + 1)::timestamp at time zone p_tz),
    'range', jsonb_build_object('from', p_from, 'to', p_to) || admin.period_figures(v_from, v_to),
    'per_day', (
      select jsonb_agg(jsonb_build_object(
               'day', d.day,
               'orders', coalesce(x.orders, 0),
               'revenue', coalesce(x.revenue, '{}'::jsonb),
               'checkouts', coalesce(y.checkouts, 0),
               'checkouts_paid', coalesce(y.paid, 0)) order by d.day)
        from generate_series(p_from, p_to, interval '1 day') g(day_ts)
        cross join lateral (select g.day_ts::date as day) d
        left join (
          select per.day, sum(per.n) as orders, jsonb_object_agg(per.currency, per.revenue) filter (where per.revenue is not null) as revenue
            from (select (o.created_at at time zone p_tz)::date as day, o.currency, count(*) as n,
                         sum(o.total) filter (where o.status in ('paid', 'in_mediation')) as revenue
                    from public.orders o where o.created_at >= v_from and o.created_at < v_to
                   group by 1, 2) per
           group by per.day
        ) x on x.day = d.day
        left join (
          select (s.created_at at time zone p_tz)::date as day, count(*) as checkouts, count(*) filter (where s.status = 'paid') as paid
            from public.order_sessions s where s.created_at >= v_from and s.created_at < v_to group by 1
        ) y on y.day = d.day
    ),
    'sessions_by_outcome', (
      select jsonb_object_agg(st, coalesce(c.n, 0))
        from unnest(enum_range(null::public.order_session_status)::text[]) st
        left join (
          select s.status::text as status, count(*) as n
            from public.order_sessions s where s.created_at >= v_from and s.created_at < v_to group by s.status
        ) c on c.status = st
    ),
    'live', jsonb_build_object(
      'active_checkouts', (select count(*) from public.order_sessions s where s.status = 'active' and s.expires_at > now()),
      'reserved_units', (select coalesce(sum(r.quantity), 0) from checkout.stock_reservations r where r.expires_at > now()),
      'refunds_owed', (select count(*) from checkout.payment_refunds pr where pr.status = 'owed')
    )
  );
end
$function$;

-- admin.housekeeping(jsonb): public.stock_reservations
CREATE OR REPLACE FUNCTION admin.housekeeping(p_claims jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
  perform admin.require_staff(p_claims);
  return jsonb_build_object(
    'jobs', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'jobid', j.jobid, 'name', j.jobname, 'schedule', j.schedule, 'active', j.active, 'command', j.command,
        'last_run', (
          select jsonb_build_object('status', d.status, 'started_at', d.start_time, 'finished_at', d.end_time,
                                    'message', left(d.return_message, 500))
            from cron.job_run_details d where d.jobid = j.jobid order by d.runid desc limit 1),
        'failures_24h', (
          select count(*) from cron.job_run_details d
           where d.jobid = j.jobid and d.status = 'failed' and d.start_time > now() - interval '24 hours')
      ) order by j.jobname), '[]'::jsonb)
        from cron.job j
    ),
    'due', jsonb_build_object(
      'sessions_to_expire', (select count(*) from public.order_sessions s where s.status = 'active' and s.expires_at <= now()),
      'expired_reservations', (select count(*) from checkout.stock_reservations r where r.expires_at <= now())
    )
  );
end
$function$;

-- admin.order_detail(jsonb,text): public.payment_events, public.payment_refunds, public.order_session_events
CREATE OR REPLACE FUNCTION admin.order_detail(p_claims jsonb, p_order text)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  o public.orders;
  ref text := btrim(coalesce(p_order, ''));
begin
  perform admin.require_staff(p_claims);
  perform admin.check_input(
    ref ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' or ref ~ '^ORD-\d{1,19}$',
    'order', 'the order must be an order id (uuid) or an order number (ORD-001234)');
  if ref ~ '^ORD-' then
    select * into o from public.orders x where x.order_number = ref;
  else
    select * into o from public.orders x where x.id = ref::uuid;
  end if;
  if not found then
    raise exception 'no such order' using errcode = 'CKO01', detail = jsonb_build_object('order', ref)::text;
  end if;
  return private.order_json(o) || jsonb_build_object(
    'payment_id', o.payment_id::text,
    'payment_type', o.payment_type,
    'payment_method', o.payment_method,
    'updated_at', o.updated_at,
    'payments', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'payment_id', pe.payment_id::text, 'status', pe.status, 'status_detail', pe.status_detail,
        'amount', pe.transaction_amount, 'currency', pe.currency, 'payment_type', pe.payment_type,
        'payment_method', pe.payment_method, 'received_at', pe.received_at) order by pe.received_at, pe.id), '[]'::jsonb)
        from checkout.payment_events pe
       where pe.order_session_id = o.order_session_id or pe.payment_id = o.payment_id
    ),
    'refunds', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'payment_id', pr.payment_id::text, 'amount', pr.amount, 'currency', pr.currency, 'reason', pr.reason,
        'status', pr.status, 'mp_refund_id', pr.mp_refund_id, 'created_at', pr.created_at, 'refunded_at', pr.refunded_at)
        order by pr.created_at), '[]'::jsonb)
        from checkout.payment_refunds pr where pr.order_session_id = o.order_session_id
    ),
    'session', (
      select jsonb_build_object('id', s.id, 'token', s.token, 'status', s.status, 'created_at', s.created_at,
                                'expires_at', s.expires_at, 'paid_at', s.paid_at, 'preference_id', s.preference_id)
        from public.order_sessions s where s.id = o.order_session_id
    ),
    'events', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'id', e.id, 'kind', e.kind, 'payment_id', e.payment_id::text, 'detail', e.detail, 'created_at', e.created_at) order by e.id), '[]'::jsonb)
        from checkout.order_session_events e where e.order_session_id = o.order_session_id
    )
  );
end
$function$;

-- admin.refund_to_retry(jsonb,text): public.payment_refunds
CREATE OR REPLACE FUNCTION admin.refund_to_retry(p_claims jsonb, p_payment_id text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  r checkout.payment_refunds;
begin
  perform admin.require_staff(p_claims);
  perform admin.check_input(p_payment_id ~ '^\d{1,18}$', 'payment_id', 'the payment id must be a MercadoPago payment id (digits)');
  select * into r from checkout.payment_refunds pr where pr.payment_id = p_payment_id::bigint for update;
  if not found then
    raise exception 'no refund is owed for payment %', p_payment_id using errcode = 'CKO01', detail = jsonb_build_object('payment_id', p_payment_id)::text;
  end if;
  if r.status <> 'owed' then
    raise exception 'the refund of payment % was already made', p_payment_id
      using errcode = 'CKO02', detail = jsonb_build_object('payment_id', p_payment_id, 'mp_refund_id', r.mp_refund_id)::text;
  end if;
  -- Counted like the reconcile function's attempts (its back-off is left as it is).
  update checkout.payment_refunds set attempts = attempts + 1 where id = r.id;
  return jsonb_build_object('payment_id', r.payment_id::text, 'amount', r.amount, 'currency', r.currency, 'reason', r.reason,
                            'order_session_id', r.order_session_id);
end
$function$;

-- admin.stock(jsonb): public.stock_reservations
CREATE OR REPLACE FUNCTION admin.stock(p_claims jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
  perform admin.require_staff(p_claims);
  return jsonb_build_object(
    'variants', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'id', v.id, 'sku', v.sku, 'title', v.title, 'product', p.title, 'active', v.active and p.active,
        'price', v.price, 'currency', v.currency,
        'on_hand', v.stock_on_hand,
        'reserved', coalesce(r.units, 0),
        'reserving_sessions', coalesce(r.sessions, 0),
        'available', v.stock_on_hand - coalesce(r.units, 0)) order by p.title, v.position, v.sku), '[]'::jsonb)
        from public.variants v
        join public.products p on p.id = v.product_id
        left join lateral (
          select sum(x.quantity)::integer as units, count(distinct x.order_session_id)::integer as sessions
            from checkout.stock_reservations x where x.variant_id = v.id and x.expires_at > now()
        ) r on true
    ),
    'adjustments', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'id', a.id, 'variant_id', a.variant_id, 'sku', v.sku, 'delta', a.delta, 'on_hand_before', a.on_hand_before,
        'on_hand_after', a.on_hand_after, 'reason', a.reason, 'staff_email', a.staff_email, 'created_at', a.created_at) order by a.id desc), '[]'::jsonb)
        from (select * from admin.stock_adjustments order by id desc limit 20) a
        join public.variants v on v.id = a.variant_id
    )
  );
end
$function$;

-- analytics.compute_day(date): public.payment_refunds, public.order_session_events
CREATE OR REPLACE FUNCTION analytics.compute_day(p_day date)
 RETURNS analytics.daily_funnel
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
$function$;

-- checkout.audit(): public.stock_reservations, public.payment_events, public.payment_refunds
CREATE OR REPLACE FUNCTION checkout.audit()
 RETURNS jsonb
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
  select coalesce(jsonb_agg(v order by v ->> 'invariant', v ->> 'subject'), '[]'::jsonb)
    from (
      -- variants.reserved is the sum of its reservation rows
      select jsonb_build_object('invariant', 'reserved_counter_mismatch', 'subject', v.sku,
                                'detail', jsonb_build_object('variant_id', v.id, 'reserved', v.reserved, 'reservation_rows', coalesce(r.units, 0))) as v
        from public.variants v
        left join (select variant_id, sum(quantity)::integer as units from checkout.stock_reservations group by variant_id) r on r.variant_id = v.id
       where v.reserved <> coalesce(r.units, 0)
      union all
      -- no stock below zero, and no more units promised than are on hand
      select jsonb_build_object('invariant', 'stock_below_zero', 'subject', v.sku,
                                'detail', jsonb_build_object('variant_id', v.id, 'stock_on_hand', v.stock_on_hand,
                                                             'unexpired_reservations', coalesce(r.units, 0)))
        from public.variants v
        left join (select variant_id, sum(quantity)::integer as units from checkout.stock_reservations
                    where expires_at > now() group by variant_id) r on r.variant_id = v.id
       where v.stock_on_hand < 0 or v.reserved < 0 or v.stock_on_hand < coalesce(r.units, 0)
      union all
      -- every approved payment has an order or a refund (those matching no
      -- session included: money that arrived for nothing we know)
      select jsonb_build_object('invariant', 'approved_payment_unsettled', 'subject', pe.payment_id::text,
                                'detail', jsonb_build_object('payment_id', pe.payment_id, 'order_session_id', pe.order_session_id,
                                                             'external_reference', pe.external_reference, 'amount', pe.transaction_amount,
                                                             'currency', pe.currency, 'received_at', pe.received_at,
                                                             'matches_no_session', pe.order_session_id is null))
        from checkout.payment_events pe
       where pe.status = 'approved'
         and not exists (select 1 from public.orders o where o.payment_id = pe.payment_id)
         and not exists (select 1 from checkout.payment_refunds r where r.payment_id = pe.payment_id)
      union all
      -- every order has an approved payment
      select jsonb_build_object('invariant', 'order_without_approved_payment', 'subject', o.order_number,
                                'detail', jsonb_build_object('order_id', o.id, 'payment_id', o.payment_id))
        from public.orders o
       where not exists (select 1 from checkout.payment_events pe where pe.payment_id = o.payment_id and pe.status = 'approved')
      union all
      -- one order per cart checkout (the sessions of a checkout group)
      select jsonb_build_object('invariant', 'two_orders_one_checkout', 'subject', s.checkout_group::text,
                                'detail', jsonb_build_object('orders', jsonb_agg(o.order_number order by o.order_number)))
        from public.orders o
        join public.order_sessions s on s.id = o.order_session_id
       group by s.checkout_group
      having count(*) > 1
      union all
      -- a session marked paid has its order; closed sessions hold no stock
      select jsonb_build_object('invariant', 'paid_session_without_order', 'subject', s.id::text, 'detail', jsonb_build_object('token', s.token))
        from public.order_sessions s
       where s.status = 'paid' and not exists (select 1 from public.orders o where o.order_session_id = s.id)
      union all
      select jsonb_build_object('invariant', 'closed_session_holds_stock', 'subject', s.id::text,
                                'detail', jsonb_build_object('status', s.status))
        from public.order_sessions s
       where s.status <> 'active' and exists (select 1 from checkout.stock_reservations r where r.order_session_id = s.id)
      union all
      -- refunds owed are made within the hour
      select jsonb_build_object('invariant', 'refund_owed_over_1h', 'subject', r.payment_id::text,
                                'detail', jsonb_build_object('payment_id', r.payment_id, 'order_session_id', r.order_session_id,
                                                             'reason', r.reason, 'amount', r.amount, 'currency', r.currency,
                                                             'owed_since', r.created_at, 'attempts', r.attempts, 'last_error', r.last_error))
        from checkout.payment_refunds r
       where r.status = 'owed' and r.created_at < now() - interval '1 hour'
    ) x(v)
$function$;

-- checkout.begin_checkout(uuid,jsonb,jsonb,text): public.coupons, public.stock_reservations, public.order_session_events
CREATE OR REPLACE FUNCTION checkout.begin_checkout(p_session_id uuid, p_payer jsonb, p_shipping_address jsonb, p_coupon_code text DEFAULT NULL::text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  cfg private.settings := private.current_settings();
  prev_id uuid;
  prev_ids uuid[];
  variant_ids uuid[];
  snapshot jsonb;
  short jsonb;
  currencies integer;
  cur text;
  v_subtotal numeric(12, 2);
  v_items integer;
  v_discount numeric(12, 2) := 0;
  v_code text := upper(nullif(btrim(p_coupon_code), ''));
  v_group uuid;
  c checkout.coupons;
  s public.order_sessions;
begin
  if p_session_id is null then
    raise exception 'session id is required' using errcode = 'CKI01';
  end if;
  if jsonb_typeof(p_payer) is distinct from 'object'
     or coalesce(p_payer ->> 'email', '') !~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$' then
    raise exception 'payer must be an object with a valid email' using errcode = 'CKI01';
  end if;
  if jsonb_typeof(p_shipping_address) is distinct from 'object' then
    raise exception 'shipping address must be an object' using errcode = 'CKI01';
  end if;

  -- Locks, always in this order everywhere: the shopper's cart, order
  -- sessions, the coupon, then variants by id. The variant locks serialise
  -- checkouts of a hot product, so everything that can be done before them
  -- is: they are held only for the availability check and the reservation.

  -- 1. One checkout at a time per shopper: lock the cart.
  perform 1 from public.carts where session_id = p_session_id for update;
  if not found then
    raise exception 'the cart is empty' using errcode = 'CKC01';
  end if;

  -- 2. A shopper has at most one active order session: the previous one is
  --    cancelled and its stock released before this one reserves. The new
  --    session joins its checkout group (see the header of this migration).
  select coalesce(array_agg(id order by id), '{}'), min(checkout_group::text)::uuid into prev_ids, v_group
    from (select id, checkout_group from public.order_sessions
           where session_id = p_session_id and status = 'active'
           order by id
             for update) prev;

  -- 3. The lines, summed per variant, at the prices read now.
  with items as (
    select ci.variant_id, sum(ci.quantity)::integer as quantity
      from public.cart_items ci
     where ci.session_id = p_session_id
     group by ci.variant_id
  ), priced as (
    select i.variant_id, i.quantity, v.sku, p.title || ' - ' || v.title as title, v.price, v.currency
      from items i
      join public.variants v on v.id = i.variant_id
      join public.products p on p.id = v.product_id
  )
  select jsonb_agg(jsonb_build_object(
           'variant_id', variant_id, 'sku', sku, 'title', title, 'unit_price', price,
           'quantity', quantity, 'line_total', price * quantity) order by sku),
         array_agg(variant_id order by variant_id),
         count(distinct currency), min(currency), sum(price * quantity), sum(quantity)
    into snapshot, variant_ids, currencies, cur, v_subtotal, v_items
    from priced;

  if variant_ids is null then
    raise exception 'the cart is empty' using errcode = 'CKC01';
  end if;
  if currencies > 1 then
    raise exception 'the cart mixes currencies' using errcode = 'CKM01';
  end if;

  -- 4. The coupon, locked so that concurrent checkouts count its holders one
  --    at a time; the rule itself lives in private.apply_coupon_rule, which
  --    the cart's coupon preview applies too.
  if v_code is not null then
    select * into c from checkout.coupons where coupons.code = v_code for update;
    v_discount := private.apply_coupon_rule(
      c, v_code, v_subtotal, cur,
      case when c.id is null or c.max_redemptions is null then 0 else private.coupon_holders(c.id, prev_ids) end);
  end if;

  -- 5. Cancel the previous session. Its release updates its variants, so
  --    they are locked with the cart's, by id, first.
  if cardinality(prev_ids) > 0 then
    perform 1 from public.variants v
     where v.id = any (variant_ids)
        or v.id in (select r.variant_id from checkout.stock_reservations r where r.order_session_id = any (prev_ids))
     order by v.id
       for update;
    foreach prev_id in array prev_ids loop
      perform private.close_order_session(prev_id, 'cancelled', 'replaced by a new checkout');
    end loop;
  end if;

  -- 6. The snapshot (written before the variant locks to hold them briefly;
  --    an error below rolls it back).
  insert into public.order_sessions (
    session_id, lines, item_count, subtotal, discount, total, currency,
    coupon_id, coupon_code, payer, shipping_address, expires_at, checkout_group
  ) values (
    p_session_id, snapshot, v_items, v_subtotal, v_discount, v_subtotal - v_discount, cur,
    c.id, case when c.id is null then null else v_code end, p_payer, p_shipping_address, now() + cfg.reservation_ttl,
    coalesce(v_group, gen_random_uuid())
  )
  returning * into s;
  insert into checkout.order_session_events (order_session_id, kind, detail) values
    (s.id, 'created', jsonb_build_object('total', s.total, 'currency', s.currency, 'coupon', s.coupon_code,
                                         'replaces', to_jsonb(prev_ids))),
    (s.id, 'reserved', jsonb_build_object('lines', (
       select jsonb_agg(jsonb_build_object('sku', x.sku, 'quantity', x.quantity))
         from jsonb_to_recordset(snapshot) as x(sku text, quantity integer)), 'expires_at', s.expires_at));

  -- 7. The variants, locked by id whatever the order of the cart's lines, so
  --    that concurrent checkouts cannot deadlock; then availability under
  --    the locks: every short line, or none. FOR UPDATE rather than FOR NO
  --    KEY UPDATE: the weaker lock lets other shoppers' cart inserts take
  --    their foreign-key share lock on the hot row, which turns it into a
  --    MultiXact; measured (npm run bench -- --only hot), their p99 during
  --    32-client checkouts went from 1.2-2.1x to 3.2-5.7x of the calm one.
  perform 1 from public.variants v where v.id = any (variant_ids) order by v.id for update;
  short := private.short_lines(snapshot, p_for_sale => true);
  if jsonb_array_length(short) > 0 then
    raise exception 'not enough stock: %', (
      select string_agg(format('%s (requested %s, available %s)', e ->> 'sku', e ->> 'requested', e ->> 'available'), ', ' order by e ->> 'sku')
        from jsonb_array_elements(short) e)
      using errcode = 'CKS01', detail = jsonb_build_object('short', short)::text;
  end if;

  -- 8. Reserve.
  insert into checkout.stock_reservations (order_session_id, variant_id, quantity, expires_at)
  select s.id, x.variant_id, x.quantity, s.expires_at
    from jsonb_to_recordset(snapshot) as x(variant_id uuid, quantity integer);

  return private.order_session_json(s);
end
$function$;

-- checkout.claim_reconciliation(interval,integer): public.payment_events
CREATE OR REPLACE FUNCTION checkout.claim_reconciliation(p_window interval DEFAULT '48:00:00'::interval, p_limit integer DEFAULT 50)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  claimed jsonb;
begin
  -- Active sessions, and sessions closed within the window, with a
  -- preference (so a payment was possible) and no approved payment applied.
  -- Each claim moves next_check_at forward: 1, 2, 4 ... minutes, at most 6
  -- hours apart, so a long window costs few calls.
  with due as (
    select s.id from public.order_sessions s
     where s.status in ('active', 'expired', 'cancelled')
       and s.preference_id is not null
       and s.next_check_at <= now()
       and (s.status = 'active' or s.closed_at > now() - p_window)
       and not exists (select 1 from checkout.payment_events pe where pe.order_session_id = s.id and pe.status = 'approved')
     order by s.next_check_at
     limit greatest(least(p_limit, 500), 1)
       for update skip locked
  ), claimed as (
    update public.order_sessions s
       set checks = s.checks + 1,
           next_check_at = now() + least(interval '1 minute' * power(2, least(s.checks, 20)), interval '6 hours')
      from due where s.id = due.id
    returning s.id, s.token, s.status, s.checks
  )
  select coalesce(jsonb_agg(jsonb_build_object('order_session_id', c.id, 'token', c.token, 'status', c.status, 'checks', c.checks)), '[]'::jsonb)
    into claimed from claimed c;
  return claimed;
end
$function$;

-- checkout.claim_refunds(integer): public.payment_refunds
CREATE OR REPLACE FUNCTION checkout.claim_refunds(p_limit integer DEFAULT 20)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  claimed jsonb;
begin
  with due as (
    select r.id from checkout.payment_refunds r
     where r.status = 'owed' and r.next_attempt_at <= now()
     order by r.next_attempt_at
     limit greatest(least(p_limit, 200), 1)
       for update skip locked
  ), claimed as (
    update checkout.payment_refunds r
       set attempts = r.attempts + 1,
           next_attempt_at = now() + least(interval '1 minute' * power(2, least(r.attempts, 20)), interval '6 hours')
      from due where r.id = due.id
    returning r.payment_id, r.order_session_id, r.amount, r.currency, r.reason, r.attempts
  )
  select coalesce(jsonb_agg(to_jsonb(c)), '[]'::jsonb) into claimed from claimed c;
  return claimed;
end
$function$;

-- checkout.expire_sessions(integer): public.order_session_events
CREATE OR REPLACE FUNCTION checkout.expire_sessions(p_batch_size integer DEFAULT 1000)
 RETURNS integer
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  expired_ids uuid[];
begin
  -- skip locked: a session being paid right now is left to apply_payment.
  with due as (
    select id from public.order_sessions
     where status = 'active' and expires_at <= now()
     order by expires_at
     limit greatest(p_batch_size, 1)
       for update skip locked
  ), moved as (
    update public.order_sessions s
       set status = 'expired', closed_at = now()
      from due where s.id = due.id
    returning s.id
  )
  select coalesce(array_agg(id), '{}') into expired_ids from moved;

  perform private.release_stock(expired_ids);
  insert into checkout.order_session_events (order_session_id, kind, detail)
  select id, 'expired', '{"reason": "reservation time ran out"}'::jsonb from unnest(expired_ids) id;
  return coalesce(array_length(expired_ids, 1), 0);
end
$function$;

-- checkout.note_refund_failure(bigint,text): public.payment_refunds
CREATE OR REPLACE FUNCTION checkout.note_refund_failure(p_payment_id bigint, p_error text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  r checkout.payment_refunds;
begin
  update checkout.payment_refunds
     set last_error = left(coalesce(p_error, 'unknown error'), 500)
   where payment_id = p_payment_id and status = 'owed'
  returning * into r;
  if not found then
    return null;
  end if;
  if r.order_session_id is not null then
    perform private.log_event(r.order_session_id, 'refund_failed',
      jsonb_build_object('attempts', r.attempts, 'error', r.last_error, 'next_attempt_at', r.next_attempt_at), p_payment_id);
  end if;
  return jsonb_build_object('payment_id', r.payment_id, 'attempts', r.attempts, 'next_attempt_at', r.next_attempt_at, 'last_error', r.last_error);
end
$function$;

-- checkout.record_refund(bigint,text): public.payment_refunds
CREATE OR REPLACE FUNCTION checkout.record_refund(p_payment_id bigint, p_mp_refund_id text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  r checkout.payment_refunds;
  s public.order_sessions;
begin
  select * into r from checkout.payment_refunds where payment_id = p_payment_id for update;
  if not found then
    raise exception 'no refund is owed for payment %', p_payment_id using errcode = 'CKO01';
  end if;
  if r.status = 'owed' then
    update checkout.payment_refunds
       set status = 'refunded', mp_refund_id = coalesce(p_mp_refund_id, mp_refund_id), refunded_at = now(), last_error = null
     where id = r.id returning * into r;
    select * into s from public.order_sessions where id = r.order_session_id for update;
    if s.status = 'refund_owed' and s.payment_id = p_payment_id then
      update public.order_sessions set status = 'refunded' where id = s.id returning * into s;
    end if;
    perform private.log_event(r.order_session_id, 'refunded',
      jsonb_build_object('amount', r.amount, 'currency', r.currency, 'mp_refund_id', r.mp_refund_id, 'reason', r.reason), p_payment_id);
  else
    if r.mp_refund_id is null and p_mp_refund_id is not null then
      update checkout.payment_refunds set mp_refund_id = p_mp_refund_id where id = r.id returning * into r;
    end if;
    select * into s from public.order_sessions where id = r.order_session_id;
  end if;
  return jsonb_build_object('order_session_id', r.order_session_id, 'outcome', 'refund_recorded', 'payment_id', p_payment_id, 'session_status', s.status,
    'refund', jsonb_build_object('payment_id', r.payment_id, 'amount', r.amount, 'currency', r.currency,
                                 'reason', r.reason, 'status', r.status, 'mp_refund_id', r.mp_refund_id));
end
$function$;

-- checkout.stats(): public.payment_events, public.payment_refunds, public.stock_reservations
CREATE OR REPLACE FUNCTION checkout.stats()
 RETURNS jsonb
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
  with by_status as (
    select s.status::text as status, count(*) as n from public.order_sessions s group by s.status
  ), day as (
    select count(*) filter (where s.status = 'paid') as paid,
           count(*) filter (where s.status in ('expired', 'cancelled', 'refund_owed', 'refunded')) as lost,
           count(*) as created
      from public.order_sessions s
     where s.created_at > now() - interval '24 hours'
  ), unsettled as (
    select pe.payment_id, pe.order_session_id, pe.transaction_amount, pe.currency, pe.received_at
      from checkout.payment_events pe
     where pe.status = 'approved'
       and not exists (select 1 from public.orders o where o.payment_id = pe.payment_id)
       and not exists (select 1 from checkout.payment_refunds r where r.payment_id = pe.payment_id)
  )
  select jsonb_build_object(
    'generated_at', now(),
    'sessions_by_status', (
      select jsonb_object_agg(st, coalesce((select n from by_status b where b.status = st), 0))
        from unnest(enum_range(null::public.order_session_status)::text[]) st
    ),
    'conversion_rate', (
      select case when sum(n) filter (where status <> 'active') > 0
                  then round(coalesce(sum(n) filter (where status = 'paid'), 0)::numeric / sum(n) filter (where status <> 'active'), 4)
             end
        from by_status
    ),
    'last_24h', (select jsonb_build_object(
      'created', d.created, 'paid', d.paid,
      'conversion_rate', case when d.paid + d.lost > 0 then round(d.paid::numeric / (d.paid + d.lost), 4) end) from day d),
    'active_reservations', (
      select jsonb_build_object('sessions', count(distinct r.order_session_id), 'units', coalesce(sum(r.quantity), 0))
        from checkout.stock_reservations r where r.expires_at > now()
    ),
    'late_payments', jsonb_build_object(
      'orders', (select count(*) from public.orders o where o.paid_late),
      'out_of_stock', (select count(*) from checkout.payment_refunds pr where pr.reason = 'out_of_stock')
    ),
    'refunds_owed', (
      select jsonb_build_object('count', coalesce(sum(x.n), 0), 'by_currency', coalesce(jsonb_object_agg(x.currency, x.amount), '{}'::jsonb))
        from (select pr.currency, sum(pr.amount) as amount, count(*) as n
                from checkout.payment_refunds pr where pr.status = 'owed' group by pr.currency) x
    ),
    'refunds_made', (select count(*) from checkout.payment_refunds pr where pr.status = 'refunded'),
    'refunds_by_reason', (
      select coalesce(jsonb_object_agg(x.reason, x.n), '{}'::jsonb)
        from (select pr.reason, count(*) as n from checkout.payment_refunds pr group by pr.reason) x
    ),
    'amount_mismatches', (select count(*) from checkout.payment_refunds pr where pr.reason = 'amount_mismatch'),
    'unmatched_payments', (
      select jsonb_build_object('count', count(*), 'by_currency', coalesce(jsonb_object_agg(y.currency, y.amount) filter (where y.currency is not null), '{}'::jsonb))
        from (select u.currency, sum(u.transaction_amount) as amount from unsettled u where u.order_session_id is null group by u.currency) y
    ),
    'expired_last_24h', (
      select count(*) from public.order_sessions s
       where s.status = 'expired' and s.closed_at > now() - interval '24 hours'
    ),
    'stuck', jsonb_build_object(
      'refunds_owed_over_1h', (select count(*) from checkout.payment_refunds pr where pr.status = 'owed' and pr.created_at < now() - interval '1 hour'),
      'approved_payments_unsettled_over_1h', (select count(*) from unsettled u where u.received_at < now() - interval '1 hour'),
      'sessions_active_past_expiry_over_1h', (
        select count(*) from public.order_sessions s where s.status = 'active' and s.expires_at < now() - interval '1 hour'),
      'preferences_open_over_1h', (
        select count(*) from public.order_sessions s
         where s.status in ('expired', 'cancelled') and s.preference_id is not null and s.preference_expired_at is null
           and s.expires_at > now() and s.closed_at < now() - interval '1 hour')
    ),
    'orders', (
      select jsonb_build_object('total', coalesce(sum(x.n), 0),
        'by_status', coalesce(jsonb_object_agg(x.status, x.n), '{}'::jsonb))
        from (select o.status::text as status, count(*) as n from public.orders o group by o.status) x
    )
  )
$function$;

-- checkout.top_holders(integer): public.stock_reservations
CREATE OR REPLACE FUNCTION checkout.top_holders(p_limit integer DEFAULT 10)
 RETURNS jsonb
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
  select coalesce(jsonb_agg(h order by (h ->> 'units')::integer desc, h ->> 'session_id'), '[]'::jsonb)
    from (
      select jsonb_build_object(
               'session_id', s.session_id,
               'units', sum(r.quantity)::integer,
               'variants', count(distinct r.variant_id)::integer,
               'expires_at', max(r.expires_at),
               'unpaid_expiries_last_window', (
                 select count(*)::integer
                   from private.unpaid_expiries(s.session_id, now() - (private.current_settings()).unpaid_expiry_window))
             ) as h
        from checkout.stock_reservations r
        join public.order_sessions s on s.id = r.order_session_id
       where r.expires_at > now()
       group by s.session_id
       order by sum(r.quantity) desc, s.session_id
       limit greatest(least(coalesce(p_limit, 10), 100), 1)
    ) top
$function$;

-- checkout.trim_sessions(integer): public.payment_events, public.payment_refunds
CREATE OR REPLACE FUNCTION checkout.trim_sessions(p_batch_size integer DEFAULT 5000)
 RETURNS integer
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  trimmed integer;
begin
  with doomed as (
    select s.id from public.order_sessions s
     where s.status in ('expired', 'cancelled')
       and s.closed_at < now() - (private.current_settings()).trim_after
       and not exists (select 1 from checkout.payment_events pe where pe.order_session_id = s.id)
       and not exists (select 1 from checkout.payment_refunds pr where pr.order_session_id = s.id)
       and not exists (select 1 from public.orders o where o.order_session_id = s.id)
     order by s.closed_at
     limit greatest(p_batch_size, 1)
       for update skip locked
  )
  delete from public.order_sessions s using doomed where s.id = doomed.id;
  get diagnostics trimmed = row_count;
  return trimmed;
end
$function$;

-- private.available_stock(uuid): public.stock_reservations
CREATE OR REPLACE FUNCTION private.available_stock(p_variant_id uuid)
 RETURNS integer
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
  -- reserved counts every reservation row; those already expired hold
  -- nothing (lazy expiry), so they are added back. Until the cron releases
  -- them there are few, and the index reads just that range.
  select v.stock_on_hand - v.reserved + coalesce((
    select sum(r.quantity)::integer
    from checkout.stock_reservations r
    where r.variant_id = v.id and r.expires_at <= now()
  ), 0)
  from public.variants v
  where v.id = p_variant_id
$function$;

-- private.coupon_quote(text): public.coupons
CREATE OR REPLACE FUNCTION private.coupon_quote(p_code text)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  uid uuid := private.require_shopper();
  v_code text := upper(nullif(btrim(p_code), ''));
  c checkout.coupons;
  currencies integer;
  cur text;
  v_subtotal numeric(12, 2);
  v_items integer;
  v_discount numeric(12, 2);
  own_sessions uuid[];
begin
  if v_code is null or length(v_code) > 64 then
    raise exception 'coupon code is required' using errcode = 'CKI01';
  end if;
  -- The cart as begin_checkout prices it: summed per variant at today's prices.
  select count(distinct v.currency), min(v.currency), sum(v.price * ci.quantity), sum(ci.quantity)
    into currencies, cur, v_subtotal, v_items
    from public.cart_items ci
    join public.variants v on v.id = ci.variant_id
   where ci.session_id = uid;
  if coalesce(v_items, 0) = 0 then
    raise exception 'the cart is empty' using errcode = 'CKC01';
  end if;
  if currencies > 1 then
    raise exception 'the cart mixes currencies' using errcode = 'CKM01';
  end if;
  select * into c from checkout.coupons where coupons.code = v_code;
  -- A checkout would cancel the shopper's own active session, which then no
  -- longer holds the coupon: begin_checkout leaves it out of the count too.
  select coalesce(array_agg(os.id), '{}') into own_sessions
    from public.order_sessions os where os.session_id = uid and os.status = 'active';
  v_discount := private.apply_coupon_rule(
    c, v_code, v_subtotal, cur,
    case when c.id is null or c.max_redemptions is null then 0 else private.coupon_holders(c.id, own_sessions) end);
  return jsonb_build_object(
    'coupon', v_code,
    'kind', c.kind,
    'value', c.value,
    'currency', cur,
    'item_count', v_items,
    'subtotal', v_subtotal,
    'discount', v_discount,
    'total', v_subtotal - v_discount
  );
end
$function$;

-- private.follow_payment(order_sessions,jsonb): public.payment_refunds
CREATE OR REPLACE FUNCTION private.follow_payment(s order_sessions, p_payment jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  pid bigint := (p_payment ->> 'id')::bigint;
  st text := p_payment ->> 'status';
  refund_id text := nullif(p_payment ->> 'refund_id', '');
  o public.orders;
begin
  select * into o from public.orders where order_session_id = s.id;
  if st in ('refunded', 'charged_back', 'in_mediation') then
    if o.id is not null and o.payment_id = pid then
      -- Forward only: a stale in_mediation after a refund changes nothing.
      if private.order_status_may_move(o.status, st::public.order_status) then
        update public.orders set status = st::public.order_status where id = o.id returning * into o;
        perform private.log_event(s.id, 'order_status_changed', jsonb_build_object('order_id', o.id, 'status', st), pid);
      end if;
      return jsonb_build_object('order_session_id', s.id, 'outcome', 'order_updated', 'payment_id', pid, 'session_status', s.status, 'order', private.order_json(o));
    end if;
    if st = 'refunded' and exists (
      select 1 from checkout.payment_refunds
       where payment_id = pid and (status = 'owed' or (mp_refund_id is null and refund_id is not null))
    ) then
      return checkout.record_refund(pid, refund_id);
    end if;
  end if;
  -- pending, in_process, authorized, rejected, cancelled: recorded; an
  -- active session stays active so the buyer can pay again until it expires.
  return jsonb_build_object('order_session_id', s.id, 'outcome', 'recorded', 'payment_id', pid, 'status', st, 'session_status', s.status,
                            'order', case when o.id is null then null else private.order_json(o) end);
end
$function$;

-- private.log_event(uuid,text,jsonb,bigint): public.order_session_events
CREATE OR REPLACE FUNCTION private.log_event(p_order_session_id uuid, p_kind text, p_detail jsonb DEFAULT '{}'::jsonb, p_payment_id bigint DEFAULT NULL::bigint)
 RETURNS void
 LANGUAGE sql
 SET search_path TO ''
AS $function$
  insert into checkout.order_session_events (order_session_id, kind, payment_id, detail)
  values (p_order_session_id, p_kind, p_payment_id, coalesce(p_detail, '{}'::jsonb));
$function$;

-- private.owe_refund(order_sessions,bigint,numeric,text,text,jsonb): public.payment_refunds
CREATE OR REPLACE FUNCTION private.owe_refund(s order_sessions, p_payment_id bigint, p_amount numeric, p_currency text, p_reason text, p_detail jsonb DEFAULT '{}'::jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  r checkout.payment_refunds;
begin
  insert into checkout.payment_refunds (payment_id, order_session_id, amount, currency, reason)
  values (p_payment_id, s.id, coalesce(p_amount, 0), coalesce(p_currency, s.currency), p_reason)
  on conflict (payment_id) do nothing
  returning * into r;
  if r.id is null then
    select * into r from checkout.payment_refunds where payment_id = p_payment_id;
  else
    perform private.log_event(s.id, 'refund_owed',
      jsonb_build_object('reason', p_reason, 'amount', p_amount, 'currency', p_currency) || coalesce(p_detail, '{}'), p_payment_id);
  end if;
  return jsonb_build_object(
    'payment_id', r.payment_id, 'amount', r.amount, 'currency', r.currency,
    'reason', r.reason, 'status', r.status, 'mp_refund_id', r.mp_refund_id);
end
$function$;

-- private.record_payment(order_sessions,jsonb): public.payment_events
CREATE OR REPLACE FUNCTION private.record_payment(s order_sessions, p_payment jsonb)
 RETURNS boolean
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  seen_first boolean;
begin
  insert into checkout.payment_events (
    payment_id, status, status_detail, order_session_id, external_reference,
    transaction_amount, currency, payment_type, payment_method, payload
  ) values (
    (p_payment ->> 'id')::bigint, p_payment ->> 'status', p_payment ->> 'status_detail', s.id, p_payment ->> 'external_reference',
    (p_payment ->> 'transaction_amount')::numeric, p_payment ->> 'currency_id',
    p_payment ->> 'payment_type_id', p_payment ->> 'payment_method_id', p_payment
  )
  on conflict (payment_id, status) do nothing
  returning true into seen_first;
  if seen_first and s.id is not null then
    perform private.log_event(s.id, 'payment_seen', jsonb_build_object(
      'status', p_payment ->> 'status', 'status_detail', p_payment ->> 'status_detail',
      'amount', (p_payment ->> 'transaction_amount')::numeric, 'currency', p_payment ->> 'currency_id'),
      (p_payment ->> 'id')::bigint);
  end if;
  return coalesce(seen_first, false);
end
$function$;

-- private.release_stock(uuid[]): public.stock_reservations
CREATE OR REPLACE FUNCTION private.release_stock(p_order_session_ids uuid[])
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  n integer;
begin
  -- The statement trigger on stock_reservations lowers variants.reserved,
  -- locking the variants by id.
  delete from checkout.stock_reservations where order_session_id = any (p_order_session_ids);
  get diagnostics n = row_count;
  return n;
end
$function$;

-- private.settle_approved(order_sessions,jsonb): public.coupons, public.stock_reservations
CREATE OR REPLACE FUNCTION private.settle_approved(s order_sessions, p_payment jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  pid bigint := (p_payment ->> 'id')::bigint;
  amount numeric := (p_payment ->> 'transaction_amount')::numeric;
  cur text := p_payment ->> 'currency_id';
  answer jsonb := private.settle_known_payment(s, p_payment);
  late boolean := not (s.status = 'active' and s.expires_at > now());
  rivals uuid[] := '{}';
  rival uuid;
  c checkout.coupons;
  short jsonb;
begin
  if answer is not null then
    return answer;
  end if;

  if late then
    -- Another session of this cart checkout became the order: this payment
    -- is the second one for the same goods.
    if exists (select 1 from public.order_sessions g join public.orders o on o.order_session_id = g.id
                where g.checkout_group = s.checkout_group and g.id <> s.id) then
      return private.cannot_fulfil(s, pid, amount, cur, 'superseded');
    end if;
    -- A newer session of the group still waiting for its payment is taken
    -- over (cancelled) if this one can be fulfilled.
    select coalesce(array_agg(g.id order by g.id), '{}') into rivals
      from (select id from public.order_sessions
             where checkout_group = s.checkout_group and id <> s.id and status = 'active'
             order by id
               for update) g;
    -- A late payment's coupon redemption may have gone to someone else
    -- meanwhile (the coupon is locked before the variants, as in begin_checkout).
    if s.coupon_id is not null then
      select * into c from checkout.coupons where id = s.coupon_id for update;
      if c.max_redemptions is not null and private.coupon_holders(c.id, array[s.id] || rivals) >= c.max_redemptions then
        return private.cannot_fulfil(s, pid, amount, cur, 'coupon_used_up');
      end if;
    end if;
  end if;

  perform 1 from public.variants v
   where v.id in (select (l ->> 'variant_id')::uuid from jsonb_array_elements(s.lines) l)
      or v.id in (select r.variant_id from checkout.stock_reservations r where r.order_session_id = any (rivals))
   order by v.id
     for update;
  short := private.short_lines(s.lines, case when late then null else s.id end, rivals);
  if jsonb_array_length(short) > 0 then
    return private.cannot_fulfil(s, pid, amount, cur, case when late then 'out_of_stock' else 'stock_lowered' end,
                                 jsonb_build_object('short', short));
  end if;

  foreach rival in array rivals loop
    perform private.close_order_session(rival, 'cancelled', 'taken over by a payment for an earlier checkout');
    perform private.log_event(s.id, 'taken_over', jsonb_build_object('cancelled', rival), pid);
  end loop;
  return private.commit_order(s, p_payment, late);
end
$function$;

-- private.settle_known_payment(order_sessions,jsonb): public.payment_refunds
CREATE OR REPLACE FUNCTION private.settle_known_payment(s order_sessions, p_payment jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  pid bigint := (p_payment ->> 'id')::bigint;
  amount numeric := (p_payment ->> 'transaction_amount')::numeric;
  cur text := p_payment ->> 'currency_id';
  o public.orders;
  r checkout.payment_refunds;
begin
  select * into o from public.orders where order_session_id = s.id;
  if o.id is not null then
    if o.payment_id = pid then
      if o.status = 'in_mediation' then
        -- A mediation settled in the store's favour: the payment is approved again.
        update public.orders set status = 'paid' where id = o.id returning * into o;
        perform private.log_event(s.id, 'order_status_changed', jsonb_build_object('order_id', o.id, 'status', 'paid'), pid);
      end if;
      -- The same approval again (MercadoPago repeats itself, even hours
      -- later): the same answer, nothing changes.
      return jsonb_build_object('order_session_id', s.id, 'outcome', 'already_paid', 'payment_id', pid, 'session_status', s.status, 'order', private.order_json(o));
    end if;
    return jsonb_build_object('order_session_id', s.id, 'outcome', 'refund_owed', 'payment_id', pid, 'session_status', s.status,
      'refund', private.owe_refund(s, pid, amount, cur, 'duplicate_payment'));
  end if;
  select * into r from checkout.payment_refunds where payment_id = pid;
  if found then
    -- Seen before and already owed back: answer as the first time.
    return jsonb_build_object('order_session_id', s.id,
      'outcome', case r.reason when 'amount_mismatch' then 'amount_mismatch' else 'refund_owed' end,
      'payment_id', pid, 'session_status', s.status, 'refund', private.owe_refund(s, pid, amount, cur, r.reason));
  end if;
  if s.status in ('refund_owed', 'refunded') then
    -- Another payment for a session that was already paid without stock.
    return jsonb_build_object('order_session_id', s.id, 'outcome', 'refund_owed', 'payment_id', pid, 'session_status', s.status,
      'refund', private.owe_refund(s, pid, amount, cur, 'duplicate_payment'));
  end if;
  if amount <> s.total or cur is distinct from s.currency then
    perform private.log_event(s.id, 'amount_mismatch', jsonb_build_object(
      'expected', s.total, 'expected_currency', s.currency, 'paid', amount, 'paid_currency', cur), pid);
    return jsonb_build_object('order_session_id', s.id, 'outcome', 'amount_mismatch', 'payment_id', pid, 'session_status', s.status,
      'refund', private.owe_refund(s, pid, amount, cur, 'amount_mismatch'));
  end if;
  return null;
end
$function$;

-- private.short_lines(jsonb,uuid,uuid[],boolean): public.stock_reservations
CREATE OR REPLACE FUNCTION private.short_lines(p_lines jsonb, p_holder uuid DEFAULT NULL::uuid, p_freed uuid[] DEFAULT '{}'::uuid[], p_for_sale boolean DEFAULT false)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  -- A unit is available to a line when nobody else holds it. A line its
  -- session still holds (an unexpired reservation of p_holder) may take any
  -- unit on hand: if the store lowered stock below what was reserved, the
  -- first of the holders to pay gets it. Units held by p_freed sessions
  -- (about to be cancelled) count as free.
  select coalesce(jsonb_agg(jsonb_build_object(
           'variant_id', x.variant_id, 'sku', x.sku, 'title', x.title, 'requested', x.requested,
           'available', case when x.sellable then x.available else 0 end,
           'reason', case when x.sellable then 'insufficient_stock' else 'not_for_sale' end) order by x.sku), '[]'::jsonb)
    from (
      select l.variant_id, l.sku, l.title, l.quantity as requested,
             not p_for_sale or coalesce(v.active and p.active, false) as sellable,
             greatest(case
               when exists (select 1 from checkout.stock_reservations r
                             where r.order_session_id = p_holder and r.variant_id = l.variant_id and r.expires_at > now())
                 then v.stock_on_hand
               else private.available_stock(l.variant_id) + coalesce((
                 select sum(r.quantity)::integer from checkout.stock_reservations r
                  where r.order_session_id = any (p_freed) and r.variant_id = l.variant_id and r.expires_at > now()), 0)
             end, 0) as available
        from jsonb_to_recordset(p_lines) as l(variant_id uuid, sku text, title text, quantity integer)
        left join public.variants v on v.id = l.variant_id
        left join public.products p on p.id = v.product_id
    ) x
   where not x.sellable or x.requested > x.available
$function$;

