-- Baseline (issue 21): supabase/schemas/05_checkout.sql as declared when the
-- migration history was replaced. A later change edits that file and adds a
-- migration after this one.

-- Checkout.

-- ---------------------------------------------------------------------------
-- Tables

create sequence checkout.admission_tickets as bigint cycle;
comment on sequence checkout.admission_tickets is
  'Hands out begin_checkout''s admission slots in turn (private.wait_checkout_turn: ticket mod checkout_slots_per_variant).';

-- ---------------------------------------------------------------------------
-- Routines

create function private.wait_checkout_turn(p_variant_id uuid, p_slots integer)
returns integer
language plpgsql
set search_path = ''
as $$
declare
  k integer := hashtext(p_variant_id::text);
  ticket bigint;
begin
  -- The line: one first-come-first-served queue per variant, a session-level
  -- advisory lock (keys k, -1) so that it can be left as soon as a slot is
  -- held. It is left on every way out of this block, errors and
  -- cancellations included: the only way a session-level lock could outlive
  -- the call (and stay on a pooled connection).
  perform pg_advisory_lock(k, -1);
  begin
    ticket := nextval('checkout.admission_tickets');
    -- A free slot at once; else the slot handed out p_slots tickets ago,
    -- whose holder came in before the others and should leave first.
    for i in 0 .. p_slots - 1 loop
      if pg_try_advisory_xact_lock(k, ((ticket + i) % p_slots)::integer) then
        perform pg_advisory_unlock(k, -1);
        return ((ticket + i) % p_slots)::integer;
      end if;
    end loop;
    perform pg_advisory_xact_lock(k, (ticket % p_slots)::integer);
  exception when others or query_canceled then
    perform pg_advisory_unlock(k, -1);
    raise;
  end;
  perform pg_advisory_unlock(k, -1);
  return (ticket % p_slots)::integer;
end
$$;
comment on function private.wait_checkout_turn(uuid, integer) is
  'begin_checkout''s turn for one variant: waits in the variant''s first-come-first-served line (advisory lock hashtext(id), -1, session-level, left before returning or on any error), then holds one of p_slots slots (advisory lock hashtext(id), slot, until the transaction ends); returns the slot.';

create function checkout.begin_checkout(
  p_session_id uuid,
  p_payer jsonb,
  p_shipping_address jsonb,
  p_coupon_code text default null
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
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
  v_result jsonb;
  line record;
  line_short jsonb;
  all_free boolean;
  all_fit boolean;
  admit uuid[];
  slot_variant uuid;
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

  -- 0. Admission: the checkouts of one variant are let in in the order they
  --    came, at most cfg.checkout_slots_per_variant at a time
  --    (private.wait_checkout_turn). Without it a crowd on one hot variant
  --    raced for each new version of its row: the waiters woke at every
  --    commit and queued again behind newcomers, so a few waited many times
  --    longer than the rest, and the herd cost CPU on every commit. The
  --    turns only order the checkouts; the row locks below still decide
  --    who gets the units.
  --    * Taken in variant id order, before any other lock, for at most 8
  --      variants of the cart (those with the fewest units left), so that a
  --      long cart cannot fill the lock table.
  --    * A cart that already looks short (on hand less every counted
  --      reservation) does not wait: it hears "sold out" at once below.
  select bool_and(x.fits), array(select unnest((array_agg(x.variant_id order by x.free, x.variant_id))[1:8]) order by 1)
    into all_fit, admit
    from (select ci.variant_id, v.stock_on_hand - v.reserved as free,
                 v.stock_on_hand - v.reserved >= sum(ci.quantity) as fits
            from public.cart_items ci
            join public.variants v on v.id = ci.variant_id
           where ci.session_id = p_session_id
           group by ci.variant_id, v.stock_on_hand, v.reserved) x;
  if all_fit then
    foreach slot_variant in array admit loop
      perform private.wait_checkout_turn(slot_variant, cfg.checkout_slots_per_variant);
    end loop;
  end if;

  -- 1. One checkout at a time per shopper: lock the cart.
  perform 1 from public.carts where session_id = p_session_id for update;
  if not found then
    raise exception 'the cart is empty' using errcode = 'CKC01';
  end if;

  -- 2. A shopper has at most one active order session: the previous one is
  --    cancelled and its stock released before this one reserves. The new
  --    session joins its checkout group (see the header of 20261201120200_one_owner_per_rule.sql).
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
         count(distinct currency), min(currency), sum(price * quantity), sum(quantity), bool_and(surely_free)
    into snapshot, variant_ids, currencies, cur, v_subtotal, v_items, all_free
    from priced;

  if variant_ids is null then
    raise exception 'the cart is empty' using errcode = 'CKC01';
  end if;
  if currencies > 1 then
    raise exception 'the cart mixes currencies' using errcode = 'CKM01';
  end if;

  -- 3b. Sold out? Read without any lock (the units of the shopper's own
  --     active session count as free): a shopper who cannot have the units
  --     is answered at once instead of queueing behind the buyers for the
  --     variant's lock. The check under the lock below is the one that counts.
  --     On hand less every reservation counted is a lower bound of what is
  --     free, so the full rule runs only when a line looks short by it.
  short := case when all_free then '[]'::jsonb else private.short_lines(snapshot, p_freed => prev_ids, p_for_sale => true) end;
  if jsonb_array_length(short) > 0 then
    raise exception 'not enough stock: %', (
      select string_agg(format('%s (requested %s, available %s)', e ->> 'sku', e ->> 'requested', e ->> 'available'), ', ' order by e ->> 'sku')
        from jsonb_array_elements(short) e)
      using errcode = 'CKS01', detail = jsonb_build_object('short', short)::text;
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

  -- 6. The snapshot and its events (written before the variant locks, to
  --    hold those briefly; an error below rolls them back).
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

  v_result := private.order_session_json(s);

  -- 7. The hot part, last: per variant, by id (so that concurrent checkouts
  --    cannot deadlock), one conditional update that locks the row, checks
  --    and counts at once. A line it refuses is looked at again with the
  --    full rule (reservations expired but not yet released are free; not
  --    for sale), under the lock if it fits: every short line, or none. The update takes
  --    the row's FOR NO KEY UPDATE lock (other shoppers' cart inserts may
  --    still take their foreign-key share lock meanwhile).
  for line in
    select x.variant_id, x.sku, x.title, x.quantity
      from jsonb_to_recordset(snapshot) as x(variant_id uuid, sku text, title text, quantity integer)
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
    raise exception 'not enough stock: %', (
      select string_agg(format('%s (requested %s, available %s)', e ->> 'sku', e ->> 'requested', e ->> 'available'), ', ' order by e ->> 'sku')
        from jsonb_array_elements(short) e)
      using errcode = 'CKS01', detail = jsonb_build_object('short', short)::text;
  end if;

  -- 8. The reservation rows, already counted above: the counter trigger
  --    leaves this session's rows alone. Their foreign-key check finds the
  --    variants locked by this transaction, so it waits for nobody.
  perform set_config('checkout.reserving_session', s.id::text, true);
  insert into checkout.stock_reservations (order_session_id, variant_id, quantity, expires_at)
  select s.id, x.variant_id, x.quantity, s.expires_at
    from jsonb_to_recordset(snapshot) as x(variant_id uuid, quantity integer);
  perform set_config('checkout.reserving_session', '', true);

  return v_result;
end
$$;
comment on function checkout.begin_checkout(uuid, jsonb, jsonb, text) is
  'Service role only. Turns a shopper''s cart into an order session with its stock reserved for reservation_ttl: waits its turn for each variant (first come first served, checkout_slots_per_variant at a time: private.wait_checkout_turn; a cart that looks short does not wait), locks the cart, re-reads prices, answers "sold out" before any variant lock, applies the coupon, cancels the previous active session (the new one joins its checkout_group), snapshots, then per variant by id one conditional update that locks, checks and counts, and the reservation rows. Errors (nothing written): CKI01 bad input, CKC01 empty cart, CKS01 not enough stock (detail {"short": [...]}, built by private.short_lines), CKM01 mixed currencies, CKP01/02/03 coupon unknown, not applicable, used up.';
grant execute on function checkout.begin_checkout(uuid, jsonb, jsonb, text) to service_role;

create function checkout.attach_preference(p_order_session_id uuid, p_preference_id text)
returns jsonb
language plpgsql
security definer
set search_path = ''
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
language plpgsql
security definer
set search_path = ''
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
language plpgsql
stable
security definer
set search_path = ''
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
