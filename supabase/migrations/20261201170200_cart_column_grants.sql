-- Column-level grants on the shopper's tables (dbdev's habit): a shopper may
-- write only the columns the cart routines write. Until now the table-wide
-- INSERT and UPDATE let any column be written and triggers undid or refused
-- what a shopper may not touch (the owner, the variant, the timestamps);
-- now PostgreSQL refuses those writes itself (42501), and the triggers stay
-- as the rule for the service role and as a second line.
--
--   carts:      insert (session_id)                       get_cart/add_to_cart create it
--               update (updated_at)                       touch_cart; expires_at slides by trigger
--   cart_items: insert (session_id, variant_id, quantity) add_to_cart, set_cart_item_quantity
--               update (quantity)                         their `on conflict do update set quantity`
revoke insert, update on public.carts from authenticated;
grant insert (session_id), update (updated_at) on public.carts to authenticated;
revoke insert, update on public.cart_items from authenticated;
grant insert (session_id, variant_id, quantity), update (quantity) on public.cart_items to authenticated;
