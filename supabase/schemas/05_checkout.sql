-- Checkout: from the cart to an order session with its stock reserved, in one
-- transaction. Service role only: the create-preference Edge Function passes
-- the session id taken from a verified JWT, then attaches the MercadoPago
-- preference it created, or releases the session at once if it could not.
--
-- checkout.begin_checkout runs in steps, as apply_payment does, each a
-- private routine with one rule:
--   private.checkout_admission  waits the checkout's turn for its variants;
--   private.checkout_snapshot   the cart's lines at the prices read now, and
--                               "sold out" answered before any variant lock;
--   private.checkout_coupon     the coupon, locked, through the one coupon
--                               rule (private.apply_coupon_rule);
--   private.checkout_reserve    the hot part, last: per variant one
--                               conditional update that locks, checks and
--                               counts, then the reservation rows.
-- begin_checkout itself takes the cart's and the previous session's locks,
-- cancels the session it replaces and writes the new one.
--
-- Admission. Each checkout's conditional update makes a new version of the
-- variant's row, so without turns a crowd on one hot variant raced for each
-- new version: the waiters woke at every commit and queued again behind
-- newcomers, a few waited many times longer than the rest, and the herd cost
-- CPU on every commit. Now the checkouts of one variant are let in in the
-- order they came, at most settings.checkout_slots_per_variant at a time:
-- one first-come-first-served line (a session-level advisory lock, left as
-- soon as the turn comes), then one of a few slots (a transaction-level
-- advisory lock per (variant, slot)). The turns only order the checkouts;
-- the row locks still decide who gets the units. Measured against the
-- alternatives in the performance notes ("Taking turns").

-- ---------------------------------------------------------------------------
-- Tables

create sequence checkout.admission_tickets as bigint cycle;
comment on sequence checkout.admission_tickets is
  'Hands out begin_checkout''s admission slots in turn (private.wait_checkout_turn: ticket mod checkout_slots_per_variant).';

-- ---------------------------------------------------------------------------
-- Routines: the steps (executed only inside begin_checkout, as its owner)

create function private.wait_checkout_turn(p_variant_id uuid, p_slots integer, p_units integer)
returns integer
language plpgsql set search_path = ''
as $$
declare
  k integer := hashtext(p_variant_id::text);
  ticket bigint;
  slot integer;
  caller_timeout text := current_setting('lock_timeout');
  gives_up_at timestamptz := clock_timestamp() + nullif(caller_timeout, '0')::interval;
begin
  -- The line: one first-come-first-served queue per variant, a session-level
  -- advisory lock (keys k, -1) so that it can be left as soon as a slot is
  -- held. It is left on every way out of this block, errors and
  -- cancellations included: the only way a session-level lock could outlive
  -- the call (and stay on a pooled connection).
  perform pg_advisory_lock(k, -1);
  begin
    -- Sold out while in line (p_units given: the variant may sell out). A
    -- checkout waiting in the line cannot read anything, so the line's head
    -- reads the committed stock afresh (a new snapshot, no lock) when its
    -- turn comes and again every 20 ms while it waits for a slot; fewer free
    -- units than it asks for, and it leaves the line at once (returns null)
    -- to hear "sold out" from the snapshot. The next in line then does the
    -- same, so the line drains in a moment instead of each waiting behind
    -- the buyers for units that are gone.
    if p_units is not null and private.is_short_now(p_variant_id, p_units) then
      perform pg_advisory_unlock(k, -1);
      return null;
    end if;
    ticket := nextval('checkout.admission_tickets');
    -- A free slot at once; else the slot handed out p_slots tickets ago,
    -- whose holder came in before the others and should leave first.
    for i in 0 .. p_slots - 1 loop
      if pg_try_advisory_xact_lock(k, ((ticket + i) % p_slots)::integer) then
        perform pg_advisory_unlock(k, -1);
        return ((ticket + i) % p_slots)::integer;
      end if;
    end loop;
    slot := (ticket % p_slots)::integer;
    if p_units is null then
      perform pg_advisory_xact_lock(k, slot);
    else
      -- In 20 ms spells (a transaction-level lock: one granted as a spell
      -- ends is released with the transaction); the caller's lock_timeout
      -- still bounds the whole wait.
      loop
        begin
          perform set_config('lock_timeout', '20ms', true);
          perform pg_advisory_xact_lock(k, slot);
          perform set_config('lock_timeout', caller_timeout, true);
          exit;
        exception when lock_not_available then
          if private.is_short_now(p_variant_id, p_units) then
            perform pg_advisory_unlock(k, -1);
            return null;
          end if;
          if clock_timestamp() >= gives_up_at then
            raise exception 'canceling statement due to lock timeout' using errcode = 'lock_not_available';
          end if;
        end;
      end loop;
    end if;
  exception when others or query_canceled then
    perform pg_advisory_unlock(k, -1);
    raise;
  end;
  perform pg_advisory_unlock(k, -1);
  return slot;
end
$$;
comment on function private.wait_checkout_turn(uuid, integer, integer) is
  'begin_checkout''s turn for one variant: waits in the variant''s first-come-first-served line (advisory lock hashtext(id), -1, session-level, left before returning or on any error), then holds one of p_slots slots (advisory lock hashtext(id), slot, until the transaction ends); returns the slot. With p_units (the variant may sell out meanwhile), the line''s head reads the committed stock when its turn comes and every 20 ms while it waits for a slot, and returns null, leaving the line, as soon as fewer than p_units are free (sold out while in line); the caller''s lock_timeout still bounds the wait.';

create function private.is_short_now(p_variant_id uuid, p_units integer)
returns boolean
language plpgsql volatile set search_path = ''
as $$
begin
  -- Volatile: a new snapshot at each call, so a waiter sees what committed while it waited.
  return (select v.stock_on_hand - v.reserved < p_units from public.variants v where v.id = p_variant_id);
end
$$;
comment on function private.is_short_now(uuid, integer) is
  'private.wait_checkout_turn''s read: whether the variant has, committed now, fewer than p_units units free (on hand less every counted reservation), read without a lock.';

create function private.checkout_admission(p_session_id uuid, p_slots integer)
returns uuid[]
language plpgsql set search_path = ''
as $$
declare
  all_fit boolean;
  admit uuid[];
  units integer[];
  turn record;
  crowd bigint := current_setting('max_connections')::bigint * (private.current_settings()).max_units_per_variant;
begin
  -- Turns are taken in variant id order, before any other lock, for at most
  -- 8 variants of the cart (those with the fewest units left), so that a
  -- long cart cannot fill the lock table. A cart that already looks short
  -- (on hand less every counted reservation) does not wait: the snapshot
  -- answers "sold out" at once.
  -- A variant with fewer free units than every connection could ask for
  -- (max_connections x max_units_per_variant) may sell out while this
  -- checkout waits in its line: there it waits in spells and stops as soon
  -- as the units are gone (wait_checkout_turn returns null), and the
  -- snapshot answers "sold out".
  select bool_and(x.fits), (array_agg(x.variant_id order by x.free, x.variant_id))[1:8],
         (array_agg(case when x.free < crowd then x.units end order by x.free, x.variant_id))[1:8]
    into all_fit, admit, units
    from (select ci.variant_id, v.stock_on_hand - v.reserved as free, sum(ci.quantity)::integer as units,
                 v.stock_on_hand - v.reserved >= sum(ci.quantity) as fits
            from public.cart_items ci
            join public.variants v on v.id = ci.variant_id
           where ci.session_id = p_session_id
           group by ci.variant_id, v.stock_on_hand, v.reserved) x;
  if not coalesce(all_fit, false) then
    return '{}';
  end if;
  for turn in select t.variant_id, t.units from unnest(admit, units) t(variant_id, units) order by t.variant_id loop
    if private.wait_checkout_turn(turn.variant_id, p_slots, turn.units) is null then
      return '{}';
    end if;
  end loop;
  return array(select unnest(admit) order by 1);
end
$$;
comment on function private.checkout_admission(uuid, integer) is
  'begin_checkout, step 1: waits the checkout''s turn (private.wait_checkout_turn, p_slots at a time) for at most 8 variants of the shopper''s cart, those with the fewest units left, in variant id order; returns them. A cart that looks short, or is empty, waits for nothing (returns {}); one that runs short while it waits stops waiting (returns {}, holding the turns it already has).';

create function private.raise_not_enough_stock(p_short jsonb)
returns void
language plpgsql set search_path = ''
as $$
begin
  raise exception 'not enough stock: %', (
    select string_agg(format('%s (requested %s, available %s)', e ->> 'sku', e ->> 'requested', e ->> 'available'), ', ' order by e ->> 'sku')
      from jsonb_array_elements(p_short) e)
    using errcode = 'CKS01', detail = jsonb_build_object('short', p_short)::text;
end
$$;
comment on function private.raise_not_enough_stock(jsonb) is
  'begin_checkout''s CKS01: "not enough stock" naming each short line, with detail {"short": [...]} (lines as private.short_lines builds them).';

create function private.checkout_snapshot(
  p_session_id uuid,
  p_freed uuid[],
  p_store_currency text default null,
  out lines jsonb,
  out variant_ids uuid[],
  out currency text,
  out subtotal numeric,
  out item_count integer
)
language plpgsql
stable
set search_path = ''
as $$
declare
  snapshot jsonb;
  ids uuid[];
  currencies integer;
  cur text;
  v_subtotal numeric(12, 2);
  v_items integer;
  all_free boolean;
  short jsonb;
  store_currency text := coalesce(p_store_currency, (private.current_settings()).currency);
begin
  -- The lines, summed per variant, at the prices read now.
  with items as (
    select ci.variant_id, sum(ci.quantity)::integer as quantity
      from public.cart_items ci
     where ci.session_id = p_session_id
     group by ci.variant_id
  ), priced as (
    select i.variant_id, i.quantity, v.sku, p.title || ' - ' || v.title as title, v.price, v.currency,
           v.active and p.active and v.stock_on_hand - v.reserved >= i.quantity as surely_free
      from items i
      join public.variants v on v.id = i.variant_id
      join public.products p on p.id = v.product_id
  )
  select jsonb_agg(jsonb_build_object(
           'variant_id', variant_id, 'sku', sku, 'title', title, 'unit_price', price,
           'quantity', quantity, 'line_total', price * quantity) order by sku),
         array_agg(variant_id order by variant_id),
         count(distinct priced.currency), min(priced.currency), sum(price * quantity), sum(quantity), bool_and(surely_free)
    into snapshot, ids, currencies, cur, v_subtotal, v_items, all_free
    from priced;

  if ids is null then
    raise exception 'the cart is empty' using errcode = 'CKC01';
  end if;
  if currencies > 1 then
    raise exception 'the cart mixes currencies' using errcode = 'CKM01';
  end if;
  if cur <> store_currency then
    raise exception 'the cart is priced in % but the store sells in %', cur, store_currency
      using errcode = 'CKM03', detail = jsonb_build_object('currency', cur, 'store_currency', store_currency)::text;
  end if;

  -- Sold out? Read without any lock (the units of the shopper's own active
  -- session, p_freed, count as free): a shopper who cannot have the units is
  -- answered at once instead of queueing behind the buyers for the variant's
  -- lock. The check under the lock (private.checkout_reserve) is the one
  -- that counts. On hand less every reservation counted is a lower bound of
  -- what is free, so the full rule runs only when a line looks short by it.
  short := case when all_free then '[]'::jsonb else private.short_lines(snapshot, p_freed => p_freed, p_for_sale => true) end;
  if jsonb_array_length(short) > 0 then
    perform private.raise_not_enough_stock(short);
  end if;

  lines := snapshot;
  variant_ids := ids;
  currency := cur;
  subtotal := v_subtotal;
  item_count := v_items;
end
$$;
comment on function private.checkout_snapshot(uuid, uuid[], text) is
  'begin_checkout, step 2: the shopper''s cart lines summed per variant at the prices read now (lines [{variant_id, sku, title, unit_price, quantity, line_total}] by sku, variant_ids by id, currency, subtotal, item_count). CKC01 empty cart, CKM01 mixed currencies, CKM03 a currency other than the store''s (p_store_currency, the caller''s read of private.settings.currency, or read here when null), CKS01 (private.raise_not_enough_stock) when a line cannot be had now, read without a lock; p_freed''s units (the sessions being replaced) count as free.';

create function private.checkout_coupon(
  p_code text,
  p_subtotal numeric,
  p_currency text,
  p_replaced uuid[],
  out coupon_id uuid,
  out coupon_code text,
  out discount numeric
)
language plpgsql
set search_path = ''
as $$
declare
  v_code text := upper(nullif(btrim(p_code), ''));
  c checkout.coupons;
  v_discount numeric(12, 2) := 0;
begin
  -- The coupon, locked so that concurrent checkouts count its holders one at
  -- a time (the sessions being replaced do not count); the rule itself lives
  -- in private.apply_coupon_rule, which the cart's coupon preview applies too.
  if v_code is not null then
    select * into c from checkout.coupons where coupons.code = v_code for update;
    v_discount := private.apply_coupon_rule(
      c, v_code, p_subtotal, p_currency,
      case when c.id is null or c.max_redemptions is null then 0 else private.coupon_holders(c.id, p_replaced) end);
  end if;
  coupon_id := c.id;
  coupon_code := case when c.id is null then null else v_code end;
  discount := v_discount;
end
$$;
comment on function private.checkout_coupon(text, numeric, text, uuid[]) is
  'begin_checkout, step 3: the coupon a code names (trimmed, upper case), locked, and the discount it gives the subtotal (private.apply_coupon_rule: CKP01 unknown, CKP02 not applicable, CKP03 used up, the p_replaced sessions not counted as holders). No code: no coupon, discount 0.';

create function private.checkout_reserve(p_order_session_id uuid, p_lines jsonb, p_expires_at timestamptz)
returns void
language plpgsql set search_path = ''
as $$
declare
  line record;
  line_short jsonb;
  short jsonb := '[]';
begin
  -- Per variant, by id (so that concurrent checkouts cannot deadlock), one
  -- conditional update that locks the row, checks and counts at once. A line
  -- it refuses is looked at again with the full rule (reservations expired
  -- but not yet released are free; not for sale), under the lock if it fits:
  -- every short line, or none. The update takes the row's FOR NO KEY UPDATE
  -- lock (other shoppers' cart inserts may still take their foreign-key
  -- share lock meanwhile).
  for line in
    select x.variant_id, x.sku, x.title, x.quantity
      from jsonb_to_recordset(p_lines) as x(variant_id uuid, sku text, title text, quantity integer)
     order by x.variant_id
  loop
    update public.variants v set reserved = v.reserved + line.quantity
     where v.id = line.variant_id and v.active and v.stock_on_hand - v.reserved >= line.quantity;
    if not found then
      -- Short by the full rule without the lock: refused at once, without
      -- queueing a second time. Free by it: made sure of under the lock.
      line_short := private.short_lines(jsonb_build_array(to_jsonb(line)), p_for_sale => true);
      if jsonb_array_length(line_short) = 0 then
        perform 1 from public.variants v where v.id = line.variant_id for no key update;
        line_short := private.short_lines(jsonb_build_array(to_jsonb(line)), p_for_sale => true);
        if jsonb_array_length(line_short) = 0 then
          update public.variants v set reserved = v.reserved + line.quantity where v.id = line.variant_id;
        end if;
      end if;
      short := short || line_short;
    end if;
  end loop;
  if jsonb_array_length(short) > 0 then
    select jsonb_agg(e order by e ->> 'sku') into short from jsonb_array_elements(short) e;
    perform private.raise_not_enough_stock(short);
  end if;

  -- The reservation rows, already counted above: the counter trigger
  -- (private.count_reservations) leaves this session's rows alone. Their
  -- foreign-key check finds the variants locked by this transaction, so it
  -- waits for nobody.
  perform set_config('checkout.reserving_session', p_order_session_id::text, true);
  insert into checkout.stock_reservations (order_session_id, variant_id, quantity, expires_at)
  select p_order_session_id, x.variant_id, x.quantity, p_expires_at
    from jsonb_to_recordset(p_lines) as x(variant_id uuid, quantity integer);
  perform set_config('checkout.reserving_session', '', true);
end
$$;
comment on function private.checkout_reserve(uuid, jsonb, timestamptz) is
  'begin_checkout, step 4, the hot part, last: reserves the lines ([{variant_id, sku, title, quantity}]) for an order session until p_expires_at. Per variant by id, one conditional update that locks, checks and counts variants.reserved; then the reservation rows (the counter trigger leaves them to it). CKS01 (private.raise_not_enough_stock) when any line is short under the lock: nothing is reserved.';

create function checkout.begin_checkout(
  p_session_id uuid,
  p_payer jsonb,
  p_shipping_address jsonb,
  p_coupon_code text default null
)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  -- The settings, read once and passed to the steps that need them.
  cfg private.settings := (select st from private.settings st where st.id);
  cart_created_at timestamptz;
  prev_id uuid;
  prev_ids uuid[];
  v_group uuid;
  snap record;
  v_coupon_id uuid;
  v_coupon_code text;
  v_discount numeric := 0;
  v_expires_at timestamptz;
  s public.order_sessions;
  v_result jsonb;
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

  -- Locks, always in this order everywhere: the admission line and slots
  -- (only begin_checkout takes them), the shopper's cart, order sessions, the
  -- coupon, then variants by id. The variant locks serialise checkouts of a
  -- hot product, so everything that can be done before them is: they are
  -- taken last, by the update that checks and counts, and held only for
  -- that and the reservation rows.

  -- 1. Admission: this checkout's turn for its variants.
  perform private.checkout_admission(p_session_id, cfg.checkout_slots_per_variant);

  -- One checkout at a time per shopper: lock the cart.
  select c.created_at into cart_created_at from public.carts c where c.session_id = p_session_id for update;
  if not found then
    raise exception 'the cart is empty' using errcode = 'CKC01';
  end if;

  -- A shopper has at most one active order session: the previous one is
  -- cancelled and its stock released before this one reserves. The new
  -- session joins its checkout group (04_order_sessions.sql).
  select coalesce(array_agg(id order by id), '{}'), min(checkout_group::text)::uuid into prev_ids, v_group
    from (select id, checkout_group from public.order_sessions
           where session_id = p_session_id and status = 'active'
           order by id
             for update) prev;

  -- 2. The snapshot; "sold out" answered here, before any variant lock.
  snap := private.checkout_snapshot(p_session_id, prev_ids, cfg.currency);

  -- 3. The coupon, when a code was given.
  if nullif(btrim(p_coupon_code), '') is not null then
    select c.coupon_id, c.coupon_code, c.discount into v_coupon_id, v_coupon_code, v_discount
      from private.checkout_coupon(p_coupon_code, snap.subtotal, snap.currency, prev_ids) c;
  end if;

  -- Cancel the previous session. Its release updates its variants, so they
  -- are locked with the cart's, by id, first.
  if cardinality(prev_ids) > 0 then
    perform 1 from public.variants v
     where v.id = any (snap.variant_ids)
        or v.id in (select r.variant_id from checkout.stock_reservations r where r.order_session_id = any (prev_ids))
     order by v.id
       for update;
    foreach prev_id in array prev_ids loop
      perform private.close_order_session(prev_id, 'cancelled', 'replaced by a new checkout');
    end loop;
  end if;

  -- The fair-stock caps (CKH01-03), and the expiry: a checkout replacing a
  -- hold that is still running keeps that hold's expiry (08_fair_stock.sql).
  v_expires_at := private.checkout_fair_hold(p_session_id, snap.lines, snap.item_count, now() + cfg.reservation_ttl, cfg);

  -- The order session and its event (written before the variant locks, to
  -- hold those briefly; an error below rolls them back). begin_checkout is
  -- the only writer of order sessions, so what triggers would do per row is
  -- done here, once, from what this routine already knows: the fair-stock
  -- caps above, the checkout group (an account that merged an anonymous
  -- checkout in progress joins its group: private.merged_checkout_group,
  -- 09_accounts_and_merge.sql) and the cart's analytics fact below.
  -- The client address's key comes from checkout.begin_client_checkout
  -- (a transaction-local setting): the row is written once, with it.
  insert into public.order_sessions (
    session_id, lines, item_count, subtotal, discount, total, currency,
    coupon_id, coupon_code, payer, shipping_address, expires_at, checkout_group, client_address
  ) values (
    p_session_id, snap.lines, snap.item_count, snap.subtotal, v_discount, snap.subtotal - v_discount, snap.currency,
    v_coupon_id, v_coupon_code, p_payer, p_shipping_address, v_expires_at,
    coalesce(private.merged_checkout_group(p_session_id), v_group, gen_random_uuid()),
    nullif(current_setting('checkout.client_address', true), '')
  )
  returning * into s;
  -- One event: what was created and what it reserves.
  insert into checkout.order_session_events (order_session_id, kind, detail) values
    (s.id, 'created', jsonb_build_object(
       'total', s.total, 'currency', s.currency, 'coupon', s.coupon_code, 'replaces', to_jsonb(prev_ids),
       'lines', (select jsonb_agg(jsonb_build_object('sku', x.sku, 'quantity', x.quantity))
                   from jsonb_to_recordset(snap.lines) as x(sku text, quantity integer)),
       'expires_at', s.expires_at));
  -- The cart's first checkout stamps its analytics fact (10_analytics.sql),
  -- found by its key: the cart is locked above.
  update analytics.cart_facts f set checkout_at = now()
   where f.session_id = p_session_id and f.created_at = cart_created_at and f.checkout_at is null;

  v_result := private.order_session_json(s);

  -- 4. The reservation, last.
  perform private.checkout_reserve(s.id, snap.lines, s.expires_at);

  return v_result;
end
$$;
comment on function checkout.begin_checkout(uuid, jsonb, jsonb, text) is
  'Service role only. Turns a shopper''s cart into an order session with its stock reserved for reservation_ttl, in steps: waits its turn for each variant (private.checkout_admission: first come first served, checkout_slots_per_variant at a time; a cart that looks short does not wait), locks the cart, snapshots the lines at the prices read now and answers "sold out" before any variant lock (private.checkout_snapshot), applies the coupon (private.checkout_coupon), cancels the previous active session (the new one joins its checkout_group, or a merged account''s: private.merged_checkout_group), applies the fair-stock caps and keeps a replaced running hold''s expiry (private.checkout_fair_hold), writes the order session with one created event (its lines and expiry) and stamps the cart''s analytics fact (checkout_at), then reserves: per variant by id one conditional update that locks, checks and counts, and the reservation rows (private.checkout_reserve). The session records the client address key that checkout.begin_client_checkout passes in the transaction-local setting checkout.client_address (none when unset). Errors (nothing written): CKI01 bad input, CKC01 empty cart, CKS01 not enough stock (detail {"short": [...]}, built by private.short_lines), CKM01 mixed currencies, CKP01/02/03 coupon unknown, not applicable, used up, CKH01/02/03 over a fair-stock cap.';
grant execute on function checkout.begin_checkout(uuid, jsonb, jsonb, text) to service_role;

create function checkout.attach_preference(p_order_session_id uuid, p_preference_id text)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  s public.order_sessions;
begin
  if p_preference_id is null or btrim(p_preference_id) = '' then
    raise exception 'preference id is required' using errcode = 'CKI01';
  end if;
  select * into s from public.order_sessions where id = p_order_session_id for update;
  if not found then
    raise exception 'unknown order session %', p_order_session_id using errcode = 'CKO01';
  end if;
  if s.preference_id = p_preference_id then
    return private.order_session_json(s);
  end if;
  if s.preference_id is not null then
    raise exception 'order session % already has preference %', s.id, s.preference_id using errcode = 'CKO02';
  end if;
  if s.status <> 'active' then
    raise exception 'order session % is %', s.id, s.status using errcode = 'CKO02';
  end if;
  update public.order_sessions set preference_id = p_preference_id where id = s.id returning * into s;
  perform private.log_event(s.id, 'preference_attached', jsonb_build_object('preference_id', p_preference_id));
  return private.order_session_json(s);
end
$$;
comment on function checkout.attach_preference(uuid, text) is
  'Service role only. Records the MercadoPago preference created for an active order session (idempotent for the same id). CKO01 unknown session, CKO02 not active or another preference.';
grant execute on function checkout.attach_preference(uuid, text) to service_role;

create function checkout.release_session(
  p_order_session_id uuid,
  p_reason text default 'released'
)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  s public.order_sessions;
begin
  select * into s from public.order_sessions where id = p_order_session_id for update;
  if not found then
    raise exception 'unknown order session %', p_order_session_id using errcode = 'CKO01';
  end if;
  if s.status = 'active' then
    perform private.close_order_session(s.id, 'cancelled', coalesce(p_reason, 'released'));
    select * into s from public.order_sessions where id = p_order_session_id;
  end if;
  return private.order_session_json(s);
end
$$;
comment on function checkout.release_session(uuid, text) is
  'Service role only. Cancels an active order session at once and frees its stock (used when the MercadoPago preference cannot be created). Idempotent.';
grant execute on function checkout.release_session(uuid, text) to service_role;

create function checkout.find_order_session(p_token text)
returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
begin
  return (
    select private.order_session_json(s) from public.order_sessions s where s.token = p_token
  );
end
$$;
comment on function checkout.find_order_session(text) is
  'Service role only. The order session with this token (MercadoPago external_reference), or NULL.';
grant execute on function checkout.find_order_session(text) to service_role;
