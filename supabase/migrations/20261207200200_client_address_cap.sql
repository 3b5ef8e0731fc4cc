-- Fair stock per client address. The caps of 20261201120000_fair_stock.sql
-- are per shopper, and a shopper is one anonymous sign-in: four anonymous
-- sessions from one address held all 86 units of the demo catalog for 15
-- minutes. The checkouts a client address has in progress (unpaid, not
-- expired) may now hold at most max_units_per_address units together; a
-- checkout that would go beyond is refused with CKH05 and writes nothing.
--
-- The address is what the gateway in front of the Edge Functions says
-- (create-preference reads it; README, "Abuse protection": which header, and
-- why a client cannot choose it). The database keeps no address: an order
-- session records a keyed hash of it (HMAC-SHA256 under a random secret of
-- this database, private.client_address_secret), enough to count the holds of
-- one address and useless for finding whose it was without that secret; it
-- goes with the session when old sessions are trimmed. An IPv6 address
-- counts by its /64 (what one subscriber is given), an IPv4-mapped IPv6
-- address as the IPv4 one.
--
-- checkout.begin_client_checkout is begin_checkout for a request from a
-- client (create-preference): begin_checkout, then, under a lock per address,
-- the count. Taken after begin_checkout's own locks, it is held only for the
-- count: concurrent checkouts from one address take turns there, and the
-- second one counts the first once it has committed. In the same transaction
-- it records the marketing box ticked at checkout
-- (email.request_marketing_opt_in, 20261207200100_marketing_consent.sql).

alter table private.settings
  add column max_units_per_address integer not null default 30
    check (max_units_per_address between 1 and 1000000);
comment on column private.settings.max_units_per_address is
  'Most units the unpaid checkouts in progress from one client address (an IPv6 /64) may hold together (CKH05 beyond it). Several shoppers behind one address (a mobile carrier''s NAT, an office) share it: raise it where that is common, and let CAPTCHA stop the bots.';

create table private.client_address_secret (
  only_row boolean primary key default true check (only_row),
  secret bytea not null default extensions.gen_random_bytes(32)
);
comment on table private.client_address_secret is
  'The key of the client address hashes in order_sessions.client_address (random, made once per database). Nobody but the migration owner reads it.';
insert into private.client_address_secret default values;
alter table private.client_address_secret enable row level security;
revoke all on table private.client_address_secret from public, anon, authenticated, service_role;

alter table public.order_sessions
  add column client_address text check (client_address ~ '^[0-9a-f]{64}$');
comment on column public.order_sessions.client_address is
  'HMAC-SHA256 of the client address the checkout came from (IPv6 by /64) under private.client_address_secret; never the address itself. Null when the caller''s address was not known (not through create-preference).';
create index order_sessions_client_address_idx on public.order_sessions (client_address) include (item_count, expires_at)
  where status = 'active' and client_address is not null;

create function private.client_address_key(p_address text)
returns text
language plpgsql
stable
set search_path = ''
as $$
declare
  a inet;
  counted text;
begin
  begin
    a := p_address::inet;
  exception when others then
    return null;
  end;
  if a is null or (family(a) = 4 and masklen(a) <> 32) or (family(a) = 6 and masklen(a) <> 128) then
    return null;
  end if;
  if family(a) = 6 and host(a) ~* '^::ffff:[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$' then
    a := substr(host(a), 8)::inet;
  end if;
  counted := host(a);
  if family(a) = 6 then
    counted := network(set_masklen(a, 64))::text;
  end if;
  return encode(extensions.hmac(convert_to(counted, 'UTF8'), (select s.secret from private.client_address_secret s), 'sha256'), 'hex');
end
$$;
revoke execute on function private.client_address_key(text) from public, anon, authenticated, service_role;
comment on function private.client_address_key(text) is
  'The key an address counts under: HMAC-SHA256 (hex) of the IPv4 address, or of the IPv6 /64, under private.client_address_secret; null for anything that is not one address.';

create function checkout.begin_client_checkout(
  p_session_id uuid,
  p_payer jsonb,
  p_shipping_address jsonb,
  p_coupon_code text,
  p_client_address text,
  p_marketing_opt_in boolean
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  cfg private.settings := private.current_settings();
  k text := private.client_address_key(p_client_address);
  r jsonb := checkout.begin_checkout(p_session_id, p_payer, p_shipping_address, p_coupon_code);
  s_id uuid := (r ->> 'id')::uuid;
  held integer;
  soonest timestamptz;
begin
  if p_marketing_opt_in then
    perform email.request_marketing_opt_in(p_payer ->> 'email', p_session_id, s_id);
  end if;
  if k is null then
    return r;
  end if;
  -- One address's checkouts count one at a time; each statement below reads
  -- afresh, so it sees every checkout from the address committed before it
  -- got the lock (a bigint key: never one of the admission's int4 pairs).
  perform pg_advisory_xact_lock(('x' || left(k, 16))::bit(64)::bigint);
  update public.order_sessions set client_address = k where id = s_id;
  select coalesce(sum(s.item_count), 0), min(s.expires_at) into held, soonest
    from public.order_sessions s
   where s.client_address = k and s.status = 'active' and s.expires_at > now() and s.id <> s_id;
  if held + (r ->> 'item_count')::integer > cfg.max_units_per_address then
    raise exception 'checkouts from this address already hold % units (at most %), this one asks for %',
      held, cfg.max_units_per_address, r ->> 'item_count'
      using errcode = 'CKH05',
            detail = jsonb_build_object(
              'max', cfg.max_units_per_address,
              'held', held,
              'requested', (r ->> 'item_count')::integer,
              'retry_after', soonest)::text;
  end if;
  return r;
end
$$;
comment on function checkout.begin_client_checkout(uuid, jsonb, jsonb, text, text, boolean) is
  'Service role only (create-preference). checkout.begin_checkout for a client request from p_client_address: the order session records the address''s key (private.client_address_key), and the unpaid, unexpired checkouts from that address may hold at most max_units_per_address units together; with p_marketing_opt_in, the payer''s email is asked to confirm the marketing box (email.request_marketing_opt_in). Errors: those of begin_checkout; CKH05 over the address''s cap (detail {"max", "held", "requested", "retry_after": when the soonest of its holds ends}; nothing written). An address that is not one (null, garbage) is not capped.';
revoke execute on function checkout.begin_client_checkout(uuid, jsonb, jsonb, text, text, boolean) from public, anon, authenticated;
grant execute on function checkout.begin_client_checkout(uuid, jsonb, jsonb, text, text, boolean) to service_role;
