-- Beginning a checkout: from the cart to an order session with its stock
-- reserved, in one transaction. Service role only (the create-preference
-- Edge Function passes the session id taken from a verified JWT).

create function private.order_session_json(s public.order_sessions)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', s.id,
    'session_id', s.session_id,
    'token', s.token,
    'status', s.status,
    'lines', s.lines,
    'item_count', s.item_count,
    'subtotal', s.subtotal,
    'discount', s.discount,
    'total', s.total,
    'currency', s.currency,
    'coupon_code', s.coupon_code,
    'payer', s.payer,
    'shipping_address', s.shipping_address,
    'preference_id', s.preference_id,
    'payment_id', s.payment_id,
    'expires_at', s.expires_at,
    'created_at', s.created_at,
    'paid_at', s.paid_at
  )
$$;
revoke execute on function private.order_session_json(public.order_sessions) from public, anon, authenticated;
comment on function private.order_session_json(public.order_sessions) is 'An order session as the JSON the checkout routines return.';
grant execute on function private.order_session_json(public.order_sessions) to service_role;

create function private.log_event(p_order_session_id uuid, p_kind text, p_detail jsonb default '{}'::jsonb, p_payment_id bigint default null)
returns void
language sql
set search_path = ''
as $$
  insert into public.order_session_events (order_session_id, kind, payment_id, detail)
  values (p_order_session_id, p_kind, p_payment_id, coalesce(p_detail, '{}'::jsonb));
$$;
revoke execute on function private.log_event(uuid, text, jsonb, bigint) from public, anon, authenticated;
comment on function private.log_event(uuid, text, jsonb, bigint) is 'Appends an event to an order session''s log. Called by the checkout routines.';
grant execute on function private.log_event(uuid, text, jsonb, bigint) to service_role;

create function private.close_order_session(p_order_session_id uuid, p_status public.order_session_status, p_reason text)
returns void
language plpgsql
set search_path = ''
as $$
begin
  update public.order_sessions
     set status = p_status, closed_at = now()
   where id = p_order_session_id;
  delete from public.stock_reservations where order_session_id = p_order_session_id;
  perform private.log_event(p_order_session_id, p_status::text, jsonb_build_object('reason', p_reason));
end
$$;
revoke execute on function private.close_order_session(uuid, public.order_session_status, text) from public, anon, authenticated;
comment on function private.close_order_session(uuid, public.order_session_status, text) is
  'Moves an active order session to expired or cancelled and releases its reservation. The caller holds the session''s row lock.';
grant execute on function private.close_order_session(uuid, public.order_session_status, text) to service_role;

create function private.coupon_holders(p_coupon_id uuid, p_except uuid[] default '{}')
returns integer
language sql
stable
set search_path = ''
as $$
  select count(*)::integer
    from public.order_sessions os
   where os.coupon_id = p_coupon_id
     and os.id <> all (p_except)
     and (os.status = 'paid' or (os.status = 'active' and os.expires_at > now()))
$$;
revoke execute on function private.coupon_holders(uuid, uuid[]) from public, anon, authenticated;
comment on function private.coupon_holders(uuid, uuid[]) is
  'How many order sessions hold a coupon: the paid ones and the active, unexpired ones (but those in p_except). Callers hold the coupon''s row lock.';

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
  c public.coupons;
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
  --    cancelled and its stock released before this one reserves.
  select coalesce(array_agg(id order by id), '{}') into prev_ids
    from (select id from public.order_sessions
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
           v.active and p.active as for_sale
      from items i
      join public.variants v on v.id = i.variant_id
      join public.products p on p.id = v.product_id
  )
  select jsonb_agg(jsonb_build_object(
           'variant_id', variant_id, 'sku', sku, 'title', title, 'unit_price', price,
           'quantity', quantity, 'line_total', price * quantity) order by sku),
         array_agg(variant_id order by variant_id),
         coalesce(jsonb_agg(jsonb_build_object(
           'variant_id', variant_id, 'sku', sku, 'title', title, 'requested', quantity, 'available', 0,
           'reason', 'not_for_sale') order by sku) filter (where not for_sale), '[]'::jsonb),
         count(distinct currency), min(currency), sum(price * quantity), sum(quantity)
    into snapshot, variant_ids, short, currencies, cur, v_subtotal, v_items
    from priced;

  if variant_ids is null then
    raise exception 'the cart is empty' using errcode = 'CKC01';
  end if;
  if currencies > 1 then
    raise exception 'the cart mixes currencies' using errcode = 'CKM01';
  end if;

  -- 4. The coupon, locked so that concurrent checkouts count its holders one
  --    at a time.
  if v_code is not null then
    select * into c from public.coupons where coupons.code = v_code for update;
    if not found or not c.active then
      raise exception 'unknown coupon %', v_code using errcode = 'CKP01', detail = jsonb_build_object('coupon', v_code)::text;
    end if;
    if (c.starts_at is not null and c.starts_at > now()) or (c.ends_at is not null and c.ends_at <= now()) then
      raise exception 'coupon % is not valid now', v_code
        using errcode = 'CKP02', detail = jsonb_build_object('coupon', v_code, 'starts_at', c.starts_at, 'ends_at', c.ends_at)::text;
    end if;
    if v_subtotal < c.min_subtotal then
      raise exception 'coupon % needs a subtotal of at least % %', v_code, c.min_subtotal, cur
        using errcode = 'CKP02', detail = jsonb_build_object('coupon', v_code, 'min_subtotal', c.min_subtotal, 'subtotal', v_subtotal)::text;
    end if;
    if c.kind = 'fixed' and c.currency <> cur then
      raise exception 'coupon % is in % but the cart is in %', v_code, c.currency, cur
        using errcode = 'CKP02', detail = jsonb_build_object('coupon', v_code, 'currency', c.currency)::text;
    end if;
    if c.max_redemptions is not null then
      if private.coupon_holders(c.id, prev_ids) >= c.max_redemptions then
        raise exception 'coupon % has been used up', v_code
          using errcode = 'CKP03', detail = jsonb_build_object('coupon', v_code, 'max_redemptions', c.max_redemptions)::text;
      end if;
    end if;
    v_discount := case c.kind when 'percent' then round(v_subtotal * c.value / 100, 2) else c.value end;
    if cur in ('CLP', 'COP') then
      -- MercadoPago charges these currencies in whole units.
      v_discount := round(v_discount);
    end if;
    if v_discount >= v_subtotal then
      raise exception 'coupon % would leave nothing to pay', v_code
        using errcode = 'CKP02', detail = jsonb_build_object('coupon', v_code, 'subtotal', v_subtotal)::text;
    end if;
  end if;

  -- 5. Cancel the previous session. Its release updates its variants, so
  --    they are locked with the cart's, by id, first.
  if cardinality(prev_ids) > 0 then
    perform 1 from public.variants v
     where v.id = any (variant_ids)
        or v.id in (select r.variant_id from public.stock_reservations r where r.order_session_id = any (prev_ids))
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
    coupon_id, coupon_code, payer, shipping_address, expires_at
  ) values (
    p_session_id, snapshot, v_items, v_subtotal, v_discount, v_subtotal - v_discount, cur,
    c.id, case when c.id is null then null else v_code end, p_payer, p_shipping_address, now() + cfg.reservation_ttl
  )
  returning * into s;
  insert into public.order_session_events (order_session_id, kind, detail) values
    (s.id, 'created', jsonb_build_object('total', s.total, 'currency', s.currency, 'coupon', s.coupon_code)),
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
  select coalesce(jsonb_agg(e order by e ->> 'sku'), '[]'::jsonb) into short
    from (
      select n as e from jsonb_array_elements(short) n
      union all
      select jsonb_build_object('variant_id', l.variant_id, 'sku', l.sku, 'title', l.title, 'requested', l.quantity,
                                'available', l.available, 'reason', 'insufficient_stock')
        from (select x.variant_id, x.sku, x.title, x.quantity, greatest(private.available_stock(x.variant_id), 0) as available
                from jsonb_to_recordset(snapshot) as x(variant_id uuid, sku text, title text, quantity integer)
               where not exists (select 1 from jsonb_array_elements(short) n where (n ->> 'variant_id')::uuid = x.variant_id)) l
       where l.quantity > l.available
    ) all_short;
  if jsonb_array_length(short) > 0 then
    raise exception 'not enough stock: %', (
      select string_agg(format('%s (requested %s, available %s)', e ->> 'sku', e ->> 'requested', e ->> 'available'), ', ' order by e ->> 'sku')
        from jsonb_array_elements(short) e)
      using errcode = 'CKS01', detail = jsonb_build_object('short', short)::text;
  end if;

  -- 8. Reserve.
  insert into public.stock_reservations (order_session_id, variant_id, quantity, expires_at)
  select s.id, x.variant_id, x.quantity, s.expires_at
    from jsonb_to_recordset(snapshot) as x(variant_id uuid, quantity integer);

  return private.order_session_json(s);
end
$$;
comment on function checkout.begin_checkout(uuid, jsonb, jsonb, text) is
  'Service role only. Turns a shopper''s cart into an order session with its stock reserved for reservation_ttl: locks the cart, cancels the previous active session, locks the variants by id, re-reads prices, applies the coupon, snapshots and reserves. Errors (nothing written): CKI01 bad input, CKC01 empty cart, CKS01 not enough stock (detail {"short": [...]}), CKM01 mixed currencies, CKP01/02/03 coupon unknown, not applicable, used up.';

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

create function checkout.release_session(p_order_session_id uuid, p_reason text default 'released')
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

create function checkout.find_order_session(p_token text)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select private.order_session_json(s) from public.order_sessions s where s.token = p_token
$$;
comment on function checkout.find_order_session(text) is 'Service role only. The order session with this token (MercadoPago external_reference), or NULL.';

revoke execute on all functions in schema checkout from public, anon, authenticated;
grant execute on function checkout.begin_checkout(uuid, jsonb, jsonb, text) to service_role;
grant execute on function checkout.attach_preference(uuid, text) to service_role;
grant execute on function checkout.release_session(uuid, text) to service_role;
grant execute on function checkout.find_order_session(text) to service_role;
