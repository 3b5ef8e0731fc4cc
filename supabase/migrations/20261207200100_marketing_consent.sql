-- Consent before marketing. Cart reminders went to whatever payer email was
-- typed at checkout, so anyone could make the store mail a stranger. A
-- reminder now goes only to an address its owner confirmed:
--   * the account's email, once Supabase Auth has confirmed it
--     (auth.users.email_confirmed_at; with email confirmations on, the
--     address was proven by a link; see README, "Abuse protection"), or
--   * an address whose owner ticked the marketing box at checkout AND clicked
--     the link of the confirmation email it was sent (double opt-in).
-- and never to one that unsubscribed since (the RFC 8058 one-click link). The
-- order confirmation is transactional and still goes to the payer.
--
-- Modelled on Shopify's email_marketing_consent (state, opt_in_level,
-- consent_updated_at): email.marketing_consents holds each address's state
-- with when and where each step came from, email.consent_events every step,
-- and email.marketing_consent() answers in Shopify's terms for the dashboard.
--
-- One confirmation email per address per day at most, whoever asks: the box
-- cannot be used to mail a stranger over and over.

-- ---------------------------------------------------------------------------
-- Tables

create table email.marketing_consents (
  email text primary key check (email = lower(email) and email ~ '^[^@\s]+@[^@\s]+$' and length(email) <= 254),
  state text not null check (state in ('pending', 'subscribed', 'unsubscribed')),
  source text not null check (source in ('checkout', 'confirmation_link', 'unsubscribe_link')),
  session_id uuid,
  order_session_id uuid,
  requested_at timestamptz,
  confirmed_at timestamptz,
  unsubscribed_at timestamptz,
  consent_updated_at timestamptz not null default now(),
  constraint marketing_consents_subscribed_was_confirmed check (state <> 'subscribed' or confirmed_at is not null)
);
comment on table email.marketing_consents is
  'Marketing consent per address (lower case), as the shopper gave it at checkout: pending (the box was ticked, the confirmation link not yet clicked), subscribed (clicked: a confirmed opt-in), unsubscribed (the one-click link). source says where the last change came from; session_id and order_session_id which shopper and checkout asked. Service role only.';

create table email.consent_events (
  id bigint generated always as identity primary key,
  email text not null,
  event text not null check (event in ('opt_in_requested', 'opt_in_confirmed', 'unsubscribed')),
  session_id uuid,
  order_session_id uuid,
  created_at timestamptz not null default now()
);
comment on table email.consent_events is
  'Every step of an address''s marketing consent, when and for which shopper and checkout: the box ticked at checkout, the confirmation link clicked, the unsubscribe link used. Append-only; service role only.';
create index consent_events_email_idx on email.consent_events (email, id);

grant select, insert, update on email.marketing_consents to service_role;
grant select, insert on email.consent_events to service_role;
alter table email.marketing_consents enable row level security;
alter table email.consent_events enable row level security;
-- No policies: only the service role (which bypasses RLS) and the definer
-- routines below touch them.

alter table email.outbox drop constraint outbox_kind_check;
alter table email.outbox add constraint outbox_kind_check check (kind in ('cart_reminder', 'order_confirmation', 'marketing_opt_in'));
create index outbox_opt_in_idx on email.outbox (recipient, created_at) where kind = 'marketing_opt_in';
comment on table email.outbox is
  'Emails to send. A reminder names its cart (session_id, cart_created_at) and the idle period (idle_since = the cart''s last activity); a confirmation names its order; a marketing_opt_in asks its recipient to confirm the box ticked at checkout. status: pending -> sending (claimed, leased until claimed_until) -> sent | pending again (retryable failure, after next_attempt_at) | failed (permanent) | skipped (no longer applies: bought, emptied, opted out, no consent). The row id is the provider''s idempotency key. Service role only.';

-- ---------------------------------------------------------------------------
-- Consent

create function email.has_marketing_consent(p_session_id uuid, p_email text)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select not email.is_unsubscribed(p_email) and (
    exists (select 1 from auth.users u
             where u.id = p_session_id and not coalesce(u.is_anonymous, false)
               and lower(u.email) = lower(p_email) and u.email_confirmed_at is not null)
    or exists (select 1 from email.marketing_consents c where c.email = lower(p_email) and c.state = 'subscribed'))
$$;
revoke execute on function email.has_marketing_consent(uuid, text) from public, anon, authenticated;
comment on function email.has_marketing_consent(uuid, text) is
  'Service role only. Whether cart reminders may go to p_email for shopper p_session_id: it is the shopper''s account email and Auth confirmed it, or its owner confirmed the checkout opt-in; and it has not unsubscribed since.';
grant execute on function email.has_marketing_consent(uuid, text) to service_role;

create function email.marketing_consent(p_session_id uuid, p_email text)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select case
    when un.email is not null then
      jsonb_build_object('state', 'unsubscribed', 'opt_in_level', null, 'source', 'unsubscribe_link', 'consent_updated_at', un.created_at)
    when c.state = 'subscribed' then
      jsonb_build_object('state', 'subscribed', 'opt_in_level', 'confirmed_opt_in', 'source', 'checkout', 'consent_updated_at', c.confirmed_at)
    when u.email_confirmed_at is not null then
      jsonb_build_object('state', 'subscribed', 'opt_in_level', 'confirmed_opt_in', 'source', 'account', 'consent_updated_at', u.email_confirmed_at)
    when c.state = 'pending' then
      jsonb_build_object('state', 'pending', 'opt_in_level', null, 'source', 'checkout', 'consent_updated_at', c.requested_at)
    else jsonb_build_object('state', 'not_subscribed', 'opt_in_level', null, 'source', null, 'consent_updated_at', null)
  end || jsonb_build_object('email', lower(p_email))
    from (select 1) one
    left join email.unsubscribes un on un.email = lower(p_email)
    left join email.marketing_consents c on c.email = lower(p_email)
    left join auth.users u on u.id = p_session_id and not coalesce(u.is_anonymous, false) and lower(u.email) = lower(p_email)
$$;
revoke execute on function email.marketing_consent(uuid, text) from public, anon, authenticated;
comment on function email.marketing_consent(uuid, text) is
  'Service role only. The marketing consent of p_email for shopper p_session_id, in Shopify''s terms: {email, state: subscribed | pending | unsubscribed | not_subscribed, opt_in_level: confirmed_opt_in | null, source: account | checkout | unsubscribe_link | null, consent_updated_at}. What the dashboard shows.';
grant execute on function email.marketing_consent(uuid, text) to service_role;

create function email.request_marketing_opt_in(p_email text, p_session_id uuid, p_order_session_id uuid)
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  e text := lower(btrim(p_email));
begin
  if e is null or e !~ '^[^@\s]+@[^@\s]+$' or length(e) > 254 or p_session_id is null then
    raise exception 'an email and a shopper are required' using errcode = 'CKI01';
  end if;
  insert into email.consent_events (email, event, session_id, order_session_id) values (e, 'opt_in_requested', p_session_id, p_order_session_id);
  if email.has_marketing_consent(p_session_id, e) then
    return 'subscribed';
  end if;
  -- Not subscribed (or unsubscribed since): pending until the link is clicked.
  insert into email.marketing_consents (email, state, source, session_id, order_session_id, requested_at, consent_updated_at)
  values (e, 'pending', 'checkout', p_session_id, p_order_session_id, now(), now())
  on conflict (email) do update
    set state = 'pending', source = 'checkout', session_id = excluded.session_id, order_session_id = excluded.order_session_id,
        requested_at = now(), consent_updated_at = now();
  -- The confirmation email: at most one a day per address, whoever asks.
  if not exists (select 1 from email.outbox o
                  where o.kind = 'marketing_opt_in' and o.recipient = e and o.created_at > now() - interval '1 day') then
    insert into email.outbox (kind, session_id, recipient) values ('marketing_opt_in', p_session_id, e);
  end if;
  return 'pending';
end
$$;
revoke execute on function email.request_marketing_opt_in(text, uuid, uuid) from public, anon, authenticated;
comment on function email.request_marketing_opt_in(text, uuid, uuid) is
  'Service role only (checkout.begin_client_checkout, when the shopper ticks the box). Records the request (email.consent_events), makes the address pending unless it already has consent, and queues the confirmation email (at most one a day per address). Returns the address''s state: pending or subscribed. CKI01 without a valid email or a shopper.';
grant execute on function email.request_marketing_opt_in(text, uuid, uuid) to service_role;

create function email.confirm_marketing_opt_in(p_email text)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  e text := lower(btrim(p_email));
  c email.marketing_consents;
begin
  if e is null or e !~ '^[^@\s]+@[^@\s]+$' or length(e) > 254 then
    raise exception 'an email is required' using errcode = 'CKI01';
  end if;
  insert into email.marketing_consents as mc (email, state, source, confirmed_at, consent_updated_at)
  values (e, 'subscribed', 'confirmation_link', now(), now())
  on conflict (email) do update
    set state = 'subscribed', source = 'confirmation_link', confirmed_at = now(), consent_updated_at = now()
  returning * into c;
  -- A new, confirmed consent overrides an earlier unsubscribe.
  delete from email.unsubscribes where email = e;
  insert into email.consent_events (email, event, session_id, order_session_id) values (e, 'opt_in_confirmed', c.session_id, c.order_session_id);
  return jsonb_build_object('email', e, 'state', c.state, 'confirmed_at', c.confirmed_at);
end
$$;
revoke execute on function email.confirm_marketing_opt_in(text) from public, anon, authenticated;
comment on function email.confirm_marketing_opt_in(text) is
  'Service role only (the signed link of the confirmation email, after its signature and expiry are checked). The address is subscribed (a confirmed opt-in), an earlier unsubscribe is lifted, and the step recorded. Idempotent. CKI01 without a valid email.';
grant execute on function email.confirm_marketing_opt_in(text) to service_role;

create or replace function email.unsubscribe(p_email text)
returns void
language sql
security definer
set search_path = ''
as $$
  insert into email.unsubscribes (email) values (lower(p_email)) on conflict do nothing;
  insert into email.marketing_consents as c (email, state, source, unsubscribed_at, consent_updated_at)
  values (lower(p_email), 'unsubscribed', 'unsubscribe_link', now(), now())
  on conflict (email) do update set state = 'unsubscribed', source = 'unsubscribe_link', unsubscribed_at = now(), consent_updated_at = now();
  insert into email.consent_events (email, event) values (lower(p_email), 'unsubscribed');
  update email.outbox set status = 'skipped', last_error = '{"reason": "unsubscribed"}'::jsonb, updated_at = now()
   where recipient = lower(p_email) and kind = 'cart_reminder' and status = 'pending';
$$;
comment on function email.unsubscribe(text) is
  'Service role only (the signed one-click link). Withdraws an address''s consent to recovery emails (email.unsubscribes, its consent state, the step recorded) and skips those still pending. Order confirmations still go out.';

-- ---------------------------------------------------------------------------
-- Reminders only with consent

create or replace function email.detect_abandoned_carts(p_limit integer default 1000)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  st private.settings := private.current_settings();
  n integer;
begin
  if st.reminder_max_per_cart = 0 then
    return 0;
  end if;
  -- expires_at is updated_at + cart_ttl (the trigger sets both), so the
  -- carts idle between reminder_idle and reminder_idle + reminder_window are
  -- one range of carts_expires_at_idx.
  -- Every condition is in the scan, before the limit, so carts that cannot
  -- be reminded (no email, no consent, already reminded for this idle period)
  -- never take the places of those that can.
  with candidates as (
    select c.session_id, c.created_at, c.updated_at, e.recipient
      from public.carts c
     cross join lateral (select email.shopper_email(c.session_id) as recipient) e
     where c.expires_at <= now() - st.reminder_idle + st.cart_ttl
       and c.expires_at > now() - st.reminder_idle - st.reminder_window + st.cart_ttl
       and c.updated_at <= now() - st.reminder_idle
       and e.recipient is not null
       and email.has_marketing_consent(c.session_id, e.recipient)
       and not exists (select 1 from email.outbox o
                        where o.kind = 'cart_reminder' and o.session_id = c.session_id
                          and o.cart_created_at = c.created_at and o.idle_since = c.updated_at)
       and (select count(*) from email.outbox o
             where o.kind = 'cart_reminder' and o.session_id = c.session_id and o.cart_created_at = c.created_at) < st.reminder_max_per_cart
       and email.is_cart_abandoned(c.session_id, c.updated_at)
     order by c.expires_at
     limit greatest(p_limit, 1)
  )
  insert into email.outbox (kind, session_id, recipient, cart_created_at, idle_since)
  select 'cart_reminder', c.session_id, c.recipient, c.created_at, c.updated_at
    from candidates c
  on conflict (session_id, cart_created_at, idle_since) where kind = 'cart_reminder' do nothing;
  get diagnostics n = row_count;
  return n;
end
$$;
comment on function email.detect_abandoned_carts(integer) is
  'Service role only (pg_cron). Writes a cart_reminder outbox row for each cart with items idle for reminder_idle (and at most reminder_window more) whose shopper''s email is known and consented to reminders (email.has_marketing_consent: a confirmed account email or a confirmed checkout opt-in, not unsubscribed), not bought or in checkout since, with fewer than reminder_max_per_cart reminders: exactly one per cart and idle period (a unique index makes concurrent runs converge). Returns how many rows it wrote.';

create or replace function email.reminder_obsolete(o email.outbox)
returns text
language sql
stable
security definer
set search_path = ''
as $$
  select case
    when email.is_unsubscribed(o.recipient) then 'unsubscribed'
    when not email.has_marketing_consent(o.session_id, o.recipient) then 'no_consent'
    when c.session_id is null or c.created_at <> o.cart_created_at then 'cart_gone'
    when c.updated_at > o.idle_since then 'cart_active_again'
    when not email.is_cart_abandoned(c.session_id, o.idle_since) then 'bought_emptied_or_in_checkout'
  end
    from (select 1) one
    left join public.carts c on c.session_id = o.session_id
$$;
comment on function email.reminder_obsolete(email.outbox) is
  'Service role only. Why a queued reminder no longer applies (unsubscribed, no_consent, cart_gone, cart_active_again, bought_emptied_or_in_checkout), or null when it still does.';

create or replace function email.message_data(o email.outbox)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select case o.kind
    when 'cart_reminder' then (
      select jsonb_build_object(
        'lines', coalesce(jsonb_agg(jsonb_build_object(
                   'variant_id', v.id, 'sku', v.sku, 'title', p.title, 'variant_title', v.title,
                   'image_url', p.image_url, 'quantity', ci.quantity, 'unit_price', v.price,
                   'line_total', ci.quantity * v.price, 'currency', v.currency) order by ci.added_at, v.sku), '[]'::jsonb),
        'total', coalesce(sum(ci.quantity * v.price), 0),
        'currency', coalesce(min(v.currency), 'ARS'))
        from public.cart_items ci
        join public.variants v on v.id = ci.variant_id
        join public.products p on p.id = v.product_id
       where ci.session_id = o.session_id)
    when 'marketing_opt_in' then jsonb_build_object('email', o.recipient)
    else (
      select jsonb_build_object(
        'order_number', ord.order_number, 'total', ord.total, 'subtotal', ord.subtotal, 'discount', ord.discount,
        'currency', ord.currency, 'shipping_address', ord.shipping_address, 'payer', ord.payer, 'created_at', ord.created_at,
        'lines', coalesce((select jsonb_agg(jsonb_build_object(
                   'sku', l.sku, 'title', l.title, 'image_url', p.image_url, 'quantity', l.quantity,
                   'unit_price', l.unit_price, 'line_total', l.line_total, 'currency', ord.currency) order by l.line_no)
                   from public.order_lines l
                   left join public.variants v on v.id = l.variant_id
                   left join public.products p on p.id = v.product_id
                  where l.order_id = ord.id), '[]'::jsonb))
        from public.orders ord where ord.id = o.order_id)
  end
$$;
comment on function email.message_data(email.outbox) is 'Service role only. What an email shows: a reminder''s cart lines at today''s prices with images and total; a confirmation''s order number, lines, total and shipping address; a marketing opt-in''s address.';

-- ---------------------------------------------------------------------------
-- The dashboard: an order's page shows its payer's marketing consent (the
-- body of 20261202100000_service_tables_to_checkout.sql with that field).

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
    -- May the payer's address get cart reminders (20261207200100_marketing_consent.sql)?
    'marketing_consent', email.marketing_consent(o.session_id, o.payer ->> 'email'),
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
comment on function admin.order_detail(jsonb, text) is
  'Service role only, staff claims required. One order by id or order number: its lines, payer, shipping address, MercadoPago payment id, the payment statuses seen (status history), refunds, the order session''s event log, and whether the payer''s address may get cart reminders (marketing_consent, email.marketing_consent). CKI01 for a malformed reference, CKO01 for an unknown one.';
