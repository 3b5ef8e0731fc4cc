-- Demo catalog for local development (npm start, supabase start). Prices in
-- ARS; a few variants with low stock to try the out-of-stock paths.
-- Fixed ids so the demo and docs can refer to them; re-runnable.

insert into public.products (id, slug, title, description, image_url) values
  ('00000000-0000-4000-8000-000000000101', 'remera-basica', 'Remera básica', 'Remera de algodón peinado, corte recto.', null),
  ('00000000-0000-4000-8000-000000000102', 'buzo-canguro', 'Buzo canguro', 'Buzo de frisa con capucha y bolsillo canguro.', null),
  ('00000000-0000-4000-8000-000000000103', 'gorra-trucker', 'Gorra trucker', 'Gorra con red trasera y broche regulable.', null),
  ('00000000-0000-4000-8000-000000000104', 'mate-ceramica', 'Mate de cerámica', 'Mate esmaltado, hecho a mano. Edición limitada.', null)
on conflict (id) do nothing;

insert into public.variants (id, product_id, sku, title, attributes, price, currency, stock_on_hand, position) values
  ('00000000-0000-4000-8000-000000000201', '00000000-0000-4000-8000-000000000101', 'REM-NEG-S', 'Negra / S', '{"color": "negro", "talle": "S"}', 12999.00, 'ARS', 25, 1),
  ('00000000-0000-4000-8000-000000000202', '00000000-0000-4000-8000-000000000101', 'REM-NEG-M', 'Negra / M', '{"color": "negro", "talle": "M"}', 12999.00, 'ARS', 30, 2),
  ('00000000-0000-4000-8000-000000000203', '00000000-0000-4000-8000-000000000101', 'REM-BLA-M', 'Blanca / M', '{"color": "blanco", "talle": "M"}', 12999.00, 'ARS', 3, 3),
  ('00000000-0000-4000-8000-000000000204', '00000000-0000-4000-8000-000000000101', 'REM-BLA-L', 'Blanca / L', '{"color": "blanco", "talle": "L"}', 12999.00, 'ARS', 0, 4),
  ('00000000-0000-4000-8000-000000000205', '00000000-0000-4000-8000-000000000102', 'BUZ-GRI-M', 'Gris / M', '{"color": "gris", "talle": "M"}', 45500.00, 'ARS', 8, 1),
  ('00000000-0000-4000-8000-000000000206', '00000000-0000-4000-8000-000000000102', 'BUZ-GRI-L', 'Gris / L', '{"color": "gris", "talle": "L"}', 45500.00, 'ARS', 2, 2),
  ('00000000-0000-4000-8000-000000000207', '00000000-0000-4000-8000-000000000102', 'BUZ-VER-L', 'Verde / L', '{"color": "verde", "talle": "L"}', 47900.00, 'ARS', 5, 3),
  ('00000000-0000-4000-8000-000000000208', '00000000-0000-4000-8000-000000000103', 'GOR-AZU-U', 'Azul / Único', '{"color": "azul", "talle": "único"}', 15750.50, 'ARS', 12, 1),
  ('00000000-0000-4000-8000-000000000209', '00000000-0000-4000-8000-000000000104', 'MAT-TER-U', 'Terracota', '{"color": "terracota"}', 22000.00, 'ARS', 1, 1)
on conflict (id) do nothing;

insert into checkout.coupons (code, kind, value, currency, min_subtotal, max_redemptions) values
  ('BIENVENIDA10', 'percent', 10, null, 20000, null),
  ('ENVIO5000', 'fixed', 5000, 'ARS', 40000, 100)
on conflict (code) do nothing;
