-- Emails: an outbox the send-emails Edge Function drains through the email
-- provider (Resend). Two kinds:
--   cart_reminder       a cart abandoned by a shopper whose email is known,
--                       written by pg_cron (email.detect_abandoned_carts),
--                       exactly once per cart and idle period, at most
--                       settings.reminder_max_per_cart per cart;
--   order_confirmation  one per order, written by a trigger in the
--                       transaction that creates the order.
-- Shoppers opt out of reminders through a signed one-click link
-- (email.unsubscribes). Service role only.
--
-- Consent before marketing, so that nobody can make the store mail a
-- stranger by typing their address at checkout. A reminder goes only to an
-- address its owner confirmed:
--   * the account's email, once Supabase Auth has confirmed it
--     (auth.users.email_confirmed_at), or
--   * an address whose owner ticked the marketing box at checkout AND clicked
--     the link of the confirmation email it was sent (double opt-in),
-- and never to one that unsubscribed since (the RFC 8058 one-click link). The
-- order confirmation is transactional and still goes to the payer. Modelled
-- on Shopify's email_marketing_consent (state, opt_in_level,
-- consent_updated_at): email.marketing_consents holds each address's state,
-- email.consent_events every step, and email.marketing_consent() answers in
-- Shopify's terms for the dashboard. One confirmation email per address per
-- day at most, whoever asks: the box cannot be used to mail a stranger over
-- and over.

-- ---------------------------------------------------------------------------
-- Tables

create table email.outbox (
  id bigint generated always as identity primary key,
  kind text not null check (kind in ('cart_reminder', 'order_confirmation', 'marketing_opt_in', 'fraud_alert', 'payment_instructions')),
  session_id uuid not null,
  recipient text not null check (recipient ~ '^[^@\s]+@[^@\s]+$' and length(recipient) <= 254),
  cart_created_at timestamptz,
  idle_since timestamptz,
  order_id uuid references public.orders (id) on delete cascade,
  status text not null default 'pending' check (status in ('pending', 'sending', 'sent', 'failed', 'skipped')),
  attempts integer not null default 0 check (attempts >= 0),
  next_attempt_at timestamptz not null default now(),
  claimed_until timestamptz,
  provider_id text,
  last_error jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  sent_at timestamptz,
  payment_id bigint,
  constraint outbox_reminder_names_its_cart check (kind <> 'cart_reminder' or (cart_created_at is not null and idle_since is not null)),
  constraint outbox_confirmation_names_its_order check (kind not in ('order_confirmation', 'fraud_alert') or order_id is not null),
  constraint outbox_instructions_name_their_payment check (kind <> 'payment_instructions' or payment_id is not null)
);
comment on table email.outbox is
  'Emails to send. A reminder names its cart (session_id, cart_created_at) and the idle period (idle_since = the cart''s last activity); a confirmation names its order, and so does a fraud_alert (to each member of staff, 14_disputes.sql); a marketing_opt_in asks its recipient to confirm the box ticked at checkout. status: pending -> sending (claimed, leased until claimed_until) -> sent | pending again (retryable failure, after next_attempt_at) | failed (permanent) | skipped (no longer applies: bought, emptied, opted out, no consent). The row id is the provider''s idempotency key. Service role only.';

create unique index outbox_one_reminder_per_idle_period on email.outbox (session_id, cart_created_at, idle_since) where kind = 'cart_reminder';
create unique index outbox_one_confirmation_per_order on email.outbox (order_id) where kind = 'order_confirmation';
create unique index outbox_one_instructions_per_payment on email.outbox (payment_id) where kind = 'payment_instructions';
comment on column email.outbox.payment_id is
  'A payment_instructions email''s offline payment (a cash ticket, Pix...): exactly one per payment (12_offline_payments.sql enqueues it when the payment starts holding the stock).';
create index outbox_due_idx on email.outbox (next_attempt_at) where status in ('pending', 'sending');
create index outbox_session_idx on email.outbox (session_id, created_at);
create index outbox_opt_in_idx on email.outbox (recipient, created_at) where kind = 'marketing_opt_in';

-- No policies: only the service role (which bypasses RLS) and the definer
-- routines below touch the outbox and the opt-outs.
alter table email.outbox enable row level security;
grant select, insert, update, delete on email.outbox to service_role;

create table email.unsubscribes (
  email text primary key check (email = lower(email)),
  created_at timestamptz not null default now()
);
comment on table email.unsubscribes is
  'Addresses (lower case) that opted out of recovery emails through the one-click link. Order confirmations are still sent. Service role only.';

alter table email.unsubscribes enable row level security;
grant select, insert, update, delete on email.unsubscribes to service_role;

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

-- ---------------------------------------------------------------------------
-- Triggers

create function email.enqueue_confirmation(o public.orders)
returns void
language plpgsql set search_path = ''
as $$
begin
  if coalesce(o.payer ->> 'email', '') ~ '^[^@\s]+@[^@\s]+$' then
    insert into email.outbox (kind, session_id, recipient, order_id)
    values ('order_confirmation', o.session_id, lower(o.payer ->> 'email'), o.id)
    on conflict (order_id) where kind = 'order_confirmation' do nothing;
  end if;
end
$$;
comment on function email.enqueue_confirmation(public.orders) is
  'Puts a new order''s confirmation email in the outbox, in the same transaction (exactly one per order). Called by private.record_order and by the trigger orders_enqueue_confirmation.';
grant execute on function email.enqueue_confirmation(public.orders) to service_role;

create function email.enqueue_order_confirmation()
returns trigger
language plpgsql security definer set search_path = ''
as $$
begin
  perform email.enqueue_confirmation(new);
  return null;
end
$$;
comment on function email.enqueue_order_confirmation() is
  'Trigger: a new order puts its confirmation email in the outbox (email.enqueue_confirmation). private.record_order enqueues it itself and names its session in checkout.recording_order, which the trigger skips.';
create trigger orders_enqueue_confirmation
  after insert on public.orders
  for each row
  when (current_setting('checkout.recording_order', true) is distinct from new.order_session_id::text)
  execute function email.enqueue_order_confirmation();

-- ---------------------------------------------------------------------------
-- Routines

create function email.shopper_email(p_session_id uuid)
returns text
language sql stable security definer set search_path = ''
as $$
  -- The account's email once the shopper signed up; else the payer email of
  -- their latest checkout.
  select lower(coalesce(
    (select u.email from auth.users u where u.id = p_session_id and not u.is_anonymous and u.email is not null and u.email <> ''),
    (select s.payer ->> 'email' from public.order_sessions s where s.session_id = p_session_id order by s.created_at desc limit 1)
  ))
$$;
comment on function email.shopper_email(uuid) is
  'Service role only. The email a shopper can be reached at: the account email after sign-up, else the payer email of their latest order session; null when unknown.';
grant execute on function email.shopper_email(uuid) to service_role;

create function email.is_unsubscribed(p_email text)
returns boolean
language sql stable security definer set search_path = ''
as $$
  select exists (select 1 from email.unsubscribes u where u.email = lower(p_email))
$$;
comment on function email.is_unsubscribed(text) is
  'Service role only. Whether an address opted out of recovery emails.';
grant execute on function email.is_unsubscribed(text) to service_role;

create function email.is_cart_abandoned(p_session_id uuid, p_cart_updated_at timestamptz)
returns boolean
language sql stable security definer set search_path = ''
as $$
  -- Has items, no checkout in progress, and not bought since its last
  -- activity (a purchase removes the bought lines in the order's transaction).
  select exists (select 1 from public.cart_items ci where ci.session_id = p_session_id)
     and not exists (select 1 from public.order_sessions s
                      where s.session_id = p_session_id and s.status = 'active' and s.expires_at > now())
     and not exists (select 1 from public.orders o
                      where o.session_id = p_session_id and o.created_at >= p_cart_updated_at)
$$;
comment on function email.is_cart_abandoned(uuid, timestamptz) is
  'Service role only. A cart still counts as abandoned: it has lines, no checkout in progress, and no order since its last activity.';
grant execute on function email.is_cart_abandoned(uuid, timestamptz) to service_role;

-- Consent (see the header): who may get a reminder, and the double opt-in.
create function email.has_marketing_consent(p_session_id uuid, p_email text)
returns boolean
language sql stable security definer set search_path = ''
as $$
  select not email.is_unsubscribed(p_email) and (
    exists (select 1 from auth.users u
             where u.id = p_session_id and not coalesce(u.is_anonymous, false)
               and lower(u.email) = lower(p_email) and u.email_confirmed_at is not null)
    or exists (select 1 from email.marketing_consents c where c.email = lower(p_email) and c.state = 'subscribed'))
$$;
comment on function email.has_marketing_consent(uuid, text) is
  'Service role only. Whether cart reminders may go to p_email for shopper p_session_id: it is the shopper''s account email and Auth confirmed it, or its owner confirmed the checkout opt-in; and it has not unsubscribed since.';
grant execute on function email.has_marketing_consent(uuid, text) to service_role;

create function email.marketing_consent(p_session_id uuid, p_email text)
returns jsonb
language sql stable security definer set search_path = ''
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
comment on function email.marketing_consent(uuid, text) is
  'Service role only. The marketing consent of p_email for shopper p_session_id, in Shopify''s terms: {email, state: subscribed | pending | unsubscribed | not_subscribed, opt_in_level: confirmed_opt_in | null, source: account | checkout | unsubscribe_link | null, consent_updated_at}. What the dashboard shows.';
grant execute on function email.marketing_consent(uuid, text) to service_role;

create function email.request_marketing_opt_in(
  p_email text,
  p_session_id uuid,
  p_order_session_id uuid
)
returns text
language plpgsql security definer set search_path = ''
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
comment on function email.request_marketing_opt_in(text, uuid, uuid) is
  'Service role only (checkout.begin_client_checkout, when the shopper ticks the box). Records the request (email.consent_events), makes the address pending unless it already has consent, and queues the confirmation email (at most one a day per address). Returns the address''s state: pending or subscribed. CKI01 without a valid email or a shopper.';
grant execute on function email.request_marketing_opt_in(text, uuid, uuid) to service_role;

create function email.confirm_marketing_opt_in(p_email text)
returns jsonb
language plpgsql security definer set search_path = ''
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
comment on function email.confirm_marketing_opt_in(text) is
  'Service role only (the signed link of the confirmation email, after its signature and expiry are checked). The address is subscribed (a confirmed opt-in), an earlier unsubscribe is lifted, and the step recorded. Idempotent. CKI01 without a valid email.';
grant execute on function email.confirm_marketing_opt_in(text) to service_role;

create function email.detect_abandoned_carts(p_limit integer default 1000)
returns integer
language plpgsql security definer set search_path = ''
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
grant execute on function email.detect_abandoned_carts(integer) to service_role;

-- PL/pgSQL so that it may read checkout.offline_holds, declared after this
-- file (12_offline_payments.sql).
create function email.payment_instructions_data(p_payment_id bigint)
returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
begin
  return (
    select jsonb_build_object(
      'payment', private.offline_hold_json(h),
      'total', s.total, 'currency', s.currency, 'payer', s.payer,
      'time_zone', (private.current_settings()).analytics_time_zone,
      'lines', coalesce((select jsonb_agg(jsonb_build_object(
                 'sku', l ->> 'sku', 'title', l ->> 'title', 'image_url', p.image_url, 'quantity', (l ->> 'quantity')::integer,
                 'unit_price', (l ->> 'unit_price')::numeric, 'line_total', (l ->> 'line_total')::numeric, 'currency', s.currency) order by ord)
                 from jsonb_array_elements(s.lines) with ordinality as t(l, ord)
                 left join public.variants v on v.id = (l ->> 'variant_id')::uuid
                 left join public.products p on p.id = v.product_id), '[]'::jsonb))
      from checkout.offline_holds h
      join public.order_sessions s on s.id = h.order_session_id
     where h.payment_id = p_payment_id
  );
end
$$;
comment on function email.payment_instructions_data(bigint) is
  'Service role only. What the payment-instructions email shows: the offline payment (method, deadline, ticket link, barcode, Pix QR), the lines and the total.';
grant execute on function email.payment_instructions_data(bigint) to service_role;

create function email.message_data(o email.outbox)
returns jsonb
language sql stable security definer set search_path = ''
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
    when 'payment_instructions' then email.payment_instructions_data(o.payment_id)
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
comment on function email.message_data(email.outbox) is
  'Service role only. What an email shows: a reminder''s cart lines at today''s prices with images and total; a confirmation''s order number, lines, total and shipping address; a marketing opt-in''s address; payment instructions'' offline payment, lines and total.';
grant execute on function email.message_data(email.outbox) to service_role;

create function email.reminder_obsolete(o email.outbox)
returns text
language sql stable security definer set search_path = ''
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
grant execute on function email.reminder_obsolete(email.outbox) to service_role;

create function email.claim(
  p_limit integer default 20,
  p_lease interval default interval '2 minutes'
)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  claimed jsonb;
  skipped integer;
begin
  if p_limit is null or p_limit < 1 or p_limit > 500 or p_lease is null or p_lease < interval '5 seconds' then
    raise exception 'limit must be 1..500 and the lease at least 5 seconds' using errcode = 'CKI01',
      detail = jsonb_build_object('limit', p_limit, 'lease', p_lease)::text;
  end if;
  -- Reminders that no longer apply are skipped, not sent.
  with due as (
    select o.id from email.outbox o
     where o.status in ('pending', 'sending') and o.next_attempt_at <= now()
       and (o.status = 'pending' or o.claimed_until < now())
     order by o.next_attempt_at, o.id
     limit p_limit
       for update skip locked
  ), stale as (
    update email.outbox o
       set status = 'skipped', updated_at = now(), claimed_until = null,
           last_error = jsonb_build_object('reason', email.reminder_obsolete(o))
      from due
     where o.id = due.id and o.kind = 'cart_reminder' and email.reminder_obsolete(o) is not null
    returning o.id
  ), taken as (
    update email.outbox o
       set status = 'sending', attempts = o.attempts + 1, claimed_until = now() + p_lease, updated_at = now()
      from due
     where o.id = due.id and o.id not in (select id from stale)
    returning o.*
  )
  select coalesce(jsonb_agg(jsonb_build_object(
           'id', t.id, 'kind', t.kind, 'recipient', t.recipient, 'session_id', t.session_id,
           'cart_created_at', t.cart_created_at, 'created_at', t.created_at, 'attempts', t.attempts,
           'idempotency_key', 'outbox-' || t.id,
           'data', email.message_data(t)) order by t.id), '[]'::jsonb)
    into claimed
    from taken t;
  return claimed;
end
$$;
comment on function email.claim(integer, interval) is
  'Service role only. Claims up to p_limit due outbox rows (FOR UPDATE SKIP LOCKED: parallel senders never take the same row), leasing each for p_lease (a sender that dies leaves it due again), and returns them with their idempotency key and what to render. Reminders that no longer apply (opted out, bought, emptied, in checkout) become skipped instead. CKI01 for a bad limit or lease.';
grant execute on function email.claim(integer, interval) to service_role;

create function email.mark_sent(p_id bigint, p_provider_id text)
returns void
language plpgsql security definer set search_path = ''
as $$
declare
  o email.outbox;
begin
  update email.outbox set status = 'sent', provider_id = p_provider_id, sent_at = now(), claimed_until = null,
         last_error = null, updated_at = now()
   where id = p_id and status in ('sending', 'pending')
  returning * into o;
  if o.kind = 'cart_reminder' then
    update analytics.cart_facts set reminded_at = now()
     where session_id = o.session_id and created_at = o.cart_created_at;
  end if;
end
$$;
comment on function email.mark_sent(bigint, text) is
  'Service role only. The provider accepted the email: the row is sent (a sent row never goes back), and a reminded cart''s analytics fact records it.';
grant execute on function email.mark_sent(bigint, text) to service_role;

create function email.mark_failed(p_id bigint, p_error jsonb, p_retry boolean)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  o email.outbox;
begin
  -- Retryable (429, 5xx, network): back off 1, 2, 4 ... minutes, at most
  -- an hour, up to 10 attempts; permanent (other 4xx): failed for good.
  update email.outbox
     set status = case when p_retry and attempts < 10 then 'pending' else 'failed' end,
         next_attempt_at = case when p_retry then now() + least(interval '1 minute' * power(2, greatest(attempts - 1, 0)), interval '1 hour')
                                else next_attempt_at end,
         claimed_until = null, last_error = coalesce(p_error, '{}'::jsonb), updated_at = now()
   where id = p_id and status = 'sending'
  returning * into o;
  return jsonb_build_object('id', p_id, 'status', o.status, 'next_attempt_at', o.next_attempt_at, 'attempts', o.attempts);
end
$$;
comment on function email.mark_failed(bigint, jsonb, boolean) is
  'Service role only. The provider refused or could not be reached: retryable failures go back to pending after a backoff (at most 10 attempts), permanent ones are failed and recorded. Returns the new status.';
grant execute on function email.mark_failed(bigint, jsonb, boolean) to service_role;

create function email.unsubscribe(p_email text)
returns void
language sql security definer set search_path = ''
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
grant execute on function email.unsubscribe(text) to service_role;

create function email.restore_cart(
  p_from_session uuid,
  p_from_cart_created_at timestamptz,
  p_to_session uuid
)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  c public.carts;
  added integer := 0;
  skipped jsonb := '[]'::jsonb;
  l record;
  qty integer;
begin
  select * into c from public.carts where session_id = p_from_session;
  if not found or c.created_at <> p_from_cart_created_at then
    raise exception 'that cart no longer exists' using errcode = 'CKO01',
      detail = jsonb_build_object('reason', 'cart_gone')::text;
  end if;
  if p_to_session = p_from_session then
    update public.carts set updated_at = now() where session_id = p_to_session;
    return jsonb_build_object('restored', 0, 'skipped', '[]'::jsonb, 'same_cart', true);
  end if;
  insert into public.carts (session_id) values (p_to_session)
  on conflict (session_id) do update set updated_at = now();
  -- Each line is copied (the larger quantity wins when both carts hold it),
  -- within what is available; a line that cannot be added is reported.
  for l in select ci.variant_id, ci.quantity, v.sku from public.cart_items ci join public.variants v on v.id = ci.variant_id
            where ci.session_id = p_from_session order by ci.added_at, v.sku loop
    begin
      qty := least(l.quantity, greatest(private.available_stock(l.variant_id), 0));
      if qty < 1 then
        skipped := skipped || jsonb_build_object('sku', l.sku, 'reason', 'out_of_stock');
        continue;
      end if;
      insert into public.cart_items (session_id, variant_id, quantity) values (p_to_session, l.variant_id, qty)
      on conflict (session_id, variant_id) do update set quantity = greatest(public.cart_items.quantity, excluded.quantity);
      added := added + 1;
    exception when sqlstate 'CKV01' or sqlstate 'CKS01' or sqlstate 'CKM01' or sqlstate 'CKQ01' or sqlstate 'CKH01' then
      skipped := skipped || jsonb_build_object('sku', l.sku, 'reason', sqlerrm);
    end;
  end loop;
  return jsonb_build_object('restored', added, 'skipped', skipped, 'same_cart', false);
end
$$;
comment on function email.restore_cart(uuid, timestamptz, uuid) is
  'Service role only (the signed restore link, after its signature and expiry are checked). Copies the lines of the reminded cart (p_from_session, identified with its created_at so a later cart of the same shopper is not taken) into the caller''s cart, within available stock; a line that cannot be added is reported in skipped. CKO01 when that cart is gone.';
grant execute on function email.restore_cart(uuid, timestamptz, uuid) to service_role;

-- ---------------------------------------------------------------------------
-- Schedules. Detection runs inside the database everywhere. Sending calls the
-- send-emails Edge Function: on hosted Supabase through pg_net (created here
-- only when pg_net is installed; it reads the project URL and the service
-- role key from Vault secrets named project_url and service_role_key, as
-- Supabase documents for scheduled functions); the local stack calls the same
-- function on the same schedule itself.

select cron.schedule('email-detect-abandoned-carts', '*/5 * * * *', 'select email.detect_abandoned_carts(1000)');

do $do$
begin
  if exists (select 1 from pg_extension where extname = 'pg_net') then
    perform cron.schedule('email-send', '* * * * *', $job$
      select net.http_post(
        url := (select decrypted_secret from vault.decrypted_secrets where name = 'project_url') || '/functions/v1/send-emails',
        headers := jsonb_build_object('Content-Type', 'application/json',
                                      'Authorization', 'Bearer ' || (select decrypted_secret from vault.decrypted_secrets where name = 'service_role_key')),
        body := '{}'::jsonb,
        timeout_milliseconds := 25000)
    $job$);
  end if;
end
$do$;
