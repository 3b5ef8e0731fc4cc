-- Accounts and merge: the cart follows the shopper. Sign-up needs nothing
-- here: converting an anonymous user keeps its id. When a shopper with an
-- anonymous cart logs in to an existing account (Supabase replaces the
-- anonymous user by the account's), checkout.merge_carts moves what the
-- anonymous user had into the account: cart lines (by the store's
-- cart_merge_strategy), order sessions and orders. The Edge Function
-- merge-cart proves both identities (the account's JWT and a fresh access
-- token of the anonymous user) and calls it as service_role.
--
-- Order sessions and orders change owner only here: their transition
-- triggers refuse a new session_id except under the transaction-local marker
-- checkout.owner_move naming exactly this move (04_order_sessions.sql,
-- 06_payments_and_orders.sql).

-- ---------------------------------------------------------------------------
-- Tables

create table checkout.cart_merges (
  anonymous_id uuid primary key,
  account_id uuid not null,
  strategy text not null,
  report jsonb,
  merged_at timestamptz not null default now(),
  constraint cart_merges_two_users check (anonymous_id <> account_id)
);
comment on table checkout.cart_merges is
  'One row per anonymous user merged into an account, with the report the merge returned: what makes a retry, or a concurrent second merge, return the same report and change nothing. Service role only.';

create index cart_merges_account_idx on checkout.cart_merges (account_id);

-- No policy: only the service role (which bypasses RLS) and the definer
-- routine below use it.
alter table checkout.cart_merges enable row level security;
grant select on checkout.cart_merges to service_role;

-- ---------------------------------------------------------------------------
-- Routines

create function private.merge_cart_lines(p_anonymous_id uuid, p_account_id uuid, p_strategy text)
returns jsonb
language plpgsql set search_path = ''
as $$
declare
  cfg private.settings := private.current_settings();
  -- A cart line's ceiling: max_line_quantity, and the fair-stock cap on what
  -- one shopper may hold of a product (max_units_per_variant).
  max_qty integer := least(cfg.max_line_quantity, cfg.max_units_per_variant);
  account_has_lines boolean;
  anonymous_has_lines boolean;
  account_currency text;
  changes jsonb := '[]'::jsonb;
  moved integer := 0;
  l record;
  room integer;
  take integer;
  reason text;
begin
  account_has_lines := exists (select 1 from public.cart_items where session_id = p_account_id);
  anonymous_has_lines := exists (select 1 from public.cart_items where session_id = p_anonymous_id);

  if p_strategy = 'keep_account' and account_has_lines then
    -- The account's cart wins; every anonymous line is dropped.
    select coalesce(jsonb_agg(jsonb_build_object(
             'variant_id', ci.variant_id, 'sku', v.sku, 'title', p.title || ' - ' || v.title, 'from', 'anonymous',
             'requested', ci.quantity, 'quantity', 0, 'reason', 'kept_account_cart') order by v.sku), '[]'::jsonb)
      into changes
      from public.cart_items ci
      join public.variants v on v.id = ci.variant_id
      join public.products p on p.id = v.product_id
     where ci.session_id = p_anonymous_id;
    return jsonb_build_object('changes', changes, 'moved', 0);
  end if;

  if p_strategy = 'replace' and anonymous_has_lines and account_has_lines then
    -- The account's lines give way to the anonymous ones.
    select coalesce(jsonb_agg(jsonb_build_object(
             'variant_id', ci.variant_id, 'sku', v.sku, 'title', p.title || ' - ' || v.title, 'from', 'account',
             'requested', ci.quantity, 'quantity', 0, 'reason', 'replaced') order by v.sku), '[]'::jsonb)
      into changes
      from public.cart_items ci
      join public.variants v on v.id = ci.variant_id
      join public.products p on p.id = v.product_id
     where ci.session_id = p_account_id
       and not exists (select 1 from public.cart_items a where a.session_id = p_anonymous_id and a.variant_id = ci.variant_id);
    delete from public.cart_items where session_id = p_account_id;
  end if;

  -- merge (and keep_account into an empty cart, replace after clearing):
  -- each anonymous line adds what fits, in a fixed order.
  for l in
    select ci.variant_id, ci.quantity, v.sku, p.title || ' - ' || v.title as title, v.currency,
           v.active and p.active as for_sale, greatest(private.available_stock(v.id), 0) as available,
           coalesce(acc.quantity, 0) as account_quantity
      from public.cart_items ci
      join public.variants v on v.id = ci.variant_id
      join public.products p on p.id = v.product_id
      left join public.cart_items acc on acc.session_id = p_account_id and acc.variant_id = ci.variant_id
     where ci.session_id = p_anonymous_id
     order by ci.added_at, v.sku
  loop
    select min(v.currency) into account_currency
      from public.cart_items ci join public.variants v on v.id = ci.variant_id
     where ci.session_id = p_account_id;
    reason := null;
    take := 0;
    if not l.for_sale then
      reason := 'not_for_sale';
    elsif account_currency is not null and account_currency <> l.currency then
      reason := 'currency_mismatch';
    else
      room := greatest(least(max_qty, l.available) - l.account_quantity, 0);
      take := least(l.quantity, room);
      if take < l.quantity then
        reason := case when l.account_quantity + l.quantity > max_qty and max_qty <= l.available
                       then 'max_line_quantity' else 'insufficient_stock' end;
      end if;
      if take > 0 then
        insert into public.cart_items (session_id, variant_id, quantity)
        values (p_account_id, l.variant_id, take)
        on conflict (session_id, variant_id) do update set quantity = public.cart_items.quantity + excluded.quantity;
        moved := moved + 1;
      end if;
    end if;
    if reason is not null then
      changes := changes || jsonb_build_object(
        'variant_id', l.variant_id, 'sku', l.sku, 'title', l.title, 'from', 'anonymous',
        'requested', l.quantity, 'quantity', take, 'reason', reason,
        'available', l.available, 'max_line_quantity', max_qty, 'account_quantity', l.account_quantity);
    end if;
  end loop;
  return jsonb_build_object('changes', changes, 'moved', moved);
end
$$;
comment on function private.merge_cart_lines(uuid, uuid, text) is
  'Moves the anonymous cart''s lines into the account''s by a strategy (merge, keep_account, replace), each line capped at what is available and at the per-line ceiling (least of max_line_quantity and max_units_per_variant, reported as max_line_quantity); returns {changes: [every line capped or dropped, with its reason], moved}. Called by checkout.merge_carts, which holds both carts'' locks.';

create function private.merge_replay(p_done checkout.cart_merges, p_account_id uuid)
returns jsonb
language plpgsql stable set search_path = ''
as $$
begin
  if p_done.account_id <> p_account_id then
    raise exception 'the anonymous user % was already merged into another account', p_done.anonymous_id
      using errcode = 'CKU02', detail = jsonb_build_object('anonymous_id', p_done.anonymous_id)::text;
  end if;
  return p_done.report || jsonb_build_object('already_merged', true, 'cart', private.cart_json(p_account_id));
end
$$;
comment on function private.merge_replay(checkout.cart_merges, uuid) is
  'The answer to a merge that already happened: its report and the account''s cart now, or CKU02 when it went to another account. Called by checkout.merge_carts.';

create function checkout.merge_carts(p_anonymous_id uuid, p_account_id uuid)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  strategy text := (private.current_settings()).cart_merge_strategy;
  done checkout.cart_merges;
  claimed boolean;
  first_id uuid;
  second_id uuid;
  active_id uuid;
  cancelled_token text;
  lines jsonb;
  moved_sessions integer;
  moved_orders integer;
  v_report jsonb;
begin
  if p_anonymous_id is null or p_account_id is null then
    raise exception 'both users are required' using errcode = 'CKI01';
  end if;
  -- A retry after the merge returns its report (even once the anonymous
  -- user has been cleaned up).
  select * into done from checkout.cart_merges m where m.anonymous_id = p_anonymous_id;
  if found then
    return private.merge_replay(done, p_account_id);
  end if;
  if p_anonymous_id = p_account_id then
    raise exception 'cannot merge a user into itself' using errcode = 'CKU01',
      detail = jsonb_build_object('user_id', p_account_id)::text;
  end if;
  if not exists (select 1 from auth.users u where u.id = p_anonymous_id and u.is_anonymous) then
    raise exception 'user % is not an anonymous user', p_anonymous_id using errcode = 'CKU01',
      detail = jsonb_build_object('anonymous_id', p_anonymous_id)::text;
  end if;
  if not exists (select 1 from auth.users u where u.id = p_account_id and not u.is_anonymous) then
    raise exception 'user % is not a permanent account', p_account_id using errcode = 'CKU01',
      detail = jsonb_build_object('account_id', p_account_id)::text;
  end if;

  -- 1. Once per anonymous user. The primary key serialises concurrent
  --    merges of the same anonymous user: the second waits for the first
  --    and then returns its report.
  insert into checkout.cart_merges (anonymous_id, account_id, strategy)
  values (p_anonymous_id, p_account_id, strategy)
  on conflict (anonymous_id) do nothing;
  get diagnostics claimed = row_count;
  if not claimed then
    select * into done from checkout.cart_merges m where m.anonymous_id = p_anonymous_id;
    return private.merge_replay(done, p_account_id);
  end if;

  -- 2. Both carts, locked in id order (created if missing so that there is a
  --    row to lock), then, as everywhere, order sessions before variants.
  first_id := least(p_anonymous_id, p_account_id);
  second_id := greatest(p_anonymous_id, p_account_id);
  insert into public.carts (session_id) values (first_id) on conflict (session_id) do update set updated_at = now();
  insert into public.carts (session_id) values (second_id) on conflict (session_id) do update set updated_at = now();

  -- 3. The anonymous user's checkout in progress is cancelled and its stock
  --    released, through the one release routine.
  for active_id in
    select id from public.order_sessions where session_id = p_anonymous_id and status = 'active' order by id
  loop
    select (checkout.release_session(active_id, 'merged into an account') ->> 'token') into cancelled_token;
  end loop;

  -- 4. The lines.
  lines := private.merge_cart_lines(p_anonymous_id, p_account_id, strategy);
  delete from public.carts where session_id = p_anonymous_id;

  -- 5. Its order sessions and orders follow it (get_my_orders shows them).
  perform set_config('checkout.owner_move', p_anonymous_id::text || '>' || p_account_id::text, true);
  update public.order_sessions set session_id = p_account_id, updated_at = now() where session_id = p_anonymous_id;
  get diagnostics moved_sessions = row_count;
  update public.orders set session_id = p_account_id, updated_at = now() where session_id = p_anonymous_id;
  get diagnostics moved_orders = row_count;
  perform set_config('checkout.owner_move', '', true);

  v_report := jsonb_build_object(
    'anonymous_id', p_anonymous_id,
    'account_id', p_account_id,
    'strategy', strategy,
    'changes', lines -> 'changes',
    'lines_moved', (lines ->> 'moved')::integer,
    'cancelled_order_session', cancelled_token,
    'order_sessions_moved', moved_sessions,
    'orders_moved', moved_orders
  );
  update checkout.cart_merges m set report = v_report where m.anonymous_id = p_anonymous_id;
  return v_report || jsonb_build_object('already_merged', false, 'cart', private.cart_json(p_account_id));
end
$$;
comment on function checkout.merge_carts(uuid, uuid) is
  'Service role only (the merge-cart Edge Function, after verifying both tokens). Moves an anonymous user''s cart into a permanent account''s by the store''s cart_merge_strategy, cancels the anonymous checkout in progress (its stock released), and moves its order sessions and orders to the account; atomic and idempotent (a retry or a concurrent merge returns the same report with already_merged true). Returns {strategy, changes: [lines capped or dropped: variant_id, sku, title, from, requested, quantity, reason], lines_moved, cancelled_order_session, order_sessions_moved, orders_moved, already_merged, cart}. Errors: CKI01 bad input, CKU01 not an anonymous user and a distinct permanent account, CKU02 already merged into another account.';
grant execute on function checkout.merge_carts(uuid, uuid) to service_role;
