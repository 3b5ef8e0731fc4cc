-- The store owner's dashboard: store staff, and the routines behind the admin
-- Edge Function (`admin`).
--
-- Who is staff: a Supabase Auth user whose app_metadata holds
-- `"store_role": "staff"`. app_metadata is writable only with the service
-- role (never by the user), and Supabase Auth copies it into every access
-- token, so the Edge Function sees it in the verified JWT. Set it with
-- admin.set_staff(email, true) (`npm run staff:add`) or with the Auth Admin
-- API (auth.admin.updateUserById(id, {app_metadata: {store_role: 'staff'}})).
--
-- Staff only through a verified email, so that nobody can take over the
-- owner's account before it exists (sign up with owner@... first, wait for
-- staff:add): admin.set_staff refuses (CKA02) an account whose email is not
-- confirmed, and granting the role signs out every session of the account
-- (as GoTrue's global sign-out does), so no session opened before the grant
-- can be refreshed into a staff token. With email confirmation off (local
-- stacks) every sign-up is confirmed at once: `npm run staff:add` also
-- refuses an existing account it did not create unless told --existing.
--
-- Client input never answers 500: admin.adjust_stock checks the sum against
-- integer's range before adding (CKI01 naming delta, with the largest delta
-- that still fits).
--
-- Every routine here takes the verified JWT's claims as its first argument and
-- checks them (admin.require_staff): the claims must say staff AND the user
-- must still be staff in auth.users, so a revoked member of staff loses access
-- at once, not when the token expires. Only service_role may execute them: a
-- browser never reaches them except through the Edge Function.

-- ---------------------------------------------------------------------------
-- Tables

create table admin.stock_adjustments (
  id bigint generated always as identity primary key,
  variant_id uuid not null references public.variants (id) on delete cascade,
  delta integer not null check (delta <> 0),
  on_hand_before integer not null check (on_hand_before >= 0),
  on_hand_after integer not null check (on_hand_after >= 0),
  reserved_then integer not null check (reserved_then >= 0),
  reason text not null check (length(btrim(reason)) between 3 and 500),
  staff_id uuid not null,
  staff_email text,
  created_at timestamptz not null default now(),
  constraint stock_adjustments_after_is_before_plus_delta check (on_hand_after = on_hand_before + delta)
);
comment on table admin.stock_adjustments is
  'Every change of stock on hand made from the dashboard: by how much, from what to what, the units reserved at that moment, why, and by whom. Append-only; service role only.';

create index stock_adjustments_variant_idx on admin.stock_adjustments (variant_id, id desc);
create index stock_adjustments_created_idx on admin.stock_adjustments (created_at desc);

-- No policy: only service_role (which bypasses RLS) reads or writes it.
alter table admin.stock_adjustments enable row level security;
grant select, insert on admin.stock_adjustments to service_role;

-- The order list pages newest first by keyset (created_at, id), and searches
-- by payer email prefix; the dashboard reads orders and sessions by day. The
-- included columns let the dashboard's sums read the indexes alone.
create index orders_created_at_id_idx on public.orders (created_at desc, id desc) include (status, total, currency);
create index orders_payer_email_idx on public.orders (lower(payer ->> 'email') text_pattern_ops, created_at desc);
create index order_sessions_created_at_idx on public.order_sessions (created_at) include (status);

-- ---------------------------------------------------------------------------
-- Routines

create function admin.is_staff(p_claims jsonb)
returns boolean
language sql stable security definer set search_path = ''
as $$
  select coalesce(
    p_claims ->> 'role' = 'authenticated'
    and coalesce((p_claims ->> 'is_anonymous')::boolean, false) = false
    and p_claims -> 'app_metadata' ->> 'store_role' = 'staff'
    and exists (
      select 1 from auth.users u
       where u.id::text = p_claims ->> 'sub'
         and u.raw_app_meta_data ->> 'store_role' = 'staff'
         and not coalesce(u.is_anonymous, false)
    ),
    false)
$$;
comment on function admin.is_staff(jsonb) is
  'Service role only. True when the verified JWT claims are a permanent (non-anonymous) user whose app_metadata.store_role is staff, and auth.users still says so.';
grant execute on function admin.is_staff(jsonb) to service_role;

create function admin.require_staff(p_claims jsonb)
returns void
language plpgsql stable security definer set search_path = ''
as $$
begin
  if not admin.is_staff(p_claims) then
    raise exception 'store staff only'
      using errcode = 'CKA01',
            detail = jsonb_build_object('reason', 'not_staff')::text,
            hint = 'Sign in as a user whose app_metadata.store_role is staff (npm run staff:add).';
  end if;
end
$$;
comment on function admin.require_staff(jsonb) is
  'Service role only. Raises CKA01 (not store staff; the admin function answers 403) unless admin.is_staff(p_claims).';
grant execute on function admin.require_staff(jsonb) to service_role;

create function admin.me(p_claims jsonb)
returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
begin
  perform admin.require_staff(p_claims);
  return (select jsonb_build_object('id', u.id, 'email', u.email, 'role', 'staff')
            from auth.users u where u.id::text = p_claims ->> 'sub');
end
$$;
comment on function admin.me(jsonb) is
  'Service role only (GET /admin/me). The signed-in member of staff, {id, email, role}, as auth.users says now; CKA01 (403) when the claims are not staff''s or the database no longer says so.';
grant execute on function admin.me(jsonb) to service_role;

create function admin.set_staff(p_email text, p_staff boolean default true)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  u auth.users;
  ended integer := 0;
begin
  if p_email is null or p_email !~ '^[^@\s]+@[^@\s]+$' then
    raise exception 'a valid email is required' using errcode = 'CKI01', detail = jsonb_build_object('field', 'email')::text;
  end if;
  select * into u from auth.users
   where lower(email) = lower(btrim(p_email)) and not coalesce(is_anonymous, false)
     for update;
  if not found then
    raise exception 'no permanent user with email %', p_email
      using errcode = 'CKO01', detail = jsonb_build_object('email', p_email)::text,
            hint = 'Create the user first (Supabase dashboard, auth.admin.createUser, or npm run staff:add -- <email> --password <password> locally).';
  end if;
  if p_staff and u.email_confirmed_at is null then
    raise exception '% has not confirmed the email address: store staff must have a confirmed address', u.email
      using errcode = 'CKA02', detail = jsonb_build_object('email', u.email, 'reason', 'email_unconfirmed')::text,
            hint = 'Anyone can sign up with an address that is not theirs. Have its owner confirm it with the link Supabase Auth emailed (ask for a new one with supabase.auth.resend({ type: ''signup'', email })), then run this again.';
  end if;
  update auth.users
     set raw_app_meta_data = case when p_staff
           then coalesce(raw_app_meta_data, '{}'::jsonb) || jsonb_build_object('store_role', 'staff')
           else coalesce(raw_app_meta_data, '{}'::jsonb) - 'store_role' end,
         updated_at = now()
   where id = u.id;
  if p_staff then
    -- GoTrue's global sign-out: the sessions (their refresh tokens and MFA
    -- claims go with them, on delete cascade) and any refresh token left
    -- without a session (auth.refresh_tokens.user_id is text in GoTrue).
    delete from auth.refresh_tokens where user_id = u.id::text;
    delete from auth.sessions where user_id = u.id;
    get diagnostics ended = row_count;
  end if;
  return jsonb_build_object('id', u.id, 'email', u.email, 'staff', p_staff, 'sessions_ended', ended);
end
$$;
comment on function admin.set_staff(text, boolean) is
  'Service role (or SQL) only. Makes the permanent user with this email store staff (app_metadata.store_role = staff), or takes it away. Granting needs a confirmed email (CKA02 otherwise) and signs out every session of the user (auth.sessions, auth.refresh_tokens), so the role reaches only a sign-in made after it; returns {id, email, staff, sessions_ended}. admin.is_staff also reads auth.users, so a removal takes effect at once.';
grant execute on function admin.set_staff(text, boolean) to service_role;

create function admin.check_input(p_ok boolean, p_field text, p_message text)
returns void
language plpgsql immutable security definer set search_path = ''
as $$
begin
  if not coalesce(p_ok, false) then
    raise exception '%', p_message using errcode = 'CKI01', detail = jsonb_build_object('field', p_field)::text;
  end if;
end
$$;
comment on function admin.check_input(boolean, text, text) is
  'Service role only. Raises CKI01 (invalid input) naming the field unless p_ok.';
grant execute on function admin.check_input(boolean, text, text) to service_role;

create function admin.period_figures(p_from timestamptz, p_to timestamptz)
returns jsonb
language sql stable security definer set search_path = ''
as $$
  with o as (
    select o.currency, o.total, o.status from public.orders o where o.created_at >= p_from and o.created_at < p_to
  ), kept as (
    select o.currency, sum(o.total) as revenue, count(*) as n, round(avg(o.total), 2) as average
      from o where o.status in ('paid', 'in_mediation') group by o.currency
  ), s as (
    select count(*) filter (where s.status = 'paid') as paid,
           count(*) filter (where s.status <> 'active') as closed,
           count(*) as created
      from public.order_sessions s where s.created_at >= p_from and s.created_at < p_to
  )
  select jsonb_build_object(
    'orders', (select count(*) from o),
    'orders_kept', (select coalesce(sum(n), 0) from kept),
    'revenue', (select coalesce(jsonb_object_agg(k.currency, k.revenue), '{}'::jsonb) from kept k),
    'average_order', (select coalesce(jsonb_object_agg(k.currency, k.average), '{}'::jsonb) from kept k),
    'checkouts', s.created,
    'checkouts_paid', s.paid,
    'conversion_rate', case when s.closed > 0 then round(s.paid::numeric / s.closed, 4) end
  )
  from s
$$;
comment on function admin.period_figures(timestamptz, timestamptz) is
  'Service role only. Orders and checkouts created in [p_from, p_to): orders, revenue and average order per currency (paid and in-mediation orders; refunded and charged back ones are not revenue), checkouts, and conversion (paid / checkouts no longer active).';
grant execute on function admin.period_figures(timestamptz, timestamptz) to service_role;

create function admin.dashboard(
  p_claims jsonb,
  p_from date,
  p_to date,
  p_tz text default 'America/Argentina/Buenos_Aires'
)
returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
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
$$;
comment on function admin.dashboard(jsonb, date, date, text) is
  'Service role only, staff claims required. Today''s and a date range''s figures (orders, revenue, average order, checkouts, conversion), orders and revenue per day, order sessions created in the range by outcome, and live counts; days in time zone p_tz. At most 366 days.';
grant execute on function admin.dashboard(jsonb, date, date, text) to service_role;

create function admin.order_summary(o public.orders)
returns jsonb
language sql stable security definer set search_path = ''
as $$
  select jsonb_build_object(
    'id', o.id, 'order_number', o.order_number, 'status', o.status, 'total', o.total, 'currency', o.currency,
    'payment_id', o.payment_id::text, 'email', o.payer ->> 'email',
    'name', btrim(coalesce(o.payer ->> 'name', '') || ' ' || coalesce(o.payer ->> 'surname', '')),
    'paid_late', o.paid_late, 'do_not_ship', o.do_not_ship, 'created_at', o.created_at,
    'items', (select coalesce(sum(l.quantity), 0) from public.order_lines l where l.order_id = o.id))
$$;
comment on function admin.order_summary(public.orders) is 'Service role only. One row of the dashboard''s order list.';
grant execute on function admin.order_summary(public.orders) to service_role;

create function admin.orders(
  p_claims jsonb,
  p_search text default null,
  p_before_created_at timestamptz default null,
  p_before_id uuid default null,
  p_limit integer default 50
)
returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
declare
  q text := nullif(btrim(coalesce(p_search, '')), '');
  digits text;
  v_filter text;
  v_result jsonb;
begin
  perform admin.require_staff(p_claims);
  perform admin.check_input(p_limit between 1 and 200, 'limit', 'limit must be between 1 and 200');
  perform admin.check_input((p_before_created_at is null) = (p_before_id is null), 'cursor', 'the cursor is incomplete');
  perform admin.check_input(q is null or length(q) <= 254, 'q', 'the search is too long');
  digits := substring(q from '^(?:ORD-?)?0*(\d{1,18})$');
  -- One index per kind of search; EXECUTE plans each call with its values,
  -- so the email prefix uses its index (a generic plan could not).
  v_filter := case
    when q is null then 'true'
    when digits is not null then '(o.order_number = ''ORD-'' || lpad($2, 6, ''0'') or o.id = (select p.order_id from checkout.order_payments p where p.payment_id = $2::bigint))'
    else '(lower(o.payer ->> ''email'') ~>=~ lower($1) and lower(o.payer ->> ''email'') ~<~ (lower($1) || chr(1114111)))'
  end;
  execute format($q$
    with page as (
      select x.o, row_number() over (order by (x.o).created_at desc, (x.o).id desc) as rn
        from (select o from public.orders o
               where %s and ($3::timestamptz is null or (o.created_at, o.id) < ($3, $4))
               order by o.created_at desc, o.id desc
               limit $5 + 1) x
    )
    select jsonb_build_object(
      'orders', coalesce(jsonb_agg(admin.order_summary(p.o) order by p.rn) filter (where p.rn <= $5), '[]'::jsonb),
      'next', case when count(*) > $5
                   then (array_agg(jsonb_build_object('created_at', (p.o).created_at, 'id', (p.o).id)) filter (where p.rn = $5))[1] end)
      from page p
  $q$, v_filter)
  into v_result
  using q, digits, p_before_created_at, p_before_id, p_limit;
  return v_result;
end
$$;
comment on function admin.orders(jsonb, text, timestamptz, uuid, integer) is
  'Service role only, staff claims required. A page of orders, newest first, after the keyset cursor (created_at, id) of the previous page''s last row; optionally searched by order number (ORD-001234 or 1234), MercadoPago payment id (digits: any of the order''s payments, two with two cards) or payer email (case-insensitive prefix). Returns {orders, next} where next is the cursor of the following page or null.';
grant execute on function admin.orders(jsonb, text, timestamptz, uuid, integer) to service_role;

create function admin.order_detail(p_claims jsonb, p_order text)
returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
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
    -- May the payer's address get cart reminders (11_email_outbox.sql)?
    'marketing_consent', email.marketing_consent(o.session_id, o.payer ->> 'email'),
    'payments', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'payment_id', pe.payment_id::text, 'status', pe.status, 'status_detail', pe.status_detail,
        'amount', pe.transaction_amount, 'currency', pe.currency, 'payment_type', pe.payment_type,
        'payment_method', pe.payment_method, 'received_at', pe.received_at) order by pe.received_at, pe.id), '[]'::jsonb)
        from checkout.payment_events pe
       where pe.order_session_id = o.order_session_id or pe.payment_id = o.payment_id
    ),
    -- What the store keeps: the price, less MercadoPago's fees. The buyer's
    -- financing cost (installments with interest) is MercadoPago's, not income.
    'money', (
      select jsonb_build_object(
        'total', o.total, 'currency', o.currency, 'financing_cost', o.financing_cost,
        'fees', coalesce(sum(p.fees), 0), 'net', o.total - coalesce(sum(p.fees), 0),
        'parts', coalesce(jsonb_agg(jsonb_build_object(
          'payment_id', p.payment_id::text, 'amount', p.amount, 'installments', p.installments,
          'financing_cost', p.financing_cost, 'fees', p.fees) order by p.approved_at, p.payment_id)
          filter (where p.payment_id is not null), '[]'::jsonb))
        from checkout.order_payments p where p.order_id = o.id
    ),
    -- The store's own refunds of this order (partial or whole), per payment.
    'order_refunds', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'id', r.id, 'payment_id', r.payment_id::text, 'amount', r.amount, 'currency', r.currency, 'status', r.status,
        'mp_refund_id', r.mp_refund_id, 'last_error', r.last_error, 'created_at', r.created_at, 'refunded_at', r.refunded_at)
        order by r.created_at, r.payment_id), '[]'::jsonb)
        from checkout.order_refunds r where r.order_id = o.id
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
$$;
comment on function admin.order_detail(jsonb, text) is
  'Service role only, staff claims required. One order by id or order number: its lines, payer, shipping address, MercadoPago payment id, the payment statuses seen (status history), money (total, the buyer''s financing cost, MercadoPago''s fees, net = total - fees, and each payment counted toward the order with its installments), order_refunds (the store''s partial or whole refunds, per payment), refunds, the order session''s event log, and whether the payer''s address may get cart reminders (marketing_consent, email.marketing_consent). CKI01 for a malformed reference, CKO01 for an unknown one.';
grant execute on function admin.order_detail(jsonb, text) to service_role;

create function admin.attention(p_claims jsonb)
returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
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
$$;
comment on function admin.attention(jsonb) is
  'Service role only, staff claims required. Money that needs the owner: refunds owed (with the reconcile function''s attempts and last error), late payments (orders created after expiry, payments that found no stock), amount or currency mismatches, approved payments matching no checkout.';
grant execute on function admin.attention(jsonb) to service_role;

create function admin.refund_to_retry(p_claims jsonb, p_payment_id text)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
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
$$;
comment on function admin.refund_to_retry(jsonb, text) is
  'Service role only, staff claims required. The owed refund of a payment the dashboard asks to retry, its attempt counted (the function then refunds through MercadoPago with the same idempotency key as every attempt, and calls checkout.record_refund or checkout.note_refund_failure). CKI01 malformed id, CKO01 nothing owed, CKO02 already refunded.';
grant execute on function admin.refund_to_retry(jsonb, text) to service_role;

-- A refund of part or all of an order from the dashboard, by amount or by
-- line ({"amount": 1500} or {"lines": [{"line_no": 1, "quantity": 1}]}; a
-- line's share of a discount is taken off). Spread over the order's payments,
-- the one with the most left to refund first, never more than a payment
-- brought in; the Edge Function makes each part at MercadoPago and records it
-- (checkout.record_order_refund).
create function admin.refund_order(p_claims jsonb, p_order text, p_request jsonb)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  ref text := btrim(coalesce(p_order, ''));
  o public.orders;
  wanted numeric;
  left_total numeric;
  take numeric;
  part record;
  rf checkout.order_refunds;
  made jsonb := '[]'::jsonb;
begin
  perform admin.require_staff(p_claims);
  perform admin.check_input(
    ref ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' or ref ~ '^ORD-\d{1,19}$',
    'order', 'the order must be an order id (uuid) or an order number (ORD-001234)');
  perform admin.check_input(jsonb_typeof(p_request) = 'object' and ((p_request ? 'amount') <> (p_request ? 'lines')),
    'request', 'give either amount or lines');
  -- The session first, then the order: the payment routine's order of locks
  -- (a notification for one of the order's payments may be applied at the
  -- same time; the other order deadlocks, log_event's key-share lock on the
  -- session included).
  perform 1 from public.order_sessions s
   where s.id = (select x.order_session_id from public.orders x
                  where (ref ~ '^ORD-' and x.order_number = ref) or (ref !~ '^ORD-' and x.id::text = lower(ref)))
     for update;
  select * into o from public.orders x
   where (ref ~ '^ORD-' and x.order_number = ref) or (ref !~ '^ORD-' and x.id::text = lower(ref))
     for update;
  if not found then
    raise exception 'no such order' using errcode = 'CKO01', detail = jsonb_build_object('order', ref)::text;
  end if;
  if p_request ? 'amount' then
    perform admin.check_input(jsonb_typeof(p_request -> 'amount') = 'number' and (p_request ->> 'amount')::numeric > 0
      and (p_request ->> 'amount')::numeric = round((p_request ->> 'amount')::numeric, 2), 'amount', 'amount must be a positive number of cents at most');
    wanted := (p_request ->> 'amount')::numeric;
  else
    perform admin.check_input(jsonb_typeof(p_request -> 'lines') = 'array' and jsonb_array_length(p_request -> 'lines') between 1 and 100
      and not exists (select 1 from jsonb_array_elements(p_request -> 'lines') l
                       where jsonb_typeof(l -> 'line_no') is distinct from 'number' or jsonb_typeof(l -> 'quantity') is distinct from 'number'
                          or (l ->> 'quantity')::numeric <> trunc((l ->> 'quantity')::numeric) or (l ->> 'quantity')::numeric < 1
                          or not exists (select 1 from public.order_lines ol where ol.order_id = o.id
                                          and ol.line_no::numeric = (l ->> 'line_no')::numeric and ol.quantity >= (l ->> 'quantity')::numeric)),
      'lines', 'each line must be {line_no, quantity} of this order, at most its quantity');
    select round(sum(ol.unit_price * (l ->> 'quantity')::numeric) * o.total / nullif(o.subtotal, 0), 2) into wanted
      from jsonb_array_elements(p_request -> 'lines') l
      join public.order_lines ol on ol.order_id = o.id and ol.line_no::numeric = (l ->> 'line_no')::numeric;
    wanted := coalesce(wanted, 0);
  end if;
  if o.currency in ('CLP', 'COP') and wanted <> trunc(wanted) then
    raise exception '% amounts are whole units', o.currency using errcode = 'CKM02', detail = jsonb_build_object('amount', wanted)::text;
  end if;
  select coalesce(sum(p.amount), 0) - coalesce((select sum(r.amount) from checkout.order_refunds r where r.order_id = o.id), 0)
    into left_total from checkout.order_payments p where p.order_id = o.id;
  if o.status in ('refunded', 'charged_back') or wanted > left_total then
    raise exception 'more than is left to refund' using errcode = 'CKO02',
      detail = jsonb_build_object('order', o.order_number, 'status', o.status, 'refundable', case when o.status in ('refunded', 'charged_back') then 0 else left_total end)::text;
  end if;
  for part in
    select p.payment_id, p.amount - coalesce((select sum(r.amount) from checkout.order_refunds r where r.payment_id = p.payment_id), 0) as remaining
      from checkout.order_payments p where p.order_id = o.id
     order by 2 desc, p.payment_id
  loop
    exit when wanted <= 0;
    take := least(wanted, part.remaining);
    continue when take <= 0;
    insert into checkout.order_refunds (order_id, payment_id, amount, currency, requested_by)
    values (o.id, part.payment_id, take, o.currency, nullif(p_claims ->> 'sub', '')::uuid)
    returning * into rf;
    made := made || jsonb_build_array(jsonb_build_object('id', rf.id, 'payment_id', rf.payment_id::text, 'amount', rf.amount, 'currency', rf.currency));
    wanted := wanted - take;
  end loop;
  perform private.log_event(o.order_session_id, 'refund_owed', jsonb_build_object('order_id', o.id, 'refunds', made, 'by', p_claims ->> 'sub'));
  return jsonb_build_object('order_number', o.order_number, 'refunds', made);
end
$$;
comment on function admin.refund_order(jsonb, text, jsonb) is
  'Service role only, staff claims required. Owes back part or all of an order: p_request {"amount": n} or {"lines": [{"line_no", "quantity"}]} (a line''s share of the discount taken off), spread over the order''s payments (the most left to refund first; never more than a payment brought in). Returns {order_number, refunds: [{id, payment_id, amount, currency}]}; the admin function makes each at MercadoPago and calls checkout.record_order_refund. CKI01 malformed, CKO01 unknown order, CKO02 more than is left to refund (detail refundable), CKM02 cents in CLP or COP.';
grant execute on function admin.refund_order(jsonb, text, jsonb) to service_role;

create function admin.audit(p_claims jsonb)
returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
begin
  perform admin.require_staff(p_claims);
  return checkout.audit();
end
$$;
comment on function admin.audit(jsonb) is
  'Service role only, staff claims required. checkout.audit(): every broken invariant as [{invariant, subject, detail}], empty when all hold. Reads every row: run on demand, not polled.';
grant execute on function admin.audit(jsonb) to service_role;

create function admin.stock(p_claims jsonb)
returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
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
$$;
comment on function admin.stock(jsonb) is
  'Service role only, staff claims required. Every variant with stock on hand, units reserved by unexpired reservations and by how many checkouts, and available (on hand minus reserved); and the last 20 stock adjustments.';
grant execute on function admin.stock(jsonb) to service_role;

create function admin.adjust_stock(p_claims jsonb, p_variant_id text, p_delta integer, p_reason text)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  v public.variants;
  live_reserved integer;
  live_sessions integer;
  a admin.stock_adjustments;
  max_on_hand constant bigint := 2147483647;
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
  -- Checked in bigint before any integer sum below can overflow.
  if v.stock_on_hand::bigint + p_delta > max_on_hand then
    raise exception 'stock on hand cannot go above % (it is %)', max_on_hand, v.stock_on_hand
      using errcode = 'CKI01',
            detail = jsonb_build_object('field', 'delta', 'on_hand', v.stock_on_hand, 'maximum_delta', max_on_hand - v.stock_on_hand)::text;
  end if;
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
$$;
comment on function admin.adjust_stock(jsonb, text, integer, text) is
  'Service role only, staff claims required. Changes a variant''s stock on hand by p_delta units with a reason, recorded in admin.stock_adjustments. Refuses (writing nothing) a result below zero or above integer''s range (CKI01, field delta, with minimum_delta or maximum_delta) or below the units reserved by unexpired checkouts (CKS02), so a lowered stock never breaks a payment in flight.';
grant execute on function admin.adjust_stock(jsonb, text, integer, text) to service_role;

create function admin.housekeeping(p_claims jsonb)
returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
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
$$;
comment on function admin.housekeeping(jsonb) is
  'Service role only, staff claims required. The pg_cron jobs with their last run (from cron.job_run_details) and failures in the last 24 hours, and how much expiry work is due.';
grant execute on function admin.housekeeping(jsonb) to service_role;

create function admin.run_cleanup(p_claims jsonb)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
begin
  perform admin.require_staff(p_claims);
  return checkout.cleanup();
end
$$;
comment on function admin.run_cleanup(jsonb) is
  'Service role only, staff claims required. Runs checkout.cleanup() now (expire due sessions, purge idle carts, trim old sessions) and returns its counts.';
grant execute on function admin.run_cleanup(jsonb) to service_role;
